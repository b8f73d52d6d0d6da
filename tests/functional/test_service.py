"""The remediation service over in-memory fakes: ordering, failures, account runs, notifications."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from remediator.audit import Trigger
from remediator.deadline import Deadline
from remediator.errors import PermanentError, RemediatorError, TransientError
from remediator.events import ComplianceChangeEvent, parse_compliance_change
from remediator.exemptions import Exemption
from remediator.facts import KeyFacts, UserFacts
from remediator.policy import Mode, Policy
from remediator.run import RunResult
from remediator.service import Remediator
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
from tests.fixtures import load_event, retarget

NOW = datetime(2026, 11, 28, 12, 0, tzinfo=UTC)
ACCOUNT = "222222222222"


def key(key_id: str, age_days: int, used_days_ago: int | None = 1, status: str = "Active") -> KeyFacts:
    return KeyFacts(
        access_key_id=key_id,
        status=status,
        created_at=NOW - timedelta(days=age_days),
        last_used_at=None if used_days_ago is None else NOW - timedelta(days=used_days_ago),
    )


def user(name: str, *keys: KeyFacts, path: str = "/", tags: dict[str, str] | None = None) -> UserFacts:
    return UserFacts(
        account_id=ACCOUNT,
        user_name=name,
        user_id=f"AIDA{name.upper():0<16}",
        path=path,
        keys=keys,
        tags=tags or {},
    )


class World:
    def __init__(
        self,
        mode: Mode = Mode.DELETE,
        exemptions: list[Exemption] | None = None,
        policy: Policy | None = None,
        report_only: frozenset[str] = frozenset(),
    ) -> None:
        self.report_only = report_only
        self.member = FakeMember(ACCOUNT)
        self.access = FakeAccess({ACCOUNT: self.member})
        self.audit = MemoryAuditLog(journal=self.member.calls)
        self.exemptions = StaticExemptions(exemptions or [])
        self.claims = MemoryClaims()
        self.lifecycle = MemoryLifecycle()
        self.journal = MemoryJournal(self.audit, self.claims, self.lifecycle)
        self.notifier = RecordingNotifier()
        self.results: list[RunResult] = []
        self.remediator = self.build(policy or Policy(mode=mode))

    def build(self, policy: Policy, deadline: Deadline | None = None) -> Remediator:
        """A remediator on this world's stores: another deployment of the function (a changed mode)."""
        return Remediator(
            policy=policy,
            access=self.access,
            audit=self.audit,
            exemptions=self.exemptions,
            claims=self.claims,
            lifecycle=self.lifecycle,
            journal=self.journal,
            clock=lambda: NOW,
            notifier=self.notifier,
            on_result=self.results.append,
            deadline=deadline,
            report_only_accounts=self.report_only,
        )

    def event(self, facts: UserFacts) -> ComplianceChangeEvent:
        raw = load_event("config_noncompliant_rotated")
        retarget(raw, account_id=ACCOUNT, user_id=facts.user_id)
        return parse_compliance_change(raw, ["akr-"])

    def status(self, user_name: str) -> dict[str, str]:
        return {k.access_key_id: k.status for k in self.member.users_by_name[user_name].keys}


def test_intent_is_written_before_the_mutation_and_outcome_after() -> None:
    world = World(Mode.DEACTIVATE)
    alice = user("alice", key("AKIAOLD", 120), key("AKIANEW", 5))
    world.member.add(alice)
    world.remediator.remediate_event(world.event(alice))
    assert world.member.calls == [
        "resolve_user_name",
        "read_user",
        "audit:intent",
        "deactivate_key",
        "audit:outcome",
        "audit:decision",
    ]
    assert world.status("alice") == {"AKIAOLD": "Inactive", "AKIANEW": "Active"}


def test_no_mutation_when_the_intent_cannot_be_recorded() -> None:
    world = World(Mode.DELETE)
    alice = user("alice", key("AKIAOLD", 120))
    world.member.add(alice)
    world.audit.fail = TransientError(
        "dynamodb:PutItem into akr-audit: ProvisionedThroughputExceededException"
    )
    with pytest.raises(TransientError):
        world.remediator.remediate_event(world.event(alice))
    assert "delete_key" not in world.member.calls
    assert world.status("alice") == {"AKIAOLD": "Active"}


def test_permanent_failure_is_audited_and_the_next_key_still_handled() -> None:
    world = World(Mode.DELETE)
    alice = user("alice", key("AKIAONE", 120), key("AKIATWO", 130))
    world.member.add(alice)
    world.member.fail_on["delete_key"] = PermanentError("iam:DeleteAccessKey: AccessDenied: explicit deny")
    result = world.remediator.remediate_event(world.event(alice))
    assert [(r.access_key_id, r.phase, r.outcome, r.error) for r in world.audit.records] == [
        ("AKIAONE", "intent", "pending", None),
        ("AKIAONE", "outcome", "failed", "iam:DeleteAccessKey: AccessDenied: explicit deny"),
        ("AKIATWO", "intent", "pending", None),
        ("AKIATWO", "outcome", "failed", "iam:DeleteAccessKey: AccessDenied: explicit deny"),
    ]
    assert result.failures == 2
    (batch,) = world.notifier.batches
    assert {r.outcome for r in batch} == {"failed"}


