"""The sweep over fakes: candidates from the credential report, the staged timeline walked with an
injected clock, warnings sent once per stage, findings, undo, and the worker's partial batch failures."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from remediator.credential_report import ROOT_ROW, CredentialReport, ReportKey, ReportRow
from remediator.errors import RemediatorError, TransientError
from remediator.facts import KeyFacts, UserFacts
from remediator.lifecycle import Stage
from remediator.policy import Mode, Policy
from remediator.service import Remediator
from remediator.undo import Undo, UndoRefusedError
from remediator.worker_handler import handle_batch
from tests.fakes import (
    FakeAccess,
    FakeMember,
    MemoryAuditLog,
    MemoryClaims,
    MemoryJournal,
    MemoryLifecycle,
    RecordingNotifier,
    StaticExemptions,
)

START = datetime(2026, 11, 28, 6, 0, tzinfo=UTC)
ACCOUNT = "222222222222"
OTHER = "333333333333"
GRACE = 14


def key(key_id: str, created: datetime, used: datetime | None = None, status: str = "Active") -> KeyFacts:
    return KeyFacts(access_key_id=key_id, status=status, created_at=created, last_used_at=used)


def report_of(member: FakeMember, generated_at: datetime, root_keys: int = 0) -> CredentialReport:
    """The credential report IAM would give for the fake's users."""
    rows = [
        ReportRow(
            user=user.user_name,
            arn=f"arn:aws:iam::{member.account_id}:user/{user.user_name}",
            keys=tuple(
                ReportKey(active=k.is_active, last_rotated=k.created_at, last_used=k.last_used_at)
                for k in user.keys
            ),
        )
        for user in member.users_by_name.values()
    ]
    root = ReportRow(
        user=ROOT_ROW,
        arn=f"arn:aws:iam::{member.account_id}:root",
        keys=tuple(ReportKey(active=i < root_keys, last_rotated=None, last_used=None) for i in range(2)),
    )
    return CredentialReport(generated_at=generated_at, rows=(root, *rows))


class Organization:
    def __init__(self, mode: Mode = Mode.STAGED, warn_days: int = 0) -> None:
        self.now = START
        self.members = {a: FakeMember(a) for a in (ACCOUNT, OTHER)}
        self.access = FakeAccess(dict(self.members))
        self.audit = MemoryAuditLog()
        self.lifecycle = MemoryLifecycle()
        self.claims = MemoryClaims(clock=lambda: self.now)
        self.notifier = RecordingNotifier()
        self.policy = Policy(mode=mode, grace_days=GRACE, warn_days_before=warn_days)
        self.remediator = Remediator(
            policy=self.policy,
            access=self.access,
            audit=self.audit,
            exemptions=StaticExemptions(),
            claims=self.claims,
            lifecycle=self.lifecycle,
            journal=MemoryJournal(self.audit, self.claims, self.lifecycle),
            clock=lambda: self.now,
            notifier=self.notifier,
        )

    def add(self, account: str, name: str, *keys: KeyFacts, tags: dict[str, str] | None = None) -> None:
        member = self.members[account]
        member.add(
            UserFacts(
                account_id=account,
                user_name=name,
                user_id=f"AIDA{name.upper():0<16}",
                keys=keys,
                tags=tags or {},
            )
        )

    def sweep(self, account: str = ACCOUNT, *, with_report: bool = True) -> dict[str, int]:
        member = self.members[account]
        member.report = report_of(member, self.now - timedelta(hours=2)) if with_report else None
        return self.remediator.sweep_account(
            account, region="eu-west-1", label=f"run-{self.now:%j}"
        ).summary()

    def status(self, name: str, account: str = ACCOUNT) -> dict[str, str]:
        return {k.access_key_id: k.status for k in self.members[account].users_by_name[name].keys}

    def notices(self) -> list[tuple[str | None, str, str]]:
        return [(r.access_key_id, r.decision, r.outcome) for batch in self.notifier.batches for r in batch]


