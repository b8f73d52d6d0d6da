"""A fixed audit log and set of exemptions for the HTML report's tests (unit and browser), with the numbers
the report must show for them.

Accounts A, B and C; 14 records make 10 decisions: three mutations with intent and outcome (one failed),
one intent that no outcome followed, six decisions that change nothing. One reason is a script tag and
one user name an image tag: the page must show them as text.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from org_bootstrap.review.report.html import ReportData
from remediator.audit import AuditRecord, Outcome, Phase, Trigger, new_record_id
from remediator.exemptions import Exemption
from remediator.policy import Mode, Thresholds

NOW = datetime(2026, 11, 28, 12, 0, tzinfo=UTC)
SINCE = NOW - timedelta(days=7)
A, B, C = "111111111111", "222222222222", "333333333333"
SCRIPT = "<script>alert(1)</script>"
IMAGE_USER = '<img src=x onerror="alert(2)">'
FAILURE = "AccessDenied: User is not authorized to perform: iam:UpdateAccessKey"

# (age, account, user, key, decision, phase, outcome, reason)
LOG = (
    (timedelta(hours=1), A, "alice", "AKIAALICE00000000001", "delete", "intent", "pending", "too old"),
    (timedelta(minutes=59), A, "alice", "AKIAALICE00000000001", "delete", "outcome", "done", "too old"),
    (timedelta(hours=2), A, "alice", "AKIAALICE00000000002", "none", "decision", "skipped", "within policy"),
    (timedelta(days=1), B, "bob", "AKIABOB0000000000001", "deactivate", "intent", "pending", "unused"),
    (
        timedelta(days=1, seconds=-2),
        B,
        "bob",
        "AKIABOB0000000000001",
        "deactivate",
        "outcome",
        "failed",
        "unused",
    ),
    (
        timedelta(days=1, hours=1),
        B,
        "carol",
        "AKIACAROL00000000001",
        "exempt",
        "decision",
        "skipped",
        "exempt",
    ),
    (timedelta(days=2), B, "dave", "AKIADAVE000000000001", "delete", "intent", "pending", "too old"),
    (timedelta(days=3), C, "erin", "AKIAERIN000000000001", "report", "decision", "skipped", SCRIPT),
    (
        timedelta(days=3, hours=2),
        C,
        "frank",
        "AKIAFRANK00000000001",
        "warn",
        "decision",
        "skipped",
        "due soon",
    ),
    (
        timedelta(days=5),
        A,
        IMAGE_USER,
        "AKIAODD0000000000001",
        "none",
        "decision",
        "skipped",
        "within policy",
    ),
    (
        timedelta(days=5, hours=1),
        C,
        "grace",
        "AKIAGRACE00000000001",
        "delete",
        "intent",
        "pending",
        "too old",
    ),
    (
        timedelta(days=5, minutes=59),
        C,
        "grace",
        "AKIAGRACE00000000001",
        "delete",
        "outcome",
        "done",
        "too old",
    ),
    (timedelta(days=6), C, "heidi", "AKIAHEIDI00000000001", "none", "decision", "skipped", "within policy"),
    (timedelta(days=6, hours=3), C, "ivan", None, "none", "decision", "skipped", "user has no access keys"),
)

ROWS = 11
"""Decisions: 14 records, less the 3 intents that an outcome closed."""
BY_DECISION = {"deactivate": 1, "delete": 3, "exempt": 1, "none": 4, "report": 1, "warn": 1}
BY_OUTCOME = {"pending": 1, "done": 2, "failed": 1, "skipped": 7, "abandoned": 0}
BY_RESULT = {"pending": 1, "done": 2, "failed": 1, "no action": 7, "already gone": 0, "abandoned": 0}
PER_ACCOUNT = {A: {"delete": 1, "none": 2}, B: {"deactivate": 1, "exempt": 1, "delete": 1}}
PER_ACCOUNT[C] = {"report": 1, "warn": 1, "delete": 1, "none": 2}
PER_DAY = {
    "2026-11-22": {"none": 2},
    "2026-11-23": {"none": 1, "delete": 1},
    "2026-11-25": {"report": 1, "warn": 1},
    "2026-11-26": {"delete": 1},
    "2026-11-27": {"deactivate": 1, "exempt": 1},
    "2026-11-28": {"delete": 1, "none": 1},
}
AXIS = [f"2026-11-{day}" for day in range(21, 29)]


def record(  # noqa: PLR0917
    age: timedelta,
    account: str,
    user: str,
    key: str | None,
    decision: str,
    phase: str,
    outcome: str,
    reason: str,
    *,
    now: datetime = NOW,
) -> AuditRecord:
    recorded_at = now - age
    return AuditRecord(
        record_id=new_record_id(recorded_at),
        account_id=account,
        user_name=user,
        user_id=f"AIDA{sum(user.encode()):016d}",
        access_key_id=key,
        rule="rotation" if decision in {"delete", "deactivate", "report", "warn"} else "",
        key_age_days=None if key is None else 100,
        last_used_at=None if key is None or decision == "deactivate" else recorded_at - timedelta(days=3),
        decision=decision,
        mode=Mode.DELETE,
        reason=reason,
        thresholds=Thresholds(),
        trigger=Trigger.SWEEP,
        role_session_name="akr-sweep",
        phase=Phase(phase),
        outcome=Outcome(outcome),
        error=FAILURE if outcome == "failed" else None,
        recorded_at=recorded_at,
    )


def records(now: datetime = NOW, accounts: tuple[str, str, str] = (A, B, C)) -> list[AuditRecord]:
    """The log at `now`, with the accounts A, B and C replaced by `accounts`."""
    renamed = dict(zip((A, B, C), accounts, strict=True))
    return [record(age, renamed[account], *rest, now=now) for age, account, *rest in LOG]


def exemptions(now: datetime = NOW) -> list[Exemption]:
    """In force: 3, of which 2 expire within 14 days (one exactly at 14 days); expired: 1."""
    return [
        Exemption(
            account_id=B,
            user_name="carol",
            reason="vendor <b>tool</b>",
            owner="ops",
            expires_at=now + timedelta(days=3),
        ),
        Exemption(
            account_id=A,
            user_name="*",
            reason="sandbox",
            owner="platform",
            expires_at=now + timedelta(days=60),
        ),
        Exemption(
            account_id=A,
            user_name="alice",
            access_key_id="AKIAALICE00000000002",
            reason="migration",
            owner="alice",
            expires_at=now + timedelta(days=14),
        ),
        Exemption(
            account_id=C, user_name="frank", reason="old", owner="ops", expires_at=now - timedelta(days=2)
        ),
    ]


def sample_report(now: datetime = NOW) -> ReportData:
    return ReportData(
        title="Audit report <test>",
        generated_at=now,
        since=now - timedelta(days=7),
        until=now,
        records=records(now),
        exemptions=exemptions(now),
    )
