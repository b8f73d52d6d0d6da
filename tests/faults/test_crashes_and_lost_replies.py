"""The function dies right after IAM acted (an exception, or the process itself), and replies get lost
after the call was applied (IAM's DeleteAccessKey and UpdateAccessKey, the journal's transactions, a
decision record): every mutation ends with exactly one `done` outcome, counted once."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from botocore.exceptions import ClientError

from org_bootstrap.demo.simulation import AUDIT_TABLE, MotoOrganization
from remediator.audit import Outcome, Phase
from remediator.mutations import GONE_AFTER_DELETE
from remediator.policy import Mode
from tests.faults.harness import LambdaDied, check, phase_of, scene
from tests.faults.injector import Injector

ACTION = {Mode.DELETE: "DeleteAccessKey", Mode.DEACTIVATE: "UpdateAccessKey", Mode.STAGED: "UpdateAccessKey"}
COUNTED = {Mode.DELETE: "KeysDeleted", Mode.DEACTIVATE: "KeysDeactivated", Mode.STAGED: "KeysDeactivated"}


@pytest.mark.parametrize(
    ("crash", "mode"),
    [
        (RuntimeError, Mode.DELETE),
        (RuntimeError, Mode.STAGED),
        (LambdaDied, Mode.DELETE),
        (LambdaDied, Mode.DEACTIVATE),
    ],
    ids=["exception-delete", "exception-staged", "process-delete", "process-deactivate"],
)
def test_a_crash_after_the_iam_action_is_settled_from_iam(
    org: MotoOrganization, mode: Mode, crash: Callable[[], BaseException]
) -> None:
    injector = Injector(seed=8).crash_after("iam", ACTION[mode], crash, times=2)
    built = scene(org, mode, injector, users=1)
    built.deliver_all()
    assert len(injector.log) == 2
    check(built, settled=False)
    injector.clear()
    assert built.sweep() == {"batchItemFailures": []}
    check(built)
    reconciled = [r for r in built.records() if r.reconciled]
    action = "delete" if mode is Mode.DELETE else "deactivate"
    assert [(r.decision, r.outcome) for r in reconciled] == [(action, Outcome.DONE)] * 2
    assert built.metrics[COUNTED[mode]] == len(built.acted_on)


@pytest.mark.parametrize("mode", [Mode.DELETE, Mode.DEACTIVATE])
def test_a_lost_reply_from_iam_is_a_done_outcome_and_counted_once(org: MotoOrganization, mode: Mode) -> None:
    injector = Injector(seed=9).lose_reply("iam", ACTION[mode], times=None, rate=0.5)
    built = scene(org, mode, injector, users=2)
    built.deliver_all()
    assert injector.log
    check(built)
    outcomes = [r for r in built.records() if r.phase is Phase.OUTCOME]
    assert {r.outcome for r in outcomes} == {Outcome.DONE}
    assert built.metrics[COUNTED[mode]] == len(built.acted_on)
    if mode is Mode.DELETE:
        # A retry whose own reply is lost is retried again: fewer keys than lost replies.
        assert 0 < sum(r.reason.endswith(GONE_AFTER_DELETE) for r in outcomes) <= len(injector.log)


def audit_put(params: dict[str, Any]) -> bool:
    return params.get("TableName") == AUDIT_TABLE


@pytest.mark.parametrize(
    ("operation", "match"),
    [
        ("TransactWriteItems", phase_of("intent")),
        ("TransactWriteItems", phase_of("outcome")),
        ("PutItem", audit_put),
    ],
    ids=["intent", "outcome", "decision-record"],
)
def test_a_lost_reply_from_the_audit_log_finds_its_own_record(
    org: MotoOrganization, operation: str, match: Callable[[dict[str, Any]], bool]
) -> None:
    injector = Injector(seed=10).lose_reply("dynamodb", operation, match=match, times=None, rate=0.5)
    built = scene(org, Mode.DELETE, injector, users=2)
    built.deliver_all()
    assert injector.log
    assert not [d for d in built.deliveries if d.attempts > 1], "a lost reply must not fail the run"
    check(built)
    assert [r for r in built.records() if r.outcome is Outcome.FAILED] == []
    assert built.metrics["KeysDeleted"] == len(built.acted_on)


def unavailable(operation: str) -> Callable[[], BaseException]:
    """The error a caller sees when every retry of an applied call went unanswered."""
    return lambda: ClientError({"Error": {"Code": "ServiceUnavailable", "Message": "Unavailable"}}, operation)


@pytest.mark.parametrize(
    ("service", "operation", "match"),
    [
        ("dynamodb", "TransactWriteItems", phase_of("intent")),
        ("dynamodb", "TransactWriteItems", phase_of("outcome")),
        ("dynamodb", "PutItem", audit_put),
        ("iam", "DeleteAccessKey", None),
    ],
    ids=["intent", "outcome", "decision-record", "iam-delete"],
)
def test_an_applied_call_whose_retries_all_went_unanswered_is_found_applied(
    org: MotoOrganization, service: str, operation: str, match: Callable[[dict[str, Any]], bool] | None
) -> None:
    """No reply at all, after botocore's retries: the audit log's own writes are looked up and found; an
    IAM action is left to the next run on the key, which finds it done."""
    injector = Injector(seed=15).crash_after(
        service, operation, unavailable(operation), times=3, **({"match": match} if match else {})
    )
    built = scene(org, Mode.DELETE, injector, users=2)
    built.deliver_all()
    assert len(injector.log) == 3
    check(built)
    assert built.metrics["KeysDeleted"] == len(built.acted_on)
    if service == "dynamodb":
        assert not [d for d in built.deliveries if d.attempts > 1], "found applied: the run goes on"