def test_only_candidates_are_read_live() -> None:
    org = Organization(Mode.DELETE)
    org.add(
        ACCOUNT, "old", key("AKIAOLD0000000000001", START - timedelta(days=120), START - timedelta(days=1))
    )
    for i in range(20):
        org.add(ACCOUNT, f"fresh-{i}", key(f"AKIAFRESH{i:011d}", START - timedelta(days=10), START))
    summary = org.sweep()
    assert summary["deleted"] == 1
    assert org.members[ACCOUNT].calls.count("read_user") == 1
    assert org.status("old") == {}


def test_without_a_report_every_user_is_listed() -> None:
    org = Organization(Mode.DELETE)
    org.add(
        ACCOUNT, "old", key("AKIAOLD0000000000001", START - timedelta(days=120), START - timedelta(days=1))
    )
    org.add(ACCOUNT, "fresh", key("AKIAFRESH00000000001", START - timedelta(days=10), START))
    summary = org.sweep(with_report=False)
    assert summary["deleted"] == 1
    assert org.members[ACCOUNT].calls.count("read_user") == 2
    assert "users" in org.members[ACCOUNT].calls


def test_staged_timeline() -> None:
    org = Organization(Mode.STAGED)
    org.add(ACCOUNT, "batch", key("AKIABATCH0000000001", START - timedelta(days=100)))
    assert org.sweep()["deactivated"] == 1  # day 0
    assert org.status("batch") == {"AKIABATCH0000000001": "Inactive"}
    assert org.lifecycle.saved[(ACCOUNT, "AKIABATCH0000000001")].stage is Stage.DEACTIVATED

    org.now = START + timedelta(days=GRACE - 1)
    assert org.sweep()["deleted"] == 0
    assert org.status("batch") == {"AKIABATCH0000000001": "Inactive"}
    org.now = START + timedelta(days=GRACE)
    assert org.sweep()["deleted"] == 0, "exactly the grace period is not past it"
    org.now = START + timedelta(days=GRACE + 1)
    assert org.sweep()["deleted"] == 1
    assert org.status("batch") == {}
    lifecycle = org.lifecycle.saved[(ACCOUNT, "AKIABATCH0000000001")]
    assert (lifecycle.stage, lifecycle.deleted_at) == (Stage.DELETED, START + timedelta(days=GRACE + 1))
    assert org.notices() == [
        ("AKIABATCH0000000001", "deactivate", "done"),
        ("AKIABATCH0000000001", "delete", "done"),
    ]


def test_a_key_reactivated_in_between_is_not_deleted() -> None:
    org = Organization(Mode.STAGED)
    org.add(
        ACCOUNT, "ci", key("AKIACI00000000000001", START - timedelta(days=100), START - timedelta(days=1))
    )
    org.sweep()
    assert org.status("ci") == {"AKIACI00000000000001": "Inactive"}
    # Someone rotates it back on and uses it; a week later it is used, but still too old.
    org.members[ACCOUNT].reactivate_key("ci", "AKIACI00000000000001")
    org.now = START + timedelta(days=GRACE + 1)
    summary = org.sweep()
    assert summary["deleted"] == 0
    assert summary["deactivated"] == 1, "evaluated afresh: still too old, so deactivated again, not deleted"
    assert org.status("ci") == {"AKIACI00000000000001": "Inactive"}
    assert org.lifecycle.saved[(ACCOUNT, "AKIACI00000000000001")].deactivated_at == org.now


def test_warnings_are_sent_once_per_key_and_stage() -> None:
    org = Organization(Mode.DEACTIVATE, warn_days=7)
    created = START - timedelta(days=85)  # due at day 90: five days from now
    org.add(
        ACCOUNT, "soon", key("AKIASOON000000000001", created, START), tags={"owner": "team-a@example.com"}
    )
    assert org.sweep()["warned"] == 1
    org.now += timedelta(days=1)
    assert org.sweep()["warned"] == 1  # still recorded as a decision...
    (batch,) = org.notifier.batches  # ...but the owner was told once
    (notice,) = batch
    assert notice.access_key_id == "AKIASOON000000000001"
    assert notice.owner == "team-a@example.com"
    assert notice.due_at == created + timedelta(days=90)
    assert notice.planned_action == "deactivate"
    org.now = created + timedelta(days=91)
    assert org.sweep()["deactivated"] == 1
    assert [n[1] for n in org.notices()] == ["warn", "deactivate"]


