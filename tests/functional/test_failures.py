"""Every error that ends a run, in any step, is recorded with the step before it goes on; when the audit
log itself is down the failure is still counted. Over in-memory fakes."""

from __future__ import annotations

import pytest

from remediator.audit import Outcome, Phase, Trigger
from remediator.credential_report import CredentialReport, ReportKey, ReportRow, RowProblem
from remediator.deadline import Deadline, DeadlineExceededError
from remediator.errors import PermanentError, TransientError
from remediator.exemptions import RejectedExemption
from remediator.policy import Mode, Policy
from tests.functional.test_service import ACCOUNT, NOW, World, key, user


def failures(world: World) -> list[tuple[str | None, str | None, str | None, str | None]]:
    return [
        (r.step, r.user_name, r.access_key_id, r.error)
        for r in world.audit.records
        if r.outcome is Outcome.FAILED
    ]


def test_a_user_that_cannot_be_read_for_now_is_recorded_then_raised() -> None:
    world = World()
    alice = user("alice", key("AKIAOLD", 120))
    world.member.add(alice)
    world.member.fail_on["read_user"] = TransientError("iam:GetUser: Throttling")
    with pytest.raises(TransientError):
        world.remediator.remediate_event(world.event(alice))
    assert failures(world) == [("read-user", "alice", None, "iam:GetUser: Throttling")]
    assert world.results[-1].summary()["failed"] == 1


def test_an_intent_that_cannot_be_written_is_a_failure_of_the_claim_step_and_nothing_is_touched() -> None:
    world = World()
    alice = user("alice", key("AKIAOLD", 120))
    world.member.add(alice)
    world.journal.fail_begin = TransientError("dynamodb:TransactWriteItems: ThrottlingException")
    with pytest.raises(TransientError):
        world.remediator.remediate_event(world.event(alice))
    assert "delete_key" not in world.member.calls
    assert failures(world) == [
        ("claim", "alice", "AKIAOLD", "dynamodb:TransactWriteItems: ThrottlingException")
    ]


def test_with_the_audit_log_down_the_failure_is_counted_though_not_recorded() -> None:
    world = World()
    alice = user("alice", key("AKIAOLD", 120))
    world.member.add(alice)
    world.member.fail_on["read_user"] = TransientError("iam:GetUser: Throttling")
    world.audit.fail = TransientError("dynamodb:PutItem: ThrottlingException")
    with pytest.raises(TransientError):
        world.remediator.remediate_event(world.event(alice))
    assert world.audit.records == []
    assert world.results[-1].unrecorded_failures == 1
    assert world.results[-1].summary()["failed"] == 1


def test_a_lifecycle_write_that_fails_is_recorded() -> None:
    world = World(Mode.REPORT)
    alice = user("alice", key("AKIAOLD", 120))
    world.member.add(alice)
    world.lifecycle.fail = TransientError("dynamodb:UpdateItem: ThrottlingException")
    with pytest.raises(TransientError):
        world.remediator.remediate_event(world.event(alice))
    assert failures(world) == [("lifecycle", "alice", "AKIAOLD", "dynamodb:UpdateItem: ThrottlingException")]


def test_a_permanent_failure_to_assume_the_role_is_recorded_not_raised_and_forgets_the_credentials() -> None:
    world = World()
    alice = user("alice", key("AKIAOLD", 120))
    world.access.denied.add(ACCOUNT)
    result = world.remediator.remediate_event(world.event(alice))
    assert failures(world) == [
        ("assume-role", None, None, f"sts:AssumeRole into {ACCOUNT}: AccessDenied"),
    ]
    assert world.audit.records[0].user_id == alice.user_id
    assert world.access.forgotten == [ACCOUNT]
    assert result.summary()["failed"] == 1


