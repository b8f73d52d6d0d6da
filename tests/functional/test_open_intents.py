"""Intents left open (a crash, a lost outcome write) are settled by whoever holds the key next, from
IAM: done when the effect is there, acted on under the old intent when the fresh decision is the same
action, abandoned with the reason otherwise. Over in-memory fakes."""

from __future__ import annotations

import contextlib
from datetime import timedelta

from remediator.audit import Outcome, Phase, Trigger
from remediator.decision import Action
from remediator.errors import TransientError
from remediator.exemptions import Exemption
from remediator.lifecycle import Stage
from remediator.policy import Mode, Policy
from tests.functional.test_service import ACCOUNT, NOW, World, key, user


def left_open(world: World, action: str = "delete_key") -> None:
    """The first run acts in IAM, then cannot write its outcome."""
    world.journal.fail_settle = TransientError("dynamodb:TransactWriteItems: ThrottlingException")
    alice = world.member.users_by_name["alice"]
    with contextlib.suppress(TransientError):
        world.remediator.remediate_event(world.event(alice))
    world.journal.fail_settle = None


def outcomes(world: World) -> list[tuple[str | None, str, str, bool | None]]:
    return [
        (r.access_key_id, r.decision, r.outcome, r.reconciled)
        for r in world.audit.records
        if r.phase is Phase.OUTCOME
    ]


def test_an_outcome_that_could_not_be_written_leaves_a_mark_and_a_failed_record() -> None:
    world = World(Mode.DELETE)
    world.member.add(user("alice", key("AKIAOLD", 120)))
    left_open(world)
    assert world.status("alice") == {}
    (mark,) = world.lifecycle.saved.values()
    assert mark.pending is not None
    assert (mark.pending.action, mark.pending.owner) == (Action.DELETE, world.audit.records[0].event_id)
    assert [(r.phase, r.outcome, r.step, r.access_key_id) for r in world.audit.records] == [
        (Phase.INTENT, Outcome.PENDING, None, "AKIAOLD"),
        (Phase.DECISION, Outcome.FAILED, "outcome", "AKIAOLD"),
    ]
    assert world.results[-1].summary()["failed"] == 1


def test_the_retry_finds_the_key_gone_and_writes_the_outcome_done() -> None:
    world = World(Mode.DELETE)
    world.member.add(user("alice", key("AKIAOLD", 120)))
    left_open(world)
    world.remediator.remediate_event(world.event(world.member.users_by_name["alice"]))
    assert outcomes(world) == [("AKIAOLD", "delete", "done", True)]
    intent = world.audit.records[0]
    (outcome,) = [r for r in world.audit.records if r.phase is Phase.OUTCOME]
    assert outcome.intent_id == intent.record_id
    (settled,) = world.lifecycle.saved.values()
    assert (settled.stage, settled.pending) == (Stage.DELETED, None)
    assert world.results[-1].summary()["deleted"] == 1  # counted when it is settled
    assert world.member.calls.count("delete_key") == 1


def test_a_staged_deactivation_settled_later_is_still_deleted_after_the_grace_period() -> None:
    world = World(Mode.STAGED)
    world.member.add(user("alice", key("AKIAOLD", 120)))
    left_open(world)
    world.remediator.remediate_event(world.event(world.member.users_by_name["alice"]))
    (settled,) = world.lifecycle.saved.values()
    assert (settled.stage, settled.staged, settled.pending) == (Stage.DEACTIVATED, True, None)
    assert outcomes(world) == [("AKIAOLD", "deactivate", "done", True)]


def test_an_intent_whose_effect_is_missing_is_carried_out_under_it_when_the_decision_is_the_same() -> None:
    world = World(Mode.DELETE)
    world.member.add(user("alice", key("AKIAOLD", 120)))
    world.member.fail_on["delete_key"] = RuntimeError("the function died before IAM answered")
    with contextlib.suppress(RuntimeError):
        world.remediator.remediate_event(world.event(world.member.users_by_name["alice"]))
    del world.member.fail_on["delete_key"]
    assert world.status("alice") == {"AKIAOLD": "Active"}
    world.remediator.remediate_event(world.event(world.member.users_by_name["alice"]))
    assert world.status("alice") == {}
    assert outcomes(world) == [("AKIAOLD", "delete", "done", True)]
    intents = [r for r in world.audit.records if r.phase is Phase.INTENT]
    assert len(intents) == 1, "acted on under the old intent, not a second one"


