"""A write of the journal or of the audit log fails once, in every mode: the intent (with the claim and
the key's mark), the outcome, a decision record, a lifecycle update, the claim of a run that settles an
open intent. Lambda retries the event; the next sweep settles what is left."""

from __future__ import annotations

from typing import Any

import pytest

from org_bootstrap.demo.simulation import AUDIT_TABLE, STATE_TABLE, MotoOrganization
from remediator.audit import Outcome, Phase
from remediator.policy import Mode
from tests.faults.harness import check, phase_of, scene
from tests.faults.injector import Injector, Match


def state_item(prefix: str) -> Match:
    def match(params: dict[str, Any]) -> bool:
        key = params.get("Key") or params.get("Item") or {}
        return params.get("TableName") == STATE_TABLE and str(key.get("pk", {}).get("S", "")).startswith(
            prefix
        )

    return match


def decision_record(params: dict[str, Any]) -> bool:
    return params.get("TableName") == AUDIT_TABLE and params["Item"]["phase"]["S"] == Phase.DECISION


WRITES: dict[str, tuple[str, Match]] = {
    "intent": ("TransactWriteItems", phase_of("intent")),
    "outcome": ("TransactWriteItems", phase_of("outcome")),
    "decision record": ("PutItem", decision_record),
    "lifecycle": ("UpdateItem", state_item("key#")),
}


CASES = [
    *(("intent", mode) for mode in (Mode.DEACTIVATE, Mode.DELETE, Mode.STAGED)),
    *(("outcome", mode) for mode in (Mode.DEACTIVATE, Mode.DELETE, Mode.STAGED)),
    ("decision record", Mode.REPORT),
    ("decision record", Mode.DELETE),
    ("lifecycle", Mode.REPORT),
    ("lifecycle", Mode.DELETE),
]
"""Every write in the modes that make it: report mode writes no intent or outcome; a lifecycle is updated
outside the journal when a decision on a violating key changes nothing (report, exempt)."""


@pytest.mark.parametrize(("write", "mode"), CASES)
def test_a_failed_write_is_recorded_retried_and_settled(
    org: MotoOrganization, write: str, mode: Mode
) -> None:
    operation, match = WRITES[write]
    injector = Injector(seed=5).fail_call("dynamodb", operation, match=match, times=1)
    built = scene(org, mode, injector, users=2)
    built.deliver_all()
    check(built, settled=False)
    injector.clear()
    assert built.sweep() == {"batchItemFailures": []}
    check(built)
    assert injector.log, "the write must have been attempted and failed"
    failed = [r for r in built.records() if r.outcome is Outcome.FAILED]
    step = {"intent": "claim", "outcome": "outcome", "lifecycle": "lifecycle", "decision record": "record"}
    assert {r.step for r in failed} == {step[write]}


def test_the_run_that_settles_an_open_intent_cannot_claim_the_key_at_first(org: MotoOrganization) -> None:
    injector = (
        Injector(seed=6)
        .fail_call("dynamodb", "TransactWriteItems", match=phase_of("outcome"), times=1)
        .fail_call("dynamodb", "PutItem", match=state_item("claim#"), times=1)
    )
    built = scene(org, Mode.DELETE, injector, users=1)
    built.deliver_all()
    assert [entry.split()[1] for entry in injector.log] == ["dynamodb:TransactWriteItems", "dynamodb:PutItem"]
    check(built)  # the event's third attempt settled it, no sweep needed
    reconciled = [r for r in built.records() if r.reconciled]
    assert [(r.decision, r.outcome) for r in reconciled] == [("delete", "done")]
    assert reconciled[0].reason.endswith("settled from IAM: the key is gone")


def test_with_the_audit_log_down_nothing_is_changed_and_every_failure_is_logged_and_counted(
    org: MotoOrganization,
) -> None:
    injector = Injector(seed=7)
    injector.fail_call("dynamodb", "TransactWriteItems", times=None)
    injector.fail_call("dynamodb", "PutItem", match=lambda p: p.get("TableName") == AUDIT_TABLE, times=None)
    built = scene(org, Mode.DELETE, injector, users=1)
    built.deliver_all()
    assert built.iam() == built.initial, "no intent could be written: nothing may change"
    assert all(d.dead_lettered for d in built.deliveries if d.event_id != "sweep")
    assert built.records() == []
    assert built.metrics["RemediationFailures"] >= len(built.deliveries)
    check(built, settled=False)
    injector.clear()
    assert built.sweep() == {"batchItemFailures": []}
    check(built)