def test_an_unexpected_error_is_recorded_with_its_type_and_raised() -> None:
    world = World()
    alice = user("alice", key("AKIAOLD", 120))
    world.member.add(alice)
    world.member.fail_on["resolve_user_name"] = KeyError("UserName")
    with pytest.raises(KeyError):
        world.remediator.remediate_event(world.event(alice))
    assert failures(world) == [("resolve-user", None, None, "KeyError: 'UserName'")]


def test_a_rejected_exemption_is_named_in_the_decision_and_counted() -> None:
    world = World()
    alice = user("alice", key("AKIAOLD", 120), key("AKIANEW", 10))
    world.member.add(alice)
    world.exemptions.rejected.append(
        RejectedExemption(
            account_id=ACCOUNT, item="alice#*", owner="mallory", why="expires_at '2027-01-01': no zone"
        )
    )
    result = world.remediator.remediate_event(world.event(alice))
    assert world.status("alice") == {"AKIANEW": "Active"}
    note = "exemption alice#* by mallory ignored: expires_at '2027-01-01': no zone"
    by_key = {r.access_key_id: r.reason for r in world.audit.records if r.phase is not Phase.INTENT}
    assert by_key == {
        "AKIAOLD": f"created 120 days ago, limit 90; {note}",
        "AKIANEW": f"within policy; {note}",
    }
    assert result.exemptions_rejected == 1


def test_an_unreadable_report_row_is_a_finding_and_its_user_is_read_live() -> None:
    world = World()
    world.member.add(user("alice", key("AKIAOLD", 120)))
    world.member.report = CredentialReport(
        generated_at=NOW,
        rows=(
            ReportRow(
                user="bob", arn="arn", keys=(ReportKey(active=False, last_rotated=None, last_used=None),)
            ),
        ),
        problems=(RowProblem(user="alice", why="access_key_1_last_rotated 'soon'"),),
    )
    world.remediator.sweep_account(ACCOUNT, region="eu-west-1", label="sweep-1")
    assert world.status("alice") == {}
    (finding,) = [r for r in world.audit.records if r.decision == "finding"]
    assert (finding.user_name, finding.reason) == (
        "alice",
        "credential report row unreadable (access_key_1_last_rotated 'soon'); the user was read live",
    )


def test_a_sweep_that_runs_out_of_time_records_why_and_leaves_the_rest_to_the_retry() -> None:
    now = [0.0]
    deadline = Deadline(clock=lambda: now[0])
    world = World()
    for name in ("a", "b", "c"):
        world.member.add(user(name, key(f"AKIA{name.upper()}", 120)))
    world.member.report = None
    remediator = world.build(Policy(mode=Mode.DELETE), deadline)
    deadline.start(60_000)
    real_read = world.member.read_user

    def slow_read(user_name: str, user_id: str | None = None) -> object:
        now[0] += 25  # each user takes 25 s
        return real_read(user_name, user_id)

    world.member.read_user = slow_read  # type: ignore[method-assign,assignment]
    with pytest.raises(DeadlineExceededError):
        remediator.remediate_account(ACCOUNT, region="eu-west-1", trigger=Trigger.SWEEP, label="sweep-1")
    assert world.status("a") == {} and world.status("b") == {}
    assert world.status("c") == {"AKIAC": "Active"}
    (failed,) = [r for r in world.audit.records if r.outcome is Outcome.FAILED]
    assert failed.step == "deadline"
    assert str(failed.error).startswith(f"listing of {ACCOUNT}: stopped with 10.0 s left")


def test_a_permanent_error_reading_one_user_does_not_stop_the_sweep() -> None:
    world = World()
    world.member.add(user("alice", key("AKIAOLD", 120)))
    world.member.report = None
    world.member.fail_on["read_user"] = PermanentError("iam:GetUser: AccessDenied")
    result = world.remediator.remediate_account(ACCOUNT, region="eu-west-1", trigger=Trigger.SWEEP, label="s")
    assert failures(world) == [("read-user", "alice", None, "iam:GetUser: AccessDenied")]
    assert result.summary()["failed"] == 1