def test_transient_failure_is_audited_then_raised_and_the_intent_stays_open_for_the_retry() -> None:
    """IAM may have acted before its reply was lost: the outcome is not guessed; the retry settles it."""
    world = World(Mode.DEACTIVATE)
    alice = user("alice", key("AKIAOLD", 120))
    world.member.add(alice)
    world.member.fail_on["deactivate_key"] = TransientError("iam:UpdateAccessKey: Throttling: Rate exceeded")
    with pytest.raises(TransientError, match="Throttling"):
        world.remediator.remediate_event(world.event(alice))
    assert [(r.phase, r.outcome, r.step) for r in world.audit.records] == [
        ("intent", "pending", None),
        ("decision", "failed", "iam-action"),
    ]
    assert world.lifecycle.saved[(ACCOUNT, "AKIAOLD")].pending is not None
    del world.member.fail_on["deactivate_key"]
    world.remediator.remediate_event(world.event(alice))
    assert world.status("alice") == {"AKIAOLD": "Inactive"}
    outcome = world.audit.records[-1]
    assert (outcome.phase, outcome.outcome, outcome.reconciled) == ("outcome", "done", True)
    assert outcome.intent_id == world.audit.records[0].record_id


def test_role_that_cannot_be_assumed_is_one_failed_record_and_no_raise() -> None:
    world = World()
    alice = user("alice", key("AKIAOLD", 120))
    world.member.add(alice)
    world.access.denied.add(ACCOUNT)
    result = world.remediator.remediate_event(world.event(alice))
    (record,) = world.audit.records
    assert (record.reason, record.outcome, record.user_id) == (
        "member role could not be assumed",
        "failed",
        alice.user_id,
    )
    assert record.error == f"sts:AssumeRole into {ACCOUNT}: AccessDenied"
    assert result.failures == 1
    assert world.member.calls == ["audit:decision"]  # the journal holds the audit write only


def test_user_that_cannot_be_read_is_a_failed_record() -> None:
    world = World()
    alice = user("alice", key("AKIAOLD", 120))
    world.member.add(alice)
    world.member.fail_on["read_user"] = PermanentError("reading user alice: AccessDenied")
    result = world.remediator.remediate_event(world.event(alice))
    assert [(r.reason, r.outcome) for r in world.audit.records] == [("user could not be read", "failed")]
    assert result.failures == 1


def test_a_second_run_changes_nothing_more() -> None:
    world = World(Mode.DEACTIVATE)
    alice = user("alice", key("AKIAOLD", 120), key("AKIANEW", 5))
    world.member.add(alice)
    world.remediator.remediate_event(world.event(alice))
    calls = len(world.member.calls)
    second = world.remediator.remediate_event(world.event(alice))
    assert "deactivate_key" not in world.member.calls[calls:]
    assert second.summary()["deactivated"] == 0
    assert {r.reason for r in second.records} == {
        "key is Inactive; the rules apply to active keys only",
        "within policy",
    }


def test_account_run_covers_every_user_and_reads_exemptions_once() -> None:
    world = World(
        Mode.DELETE,
        exemptions=[
            Exemption(
                account_id=ACCOUNT,
                user_name="breakglass",
                reason="break-glass user, vaulted",
                owner="secops",
                expires_at=NOW + timedelta(days=30),
            )
        ],
    )
    world.member.add(user("alice", key("AKIAOLD", 120), key("AKIANEW", 5)))
    world.member.add(user("bob", key("AKIABOB", 10, used_days_ago=None)))
    world.member.add(user("breakglass", key("AKIABRK", 400, used_days_ago=None)))
    world.member.add(user("nokeys"))
    result = world.remediator.remediate_account(
        ACCOUNT, region="eu-west-1", trigger=Trigger.SWEEP, label="run-1"
    )
    assert world.status("alice") == {"AKIANEW": "Active"}
    assert world.status("bob") == {"AKIABOB": "Active"}
    assert world.status("breakglass") == {"AKIABRK": "Active"}
    assert result.summary() == {
        "deactivated": 0,
        "deleted": 1,
        "exempted": 1,
        "reported": 0,
        "warned": 0,
        "compliant": 2,
        "findings": 0,
        "failed": 0,
    }
    assert world.exemptions.reads == 1
    assert {r.trigger for r in world.audit.records} == {"sweep"}
    # Users without keys have nothing to decide; an account run does not list them one by one.
    assert [r for r in world.audit.records if r.user_name == "nokeys"] == []


def test_account_run_with_unlistable_users_is_a_failed_record() -> None:
    world = World()
    world.member.fail_on["users"] = PermanentError("iam:ListUsers in 222222222222: AccessDenied")
    result = world.remediator.remediate_account(ACCOUNT, region="eu-west-1", trigger=Trigger.CLI, label="x")
    assert [(r.reason, r.outcome) for r in result.records] == [("users could not be listed", "failed")]