def test_findings_are_reported_not_acted_on() -> None:
    org = Organization(Mode.DELETE)
    org.add(
        ACCOUNT,
        "two",
        key("AKIATWO0000000000001", START - timedelta(days=5), START),
        key("AKIATWO0000000000002", START - timedelta(days=6), START),
    )
    member = org.members[ACCOUNT]
    member.report = report_of(member, START, root_keys=1)
    result = org.remediator.sweep_account(ACCOUNT, region="eu-west-1", label="findings")
    findings = sorted((r.user_name, r.reason) for r in result.records if r.decision == "finding")
    assert findings == [
        (ROOT_ROW, "the root user has 1 active access key(s); only the root user can delete them (CIS 1.4)"),
        ("two", "several active access keys; CIS 1.13 allows one"),
    ]
    assert org.status("two") == {"AKIATWO0000000000001": "Active", "AKIATWO0000000000002": "Active"}


def undo_for(org: Organization) -> Undo:
    return Undo(
        policy=org.policy,
        access=org.access,
        lifecycle=org.lifecycle,
        journal=MemoryJournal(org.audit, org.claims, org.lifecycle),
        clock=lambda: org.now,
    )


def test_undo_within_the_grace_period() -> None:
    org = Organization(Mode.STAGED)
    org.add(ACCOUNT, "batch", key("AKIABATCH0000000001", START - timedelta(days=100)))
    org.sweep()
    org.now = START + timedelta(days=3)
    user = undo_for(org).reactivate(
        ACCOUNT,
        "AKIABATCH0000000001",
        operator="arn:aws:sts::111111111111:assumed-role/Admin/jo",
        region="eu-west-1",
    )
    assert user == "batch"
    assert org.status("batch") == {"AKIABATCH0000000001": "Active"}
    intent, outcome = org.audit.records[-2:]
    assert (intent.phase, outcome.phase, outcome.outcome) == ("intent", "outcome", "done")
    assert outcome.operator == "arn:aws:sts::111111111111:assumed-role/Admin/jo"
    assert outcome.trigger == "cli"
    assert org.lifecycle.saved[(ACCOUNT, "AKIABATCH0000000001")].stage is Stage.REACTIVATED


@pytest.mark.parametrize(
    ("days", "key_id", "message"),
    [
        (GRACE + 1, "AKIABATCH0000000001", "grace period ended on"),
        (1, "AKIANOTOURS00000001", "was not deactivated by this service"),
    ],
)
def test_undo_is_refused(days: int, key_id: str, message: str) -> None:
    org = Organization(Mode.STAGED)
    org.add(ACCOUNT, "batch", key("AKIABATCH0000000001", START - timedelta(days=100)))
    org.sweep()
    org.now = START + timedelta(days=days)
    with pytest.raises(UndoRefusedError, match=message):
        undo_for(org).reactivate(ACCOUNT, key_id, operator="jo", region="eu-west-1")
    assert org.status("batch") == {"AKIABATCH0000000001": "Inactive"}


def test_undo_of_a_key_deleted_meanwhile_is_refused() -> None:
    org = Organization(Mode.STAGED)
    org.add(ACCOUNT, "batch", key("AKIABATCH0000000001", START - timedelta(days=100)))
    org.sweep()
    org.members[ACCOUNT].delete_key("batch", "AKIABATCH0000000001")
    with pytest.raises(UndoRefusedError, match="no longer exists"):
        undo_for(org).reactivate(ACCOUNT, "AKIABATCH0000000001", operator="jo", region="eu-west-1")


def sqs_event(*bodies: str) -> dict[str, Any]:
    return {
        "Records": [
            {
                "messageId": f"m-{i}",
                "receiptHandle": f"r-{i}",
                "body": body,
                "attributes": {},
                "messageAttributes": {},
                "md5OfBody": "",
                "eventSource": "aws:sqs",
                "eventSourceARN": "arn:aws:sqs:eu-west-1:111111111111:akr-sweep",
                "awsRegion": "eu-west-1",
            }
            for i, body in enumerate(bodies)
        ]
    }


