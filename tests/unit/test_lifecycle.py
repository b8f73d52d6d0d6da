"""The key lifecycle on its own: the stage each decision moves a key to (`next_stage`), the stage a done
mutation reaches (`after`), and the records themselves. The staged deletion these stages drive is in
test_decision_lifecycle.py."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from pydantic import ValidationError

from remediator.decision import Action, Decision, Rule
from remediator.lifecycle import KeyLifecycle, Pending, Stage, after, next_stage

NOW = datetime(2025, 6, 1, 12, 0, tzinfo=UTC)
SECOND = timedelta(seconds=1)
DEACTIVATED_AT = NOW - timedelta(days=5)
DUE = NOW + timedelta(days=7)
KEY = "AKIAAAAAAAAAAAAAAAAA"
ROTATION = (Rule.ROTATION,)
MUTATING = [Action.DEACTIVATE, Action.DELETE, Action.REACTIVATE]
NOT_MUTATING = [Action.NONE, Action.REPORT, Action.WARN, Action.EXEMPT]


def decision(
    action: Action = Action.NONE,
    *,
    rules: tuple[Rule, ...] = (),
    status: str = "Active",
    last_used_at: datetime | None = None,
    due_at: datetime | None = DUE,
) -> Decision:
    return Decision(
        access_key_id=KEY,
        action=action,
        rules=rules,
        reason="test",
        key_status=status,
        key_created_at=NOW - timedelta(days=200),
        key_age_days=200,
        last_used_at=last_used_at,
        due_at=due_at,
    )


def inactive(*, last_used_at: datetime | None) -> Decision:
    """How `decide` sees a key this service deactivated, while it stays inactive."""
    return decision(status="Inactive", last_used_at=last_used_at, due_at=None)


def known(
    stage: Stage, *, deactivated_at: datetime | None = DEACTIVATED_AT, warned_due_at: datetime | None = None
) -> KeyLifecycle:
    return KeyLifecycle(
        account_id="111122223333",
        access_key_id=KEY,
        user_name="alice",
        stage=stage,
        deactivated_at=deactivated_at if stage is Stage.DEACTIVATED else None,
        staged=stage is Stage.DEACTIVATED,
        warned_due_at=warned_due_at,
        updated_at=NOW - timedelta(days=1),
    )


def test_the_stages_keep_their_names() -> None:
    # Stored in the state table: a renamed stage would strand every key recorded under the old name.
    assert [stage.value for stage in Stage] == ["detected", "warned", "deactivated", "deleted", "reactivated"]


# --- a done mutation ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("action", "staged", "expected"),
    [
        (Action.DELETE, False, (Stage.DELETED, {"deleted_at": NOW})),
        (Action.DELETE, True, (Stage.DELETED, {"deleted_at": NOW})),
        (Action.DEACTIVATE, False, (Stage.DEACTIVATED, {"deactivated_at": NOW, "staged": False})),
        (Action.DEACTIVATE, True, (Stage.DEACTIVATED, {"deactivated_at": NOW, "staged": True})),
        (Action.REACTIVATE, False, (Stage.REACTIVATED, {"reactivated_at": NOW})),
    ],
)
def test_a_done_mutation_moves_the_key(
    action: Action, staged: bool, expected: tuple[Stage, dict[str, object]]
) -> None:
    assert after(action, NOW, staged=staged) == expected
    for before in (None, known(Stage.DETECTED), known(Stage.WARNED), known(Stage.DEACTIVATED)):
        assert (
            next_stage(before, decision(action, rules=ROTATION), done=True, now=NOW, staged=staged)
            == expected
        )


def test_a_deactivation_is_staged_only_when_the_run_says_so() -> None:
    # Only a staged deactivation is deleted after the grace period.
    assert next_stage(None, decision(Action.DEACTIVATE, rules=ROTATION), done=True, now=NOW) == (
        Stage.DEACTIVATED,
        {"deactivated_at": NOW, "staged": False},
    )


@pytest.mark.parametrize("action", NOT_MUTATING, ids=lambda a: a.value)
def test_an_action_that_changes_nothing_has_no_stage_after(action: Action) -> None:
    with pytest.raises(ValueError, match=f"^{action.value} changes nothing in IAM$"):
        after(action, NOW, staged=False)


@pytest.mark.parametrize("action", [Action.NONE, Action.REPORT, Action.EXEMPT], ids=lambda a: a.value)
def test_done_means_nothing_for_an_action_that_changes_nothing(action: Action) -> None:
    # `done` is True for every decision a run went through; only a mutation moves the key past detection
    # (a warning has its own stage, below).
    assert next_stage(known(Stage.DETECTED), decision(action), done=True, now=NOW) == (None, {})


# --- a mutation that was not carried out -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("before", "undone"),
    [
        (known(Stage.DETECTED), decision(Action.DEACTIVATE, rules=ROTATION)),
        (known(Stage.DETECTED), decision(Action.DELETE, rules=ROTATION)),
        (known(Stage.DEACTIVATED), inactive(last_used_at=None).model_copy(update={"action": Action.DELETE})),
    ],
    ids=["deactivate", "delete", "staged-delete"],
)
def test_a_mutation_not_carried_out_leaves_the_lifecycle_unchanged(
    before: KeyLifecycle, undone: Decision
) -> None:
    # The call failed or the key was gone: the key is where it was, so is its record.
    assert next_stage(before, undone, done=False, now=NOW, staged=True) == (None, {})


@pytest.mark.parametrize("action", [Action.DEACTIVATE, Action.DELETE], ids=lambda a: a.value)
def test_a_first_mutation_not_carried_out_records_the_detection_only(action: Action) -> None:
    assert next_stage(None, decision(action, rules=ROTATION), done=False, now=NOW) == (
        Stage.DETECTED,
        {"detected_at": NOW},
    )


# --- reactivation: a key this service deactivated, seen active or used since -------------------------------


@pytest.mark.parametrize("action", [Action.NONE, Action.WARN, Action.DEACTIVATE], ids=lambda a: a.value)
def test_a_deactivated_key_seen_active_is_reactivated(action: Action) -> None:
    # Whatever `decide` makes of it now, the old deactivation no longer counts: a later manual deactivation
    # must not be deleted on its strength.
    active = decision(action, rules=ROTATION if action is Action.DEACTIVATE else ())

    assert next_stage(known(Stage.DEACTIVATED), active, done=False, now=NOW) == (
        Stage.REACTIVATED,
        {"reactivated_at": NOW},
    )


@pytest.mark.parametrize(
    ("last_used_at", "expected"),
    [
        (None, (None, {})),
        (DEACTIVATED_AT - SECOND, (None, {})),
        (DEACTIVATED_AT, (None, {})),
        (DEACTIVATED_AT + SECOND, (Stage.REACTIVATED, {"reactivated_at": NOW})),
        (NOW, (Stage.REACTIVATED, {"reactivated_at": NOW})),
    ],
    ids=["never-used", "used-1s-before", "used-at-the-deactivation", "used-1s-after", "used-now"],
)
def test_a_deactivated_key_used_since_is_reactivated(
    last_used_at: datetime | None, expected: tuple[Stage | None, dict[str, object]]
) -> None:
    # Made active, used and deactivated again between two sweeps: inactive now, but used after our
    # deactivation. A use at the very instant of the deactivation is the last use before it.
    assert next_stage(known(Stage.DEACTIVATED), inactive(last_used_at=last_used_at), done=False, now=NOW) == (
        expected
    )


def test_a_deactivation_without_its_time_is_not_reactivated_by_a_use() -> None:
    record = known(Stage.DEACTIVATED, deactivated_at=None)

    assert next_stage(record, inactive(last_used_at=NOW), done=False, now=NOW) == (None, {})


@pytest.mark.parametrize("stage", [Stage.DELETED, Stage.REACTIVATED], ids=lambda s: s.value)
def test_only_a_deactivated_key_is_reactivated(stage: Stage) -> None:
    assert next_stage(known(stage), inactive(last_used_at=NOW), done=False, now=NOW) == (None, {})
    assert next_stage(known(stage), decision(), done=False, now=NOW) == (None, {})


# --- warnings and detection --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("before", "expected"),
    [
        (None, (Stage.WARNED, {"warned_at": NOW, "warned_due_at": DUE})),
        (known(Stage.DETECTED), (Stage.WARNED, {"warned_at": NOW, "warned_due_at": DUE})),
        (known(Stage.WARNED, warned_due_at=DUE), (None, {})),
        (
            known(Stage.WARNED, warned_due_at=DUE - SECOND),
            (Stage.WARNED, {"warned_at": NOW, "warned_due_at": DUE}),
        ),
    ],
    ids=["first", "after-detection", "same-due-date", "new-due-date"],
)
def test_one_warning_per_due_date(
    before: KeyLifecycle | None, expected: tuple[Stage | None, dict[str, object]]
) -> None:
    assert next_stage(before, decision(Action.WARN), done=True, now=NOW) == expected


@pytest.mark.parametrize(
    ("before", "expected"),
    [
        (None, (Stage.DETECTED, {"detected_at": NOW})),
        (known(Stage.WARNED, warned_due_at=DUE), (Stage.DETECTED, {"detected_at": NOW})),
        (known(Stage.REACTIVATED), (Stage.DETECTED, {"detected_at": NOW})),
        (known(Stage.DETECTED), (None, {})),
        (known(Stage.DELETED), (None, {})),
    ],
    ids=["first", "after-a-warning", "after-a-reactivation", "already-detected", "deleted"],
)
def test_a_broken_rule_is_detected_once(
    before: KeyLifecycle | None, expected: tuple[Stage | None, dict[str, object]]
) -> None:
    # Report and exempt decisions change nothing in IAM; their key is still recorded as detected.
    for action in (Action.REPORT, Action.EXEMPT):
        assert next_stage(before, decision(action, rules=ROTATION), done=True, now=NOW) == expected


@pytest.mark.parametrize("before", [None, known(Stage.WARNED), known(Stage.REACTIVATED)])
def test_a_key_within_policy_stays_where_it_is(before: KeyLifecycle | None) -> None:
    assert next_stage(before, decision(), done=True, now=NOW) == (None, {})


# --- the records ------------------------------------------------------------------------------------------


def test_a_new_record_has_nothing_but_its_stage() -> None:
    record = KeyLifecycle(
        account_id="111122223333", access_key_id=KEY, user_name="alice", stage=Stage.DETECTED, updated_at=NOW
    )

    assert record.model_dump(exclude={"account_id", "access_key_id", "user_name", "stage", "updated_at"}) == {
        "reason": "",
        "detected_at": None,
        "warned_at": None,
        "warned_due_at": None,
        "deactivated_at": None,
        "staged": False,
        "deleted_at": None,
        "reactivated_at": None,
        "pending": None,
    }


def test_moved_sets_the_stage_the_reason_the_time_and_the_fields() -> None:
    record = known(Stage.DETECTED)

    moved = record.moved(
        Stage.DEACTIVATED, NOW, "created 200 days ago, limit 90", deactivated_at=NOW, staged=True
    )

    assert moved.model_dump() == {
        **record.model_dump(),
        "stage": Stage.DEACTIVATED,
        "reason": "created 200 days ago, limit 90",
        "updated_at": NOW,
        "deactivated_at": NOW,
        "staged": True,
    }
    assert record.stage is Stage.DETECTED  # a new record; the old one is unchanged


def pending() -> Pending:
    return Pending(
        action=Action.DELETE,
        intent_id="run#key#intent",
        owner="run",
        since=NOW,
        user_id="AIDA",
        reason="test",
    )


def test_a_pending_mark_defaults() -> None:
    assert (pending().rules, pending().staged) == ("", False)


@pytest.mark.parametrize("record", [known(Stage.DETECTED), pending()], ids=["lifecycle", "pending"])
def test_the_records_are_frozen_and_closed(record: KeyLifecycle | Pending) -> None:
    with pytest.raises(ValidationError, match="frozen"):
        record.reason = "changed"  # type: ignore[misc]
    with pytest.raises(ValidationError, match="Extra inputs are not permitted"):
        type(record).model_validate({**record.model_dump(), "unknown": 1})