def test_notification_failure_does_not_undo_or_raise() -> None:
    world = World(Mode.DELETE)
    alice = user("alice", key("AKIAOLD", 120))
    world.member.add(alice)
    world.notifier.fail = RemediatorError("sns:Publish: AuthorizationError")
    result = world.remediator.remediate_event(world.event(alice))
    assert result.summary()["deleted"] == 1
    assert world.status("alice") == {}


def test_staged_mode_deactivates_now() -> None:
    world = World(Mode.STAGED)
    alice = user("alice", key("AKIAOLD", 120))
    world.member.add(alice)
    world.remediator.remediate_event(world.event(alice))
    assert world.status("alice") == {"AKIAOLD": "Inactive"}
    assert {r.mode for r in world.audit.records} == {"staged"}


def test_a_key_another_run_is_acting_on_is_left_to_it() -> None:
    # Both managed rules flag the user together: two events, two runs, one key.
    world = World(Mode.DELETE)
    alice = user("alice", key("AKIAOLD", 120))
    world.member.add(alice)
    world.claims.holders[(ACCOUNT, "AKIAOLD", "")] = "the-other-rules-event"
    result = world.remediator.remediate_event(world.event(alice))
    assert world.status("alice") == {"AKIAOLD": "Active"}
    (record,) = world.audit.records
    assert (record.decision, record.phase, record.outcome) == ("delete", "decision", "skipped")
    assert record.reason.endswith("; another run is acting on this key")
    assert result.summary()["deleted"] == 0


def test_a_retry_of_the_same_event_may_take_its_claim_again() -> None:
    world = World(Mode.DELETE)
    alice = user("alice", key("AKIAOLD", 120))
    world.member.add(alice)
    event = world.event(alice)
    world.claims.holders[(ACCOUNT, "AKIAOLD", "")] = event.id
    world.remediator.remediate_event(event)
    assert world.status("alice") == {}


def test_a_key_deleted_in_between_is_skipped_not_done() -> None:
    world = World(Mode.DEACTIVATE)
    alice = user("alice", key("AKIAOLD", 120))
    world.member.add(alice)
    world.member.vanished.add("AKIAOLD")
    result = world.remediator.remediate_event(world.event(alice))
    assert [(r.phase, r.outcome) for r in world.audit.records] == [
        ("intent", "pending"),
        ("outcome", "skipped"),
    ]
    assert world.audit.records[-1].reason.endswith("; key already gone")
    assert result.summary() == {
        "deactivated": 0,
        "deleted": 0,
        "exempted": 0,
        "reported": 0,
        "warned": 0,
        "compliant": 0,
        "findings": 0,
        "failed": 0,
    }


def test_results_are_reported_even_when_a_transient_error_cuts_the_run_short() -> None:
    world = World(Mode.DELETE)
    alice = user("alice", key("AKIAONE", 120), key("AKIATWO", 130))
    world.member.add(alice)
    world.member.vanished.clear()
    calls = 0
    original = world.member.delete_key

    def second_delete_throttled(user_name: str, access_key_id: str) -> bool:
        nonlocal calls
        calls += 1
        if calls == 2:
            raise TransientError("iam:DeleteAccessKey: Throttling")
        return original(user_name, access_key_id)

    world.member.delete_key = second_delete_throttled  # type: ignore[method-assign]
    with pytest.raises(TransientError):
        world.remediator.remediate_event(world.event(alice))
    (result,) = world.results
    assert result.summary()["deleted"] == 1
    assert result.failures == 1
    (batch,) = world.notifier.batches
    assert [(r.access_key_id, r.outcome) for r in batch] == [("AKIAONE", "done"), ("AKIATWO", "failed")]


def test_credentials_are_forgotten_after_a_permanent_failure() -> None:
    world = World()
    alice = user("alice", key("AKIAOLD", 120))
    world.member.add(alice)
    world.member.fail_on["read_user"] = PermanentError("reading user alice: AccessDenied")
    world.remediator.remediate_event(world.event(alice))
    assert world.access.forgotten == [ACCOUNT]


def test_owner_tag_is_recorded() -> None:
    world = World(Mode.DELETE)
    alice = user("alice", key("AKIAOLD", 120), tags={"owner": "team-payments@example.com"})
    world.member.add(alice)
    world.remediator.remediate_event(world.event(alice))
    assert {r.owner for r in world.audit.records} == {"team-payments@example.com"}
    assert {r.owner for r in world.notifier.batches[0]} == {"team-payments@example.com"}


def test_protected_path_is_exempt_and_untouched() -> None:
    world = World(policy=Policy(mode=Mode.DELETE, protected_user_path="/break-glass/"))
    vault = user("vault", key("AKIAOLD", 400, used_days_ago=None), path="/break-glass/emergency/")
    world.member.add(vault)
    world.remediator.remediate_event(world.event(vault))
    assert world.status("vault") == {"AKIAOLD": "Active"}
    (record,) = world.audit.records
    assert record.decision == "exempt"
    assert record.reason.endswith("exempt: user path /break-glass/emergency/ is protected")