def test_worker_reports_only_the_failed_account() -> None:
    org = Organization(Mode.DELETE)
    org.add(OTHER, "old", key("AKIAOLD0000000000001", START - timedelta(days=120), START - timedelta(days=1)))
    org.members[OTHER].report = report_of(org.members[OTHER], START)
    org.access.denied.add(ACCOUNT)  # its member role is missing
    event = sqs_event(
        json.dumps({"account_id": ACCOUNT, "run_id": "r1"}),
        json.dumps({"account_id": OTHER, "run_id": "r1"}),
        "not json at all",
    )
    response = handle_batch(event, None, org.remediator, "eu-west-1")
    assert response == {"batchItemFailures": [{"itemIdentifier": "m-0"}]}
    assert org.status("old", OTHER) == {}


def test_keys_deactivated_before_staged_mode_are_not_deleted() -> None:
    org = Organization(Mode.DEACTIVATE)
    org.add(ACCOUNT, "batch", key("AKIABATCH0000000001", START - timedelta(days=100)))
    org.sweep()
    assert org.status("batch") == {"AKIABATCH0000000001": "Inactive"}
    # The team moves to staged mode later: keys deactivated in deactivate mode stay as they are.
    staged = Organization(Mode.STAGED)
    staged.members, staged.lifecycle = org.members, org.lifecycle
    staged.access.members.update(org.members)
    staged.remediator = Remediator(
        policy=staged.policy,
        access=staged.access,
        audit=staged.audit,
        exemptions=StaticExemptions(),
        claims=staged.claims,
        lifecycle=org.lifecycle,
        journal=MemoryJournal(staged.audit, staged.claims, org.lifecycle),
        clock=lambda: staged.now,
    )
    staged.now = START + timedelta(days=GRACE + 5)
    assert staged.sweep()["deleted"] == 0
    assert staged.status("batch") == {"AKIABATCH0000000001": "Inactive"}


def test_a_warning_that_could_not_be_sent_is_sent_again() -> None:
    org = Organization(Mode.DEACTIVATE, warn_days=7)
    org.add(ACCOUNT, "soon", key("AKIASOON000000000001", START - timedelta(days=85), START))
    org.notifier.fail = RemediatorError("sns:Publish: Throttling")
    org.sweep()
    org.notifier.fail = None
    org.now += timedelta(days=1)
    org.sweep()
    (batch,) = org.notifier.batches
    assert [(r.access_key_id, r.decision) for r in batch] == [("AKIASOON000000000001", "warn")]
    assert org.lifecycle.saved[(ACCOUNT, "AKIASOON000000000001")].stage is Stage.WARNED


def test_deactivated_keys_are_not_read_again_outside_staged_mode() -> None:
    org = Organization(Mode.DEACTIVATE)
    org.add(ACCOUNT, "batch", key("AKIABATCH0000000001", START - timedelta(days=100)))
    org.sweep()
    reads = org.members[ACCOUNT].calls.count("read_user")
    org.now += timedelta(days=1)
    org.sweep()
    assert org.members[ACCOUNT].calls.count("read_user") == reads, "nothing left to do for that key"


def test_a_sweep_message_delivered_twice_acts_once() -> None:
    # SQS may deliver a message twice. The first delivery claims the key and is cut short before it
    # finishes (throttled); the second, with the same run label, must not take the key over.
    org = Organization(Mode.DELETE)
    old = key("AKIAOLD0000000000001", START - timedelta(days=120), START - timedelta(days=1))
    org.add(ACCOUNT, "old", old)
    member = org.members[ACCOUNT]
    member.report = report_of(member, START)
    member.fail_on["delete_key"] = TransientError("iam:DeleteAccessKey: Throttling")
    with pytest.raises(TransientError):
        org.remediator.sweep_account(ACCOUNT, region="eu-west-1", label="sweep-r1")
    del member.fail_on["delete_key"]
    second = org.remediator.sweep_account(ACCOUNT, region="eu-west-1", label="sweep-r1")
    assert second.summary()["deleted"] == 0
    assert [r.reason.endswith("another run is acting on this key") for r in second.records] == [True]
    # Once the claim has lapsed (the queue's visibility timeout is longer), a retry does the work.
    org.now += timedelta(minutes=16)
    assert (
        org.remediator.sweep_account(ACCOUNT, region="eu-west-1", label="sweep-r1").summary()["deleted"] == 1
    )