def test_an_exemption_added_in_between_abandons_the_intent_and_the_key_stays() -> None:
    world = World(Mode.DELETE)
    world.member.add(user("alice", key("AKIAOLD", 120)))
    world.member.fail_on["delete_key"] = RuntimeError("died")
    with contextlib.suppress(RuntimeError):
        world.remediator.remediate_event(world.event(world.member.users_by_name["alice"]))
    del world.member.fail_on["delete_key"]
    world.exemptions.exemptions.append(
        Exemption(
            account_id=ACCOUNT,
            user_name="alice",
            reason="break-glass",
            owner="secops",
            expires_at=NOW + timedelta(days=30),
            created_at=NOW,
        )
    )
    world.remediator.remediate_event(world.event(world.member.users_by_name["alice"]))
    assert world.status("alice") == {"AKIAOLD": "Active"}
    abandoned = [r for r in world.audit.records if r.outcome is Outcome.ABANDONED]
    assert [(r.decision, r.reconciled) for r in abandoned] == [("delete", True)]
    assert abandoned[0].reason.startswith(
        "decided afresh: exempt: created 120 days ago, limit 90; exempt until"
    )
    assert world.audit.records[-1].decision == "exempt"  # and the fresh decision is recorded


def test_a_mode_changed_to_report_in_between_is_never_acted_on_from_the_stale_intent() -> None:
    world = World(Mode.DELETE)
    world.member.add(user("alice", key("AKIAOLD", 120)))
    world.member.fail_on["delete_key"] = RuntimeError("died")
    with contextlib.suppress(RuntimeError):
        world.remediator.remediate_event(world.event(world.member.users_by_name["alice"]))
    del world.member.fail_on["delete_key"]
    world.build(Policy(mode=Mode.REPORT)).remediate_event(world.event(world.member.users_by_name["alice"]))
    assert world.status("alice") == {"AKIAOLD": "Active"}
    assert [(r.decision, r.outcome) for r in world.audit.records if r.phase is Phase.OUTCOME] == [
        ("delete", Outcome.ABANDONED)
    ]
    assert world.audit.records[-1].decision == "report"


def test_a_deactivation_whose_key_was_deleted_meanwhile_is_abandoned() -> None:
    world = World(Mode.DEACTIVATE)
    world.member.add(user("alice", key("AKIAOLD", 120), key("AKIANEW", 10)))
    world.member.fail_on["deactivate_key"] = RuntimeError("died")
    with contextlib.suppress(RuntimeError):
        world.remediator.remediate_event(world.event(world.member.users_by_name["alice"]))
    del world.member.fail_on["deactivate_key"]
    world.member.delete_key("alice", "AKIAOLD")  # someone deletes it by hand
    world.remediator.remediate_event(world.event(world.member.users_by_name["alice"]))
    (abandoned,) = [r for r in world.audit.records if r.outcome is Outcome.ABANDONED]
    assert abandoned.reason.endswith("; the key no longer exists")
    assert world.lifecycle.saved[(ACCOUNT, "AKIAOLD")].pending is None


def test_the_sweep_settles_the_open_intents_of_users_it_would_not_otherwise_read() -> None:
    world = World(Mode.DELETE)
    claims_now = [NOW]
    world.claims.clock = lambda: claims_now[0]
    world.member.add(user("alice", key("AKIAOLD", 120)))
    left_open(world)
    claims_now[0] = NOW + timedelta(hours=1)  # the next sweep: the event's claim has lapsed
    world.member.users_by_name.pop("alice")  # the user is gone too: the report does not name it
    world.remediator.remediate_account(ACCOUNT, region="eu-west-1", trigger=Trigger.SWEEP, label="sweep-1")
    assert outcomes(world) == [("AKIAOLD", "delete", "done", True)]
    assert all(lc.pending is None for lc in world.lifecycle.saved.values())
