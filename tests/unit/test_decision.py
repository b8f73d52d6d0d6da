"""`decide` against a fixed clock: every threshold at N-1, N and N+1, exemptions, opt-out tag and modes."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterable, Iterator
from datetime import UTC, datetime, timedelta

import pytest
from pydantic import ValidationError

from remediator.decision import Action, Decision, Rule, decide
from remediator.exemptions import Exemption
from remediator.facts import KeyFacts, UserFacts
from remediator.policy import PRESETS, Mode, Policy, Thresholds

NOW = datetime(2025, 6, 1, 12, 0, tzinfo=UTC)
SECOND = timedelta(seconds=1)
ACCOUNT = "111122223333"
OTHER_ACCOUNT = "444455556666"
USER = "alice"
KEY_A = "AKIAAAAAAAAAAAAAAAAA"
KEY_B = "AKIABBBBBBBBBBBBBBBB"
OPT_OUT = "akr-opt-out"
IN_A_MONTH = NOW + timedelta(days=30)

ROTATION = (Rule.ROTATION,)
UNUSED = (Rule.UNUSED,)
BOTH = (Rule.ROTATION, Rule.UNUSED)
NO_RULES: tuple[Rule, ...] = ()


def days(n: float) -> timedelta:
    return timedelta(days=n)


def key(
    key_id: str = KEY_A, *, age: timedelta, idle: timedelta | None = None, status: str = "Active"
) -> KeyFacts:
    """A key created `age` before NOW and last used `idle` before NOW (None: never used)."""
    return KeyFacts(
        access_key_id=key_id,
        status=status,
        created_at=NOW - age,
        last_used_at=None if idle is None else NOW - idle,
    )


def user(*keys: KeyFacts, tags: dict[str, str] | None = None, account_id: str = ACCOUNT) -> UserFacts:
    return UserFacts(
        account_id=account_id, user_name=USER, user_id="AIDAEXAMPLEUSERID0001", keys=keys, tags=tags or {}
    )


def policy(
    max_age: int = 90, max_unused: int = 90, *, mode: Mode = Mode.DELETE, opt_out: str | None = None
) -> Policy:
    return Policy(
        thresholds=Thresholds(max_key_age_days=max_age, max_unused_days=max_unused),
        mode=mode,
        opt_out_tag_key=opt_out,
    )


DEFAULT = policy()
CIS_14 = Policy(thresholds=PRESETS["cis-1.4"])


def exemption(
    *,
    account_id: str = ACCOUNT,
    user_name: str = USER,
    access_key_id: str | None = None,
    expires_at: datetime = IN_A_MONTH,
) -> Exemption:
    return Exemption(
        account_id=account_id,
        user_name=user_name,
        access_key_id=access_key_id,
        reason="migration to IAM Identity Center",
        owner="platform-team",
        expires_at=expires_at,
    )


def decide_one(
    facts: KeyFacts,
    pol: Policy = DEFAULT,
    exemptions: Iterable[Exemption] = (),
    tags: dict[str, str] | None = None,
) -> Decision:
    (only,) = decide(user(facts, tags=tags), pol, exemptions, NOW)
    return only


def actions(decisions: Iterable[Decision]) -> dict[str, Action]:
    return {d.access_key_id: d.action for d in decisions}


# A key that breaks both rules under every policy used below: created 120 days ago, never used.
VIOLATING = key(age=days(120))


# --- thresholds: N-1, N, N+1 s, N+1 for both rules, default 90/90 and cis-1.4 90/45 -----------------


@pytest.mark.parametrize(
    ("pol", "facts", "action", "rules"),
    [
        # rotation, default 90: key in daily use, so only its age matters
        (DEFAULT, key(age=days(89), idle=days(1)), Action.NONE, NO_RULES),
        (DEFAULT, key(age=days(90), idle=days(1)), Action.NONE, NO_RULES),
        (DEFAULT, key(age=days(90) + SECOND, idle=days(1)), Action.DELETE, ROTATION),
        (DEFAULT, key(age=days(91), idle=days(1)), Action.DELETE, ROTATION),
        # unused, default 90/90: a never-used key counts from its creation, so both rules break together
        (DEFAULT, key(age=days(89)), Action.NONE, NO_RULES),
        (DEFAULT, key(age=days(90)), Action.NONE, NO_RULES),
        (DEFAULT, key(age=days(90) + SECOND), Action.DELETE, BOTH),
        (DEFAULT, key(age=days(91)), Action.DELETE, BOTH),
        # unused 90 isolated from rotation (rotation limit far away), counted from the last use
        (policy(365, 90), key(age=days(200), idle=days(89)), Action.NONE, NO_RULES),
        (policy(365, 90), key(age=days(200), idle=days(90)), Action.NONE, NO_RULES),
        (policy(365, 90), key(age=days(200), idle=days(90) + SECOND), Action.DELETE, UNUSED),
        (policy(365, 90), key(age=days(200), idle=days(91)), Action.DELETE, UNUSED),
        # cis-1.4 rotation 90
        (CIS_14, key(age=days(89), idle=days(1)), Action.NONE, NO_RULES),
        (CIS_14, key(age=days(90), idle=days(1)), Action.NONE, NO_RULES),
        (CIS_14, key(age=days(90) + SECOND, idle=days(1)), Action.DELETE, ROTATION),
        (CIS_14, key(age=days(91), idle=days(1)), Action.DELETE, ROTATION),
        # cis-1.4 unused 45, last used
        (CIS_14, key(age=days(60), idle=days(44)), Action.NONE, NO_RULES),
        (CIS_14, key(age=days(60), idle=days(45)), Action.NONE, NO_RULES),
        (CIS_14, key(age=days(60), idle=days(45) + SECOND), Action.DELETE, UNUSED),
        (CIS_14, key(age=days(60), idle=days(46)), Action.DELETE, UNUSED),
        # cis-1.4 unused 45, never used: counts from created_at
        (CIS_14, key(age=days(44)), Action.NONE, NO_RULES),
        (CIS_14, key(age=days(45)), Action.NONE, NO_RULES),
        (CIS_14, key(age=days(45) + SECOND), Action.DELETE, UNUSED),
        (CIS_14, key(age=days(46)), Action.DELETE, UNUSED),
        # cis-1.4, both at once
        (CIS_14, key(age=days(91), idle=days(46)), Action.DELETE, BOTH),
        (CIS_14, key(age=days(91)), Action.DELETE, BOTH),
    ],
    ids=[
        "default-rotation-89d",
        "default-rotation-90d",
        "default-rotation-90d+1s",
        "default-rotation-91d",
        "default-never-used-89d",
        "default-never-used-90d",
        "default-never-used-90d+1s",
        "default-never-used-91d",
        "unused90-idle-89d",
        "unused90-idle-90d",
        "unused90-idle-90d+1s",
        "unused90-idle-91d",
        "cis14-rotation-89d",
        "cis14-rotation-90d",
        "cis14-rotation-90d+1s",
        "cis14-rotation-91d",
        "cis14-unused-idle-44d",
        "cis14-unused-idle-45d",
        "cis14-unused-idle-45d+1s",
        "cis14-unused-idle-46d",
        "cis14-never-used-44d",
        "cis14-never-used-45d",
        "cis14-never-used-45d+1s",
        "cis14-never-used-46d",
        "cis14-both-used",
        "cis14-both-never-used",
    ],
)
def test_thresholds(pol: Policy, facts: KeyFacts, action: Action, rules: tuple[Rule, ...]) -> None:
    decision = decide_one(facts, pol)

    assert decision.action is action
    assert decision.rules == rules


@pytest.mark.parametrize(
    ("facts", "action", "rules"),
    [
        (key(age=days(400), idle=days(1)), Action.DELETE, ROTATION),
        (key(age=days(400), idle=timedelta(minutes=5)), Action.DELETE, ROTATION),
        (key(age=days(1), idle=timedelta(hours=1)), Action.NONE, NO_RULES),
        (key(age=days(1)), Action.NONE, NO_RULES),
        (key(age=timedelta(0)), Action.NONE, NO_RULES),
    ],
    ids=[
        "old-key-used-yesterday-rotation-only",
        "old-key-used-minutes-ago-rotation-only",
        "new-key-used-recently",
        "new-key-never-used",
        "created-this-instant",
    ],
)
def test_recently_used_or_recently_created(facts: KeyFacts, action: Action, rules: tuple[Rule, ...]) -> None:
    decision = decide_one(facts, CIS_14)

    assert decision.action is action
    assert decision.rules == rules


# --- reasons carry the numbers ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("pol", "facts", "reason"),
    [
        (DEFAULT, key(age=days(91), idle=days(1)), "created 91 days ago, limit 90"),
        (CIS_14, key(age=days(60), idle=days(50)), "last used 50 days ago, limit 45"),
        (CIS_14, key(age=days(50)), "never used, created 50 days ago, limit 45"),
        (
            CIS_14,
            key(age=days(100), idle=days(46)),
            "created 100 days ago, limit 90; last used 46 days ago, limit 45",
        ),
        (
            policy(30, 7),
            key(age=days(31)),
            "created 31 days ago, limit 30; never used, created 31 days ago, limit 7",
        ),
        (DEFAULT, key(age=days(10), idle=days(2)), "within policy"),
    ],
    ids=["rotation", "unused-last-used", "unused-never-used", "both-used", "both-never-used", "compliant"],
)
def test_reason_names_the_rule_and_the_numbers(pol: Policy, facts: KeyFacts, reason: str) -> None:
    assert decide_one(facts, pol).reason == reason


# --- key_age_days and due_at --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("age", "expected"),
    [
        (timedelta(0), 0),
        (days(1) - SECOND, 0),
        (days(1), 1),
        (days(89) + timedelta(hours=23), 89),
        (days(90), 90),
        (days(90) + SECOND, 90),
        (days(91), 91),
    ],
    ids=["0", "1d-1s", "1d", "89d23h", "90d", "90d+1s", "91d"],
)
def test_key_age_days_counts_whole_days(age: timedelta, expected: int) -> None:
    assert decide_one(key(age=age, idle=timedelta(0))).key_age_days == expected


@pytest.mark.parametrize(
    ("pol", "facts", "due_at"),
    [
        (DEFAULT, key(age=days(10)), NOW + days(80)),
        (CIS_14, key(age=days(10)), NOW + days(35)),
        (CIS_14, key(age=days(60), idle=days(5)), NOW + days(30)),
        (CIS_14, key(age=days(10), idle=days(9)), NOW + days(36)),
        (DEFAULT, key(age=days(100), idle=days(1)), NOW - days(10)),
        (CIS_14, key(age=days(50), idle=days(50)), NOW - days(5)),
        (DEFAULT, key(age=days(10), status="Inactive"), None),
        (DEFAULT, key(age=days(400), status="Inactive"), None),
    ],
    ids=[
        "default-never-used",
        "cis14-never-used-unused-first",
        "cis14-rotation-first",
        "cis14-unused-first-from-last-use",
        "already-past-rotation",
        "already-past-unused",
        "inactive-young",
        "inactive-old",
    ],
)
def test_due_at_is_the_earlier_mark(pol: Policy, facts: KeyFacts, due_at: datetime | None) -> None:
    assert decide_one(facts, pol).due_at == due_at


def test_decision_copies_the_key_facts() -> None:
    facts = key(age=days(91), idle=days(3))

    decision = decide_one(facts)

    assert decision.access_key_id == KEY_A
    assert decision.key_status == "Active"
    assert decision.key_created_at == NOW - days(91)
    assert decision.last_used_at == NOW - days(3)


def test_a_decision_is_frozen_closed_and_plans_nothing_unless_told() -> None:
    decision = decide_one(key(age=days(91), idle=days(3)))
    fields = decision.model_dump(exclude={"planned_action"})

    assert Decision.model_validate(fields).planned_action is None
    with pytest.raises(ValidationError):
        decision.action = Action.NONE  # type: ignore[misc]
    with pytest.raises(ValidationError, match="Extra inputs are not permitted"):
        Decision.model_validate({**fields, "approved_by": "someone"})


# --- users with two keys ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("keys", "expected"),
    [
        (
            (key(KEY_A, age=days(120), idle=days(1)), key(KEY_B, age=days(10), idle=days(1))),
            {KEY_A: Action.DELETE, KEY_B: Action.NONE},
        ),
        (
            (key(KEY_A, age=days(10), idle=days(1)), key(KEY_B, age=days(120), idle=days(100))),
            {KEY_A: Action.NONE, KEY_B: Action.DELETE},
        ),
        (
            (key(KEY_A, age=days(120), status="Inactive"), key(KEY_B, age=days(120), idle=days(1))),
            {KEY_A: Action.NONE, KEY_B: Action.DELETE},
        ),
        (
            (key(KEY_A, age=days(120)), key(KEY_B, age=days(95), idle=days(2))),
            {KEY_A: Action.DELETE, KEY_B: Action.DELETE},
        ),
        (
            (key(KEY_A, age=days(30), idle=days(1)), key(KEY_B, age=days(20))),
            {KEY_A: Action.NONE, KEY_B: Action.NONE},
        ),
    ],
    ids=[
        "first-violates-second-kept",
        "second-violates-first-kept",
        "inactive-old-and-active-violating",
        "both-violate",
        "both-compliant",
    ],
)
def test_two_keys_are_decided_separately(keys: tuple[KeyFacts, ...], expected: dict[str, Action]) -> None:
    decisions = decide(user(*keys), DEFAULT, (), NOW)

    assert [d.access_key_id for d in decisions] == [KEY_A, KEY_B]
    assert actions(decisions) == expected


def test_rotation_of_one_key_and_non_use_of_the_other() -> None:
    old_in_use = key(KEY_A, age=days(100), idle=days(1))
    young_idle = key(KEY_B, age=days(60), idle=days(50))

    first, second = decide(user(old_in_use, young_idle), Policy(thresholds=PRESETS["cis-1.4"]), (), NOW)

    assert (first.access_key_id, first.action, first.rules) == (KEY_A, Action.DELETE, ROTATION)
    assert (second.access_key_id, second.action, second.rules) == (KEY_B, Action.DELETE, UNUSED)


def test_user_without_keys_gets_no_decisions() -> None:
    assert decide(user(), DEFAULT, (exemption(),), NOW) == ()


# --- inactive keys ---------------------------------------------------------------------------------


@pytest.mark.parametrize("mode", list(Mode), ids=[m.value for m in Mode])
@pytest.mark.parametrize("status", ["Inactive", "Expired"])
def test_non_active_keys_are_never_acted_on(status: str, mode: Mode) -> None:
    decision = decide_one(key(age=days(400), status=status), policy(mode=mode))

    assert decision.action is Action.NONE
    assert decision.rules == ()
    assert decision.key_status == status
    assert decision.reason == f"key is {status}; the rules apply to active keys only"
    assert decision.due_at is None


def test_inactive_reason_mentions_inactive() -> None:
    assert "Inactive" in decide_one(key(age=days(400), status="Inactive")).reason


# --- exemptions ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("exemptions", "action"),
    [
        ((), Action.DELETE),
        ((exemption(),), Action.EXEMPT),
        ((exemption(expires_at=NOW + SECOND),), Action.EXEMPT),
        ((exemption(expires_at=NOW),), Action.DELETE),
        ((exemption(expires_at=NOW - SECOND),), Action.DELETE),
        ((exemption(expires_at=NOW - days(30)),), Action.DELETE),
        ((exemption(user_name="*"),), Action.EXEMPT),
        ((exemption(user_name="bob"),), Action.DELETE),
        ((exemption(access_key_id=KEY_A),), Action.EXEMPT),
        ((exemption(access_key_id=KEY_B),), Action.DELETE),
        ((exemption(account_id=OTHER_ACCOUNT),), Action.DELETE),
        ((exemption(account_id=OTHER_ACCOUNT, user_name="*"),), Action.DELETE),
        ((exemption(expires_at=NOW - days(1)), exemption(expires_at=NOW + days(1))), Action.EXEMPT),
        ((exemption(user_name="bob"), exemption(user_name="*")), Action.EXEMPT),
    ],
    ids=[
        "none",
        "active",
        "expires-in-1s",
        "expires-at-now-is-expired",
        "expired-1s-ago",
        "expired-30d-ago",
        "wildcard-user",
        "other-user",
        "this-key",
        "other-key-of-the-user",
        "other-account",
        "wildcard-in-other-account",
        "expired-then-active",
        "other-user-then-wildcard",
    ],
)
def test_exemptions(exemptions: tuple[Exemption, ...], action: Action) -> None:
    decision = decide_one(VIOLATING, DEFAULT, exemptions)

    assert decision.action is action
    assert decision.rules == BOTH


def test_exempt_reason_names_expiry_owner_and_reason() -> None:
    decision = decide_one(VIOLATING, DEFAULT, (exemption(),))

    assert decision.reason == (
        "created 120 days ago, limit 90; never used, created 120 days ago, limit 90; "
        f"exempt until {IN_A_MONTH.astimezone(UTC):%Y-%m-%d %H:%M} UTC "
        "(platform-team: migration to IAM Identity Center)"
    )


def test_key_specific_exemption_leaves_the_other_key() -> None:
    keys = (key(KEY_A, age=days(120)), key(KEY_B, age=days(100), idle=days(1)))

    decisions = decide(user(*keys), DEFAULT, (exemption(access_key_id=KEY_A),), NOW)

    assert actions(decisions) == {KEY_A: Action.EXEMPT, KEY_B: Action.DELETE}


def test_exemptions_may_be_a_one_shot_iterable() -> None:
    keys = (key(KEY_A, age=days(120)), key(KEY_B, age=days(100), idle=days(1)))

    def once() -> Iterator[Exemption]:
        yield exemption()

    decisions = decide(user(*keys), DEFAULT, once(), NOW)

    assert actions(decisions) == {KEY_A: Action.EXEMPT, KEY_B: Action.EXEMPT}


@pytest.mark.parametrize("mode", list(Mode), ids=[m.value for m in Mode])
def test_exemption_wins_over_every_mode(mode: Mode) -> None:
    assert decide_one(VIOLATING, policy(mode=mode), (exemption(),)).action is Action.EXEMPT


def test_exemption_does_not_change_a_compliant_key() -> None:
    decision = decide_one(key(age=days(10), idle=days(1)), DEFAULT, (exemption(),))

    assert decision.action is Action.NONE
    assert decision.reason == "within policy"


# --- opt-out tag -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("opt_out", "tags", "action"),
    [
        (None, {OPT_OUT: "true"}, Action.DELETE),
        (None, {}, Action.DELETE),
        (OPT_OUT, {OPT_OUT: "true"}, Action.EXEMPT),
        (OPT_OUT, {OPT_OUT: "TRUE"}, Action.EXEMPT),
        (OPT_OUT, {OPT_OUT: "True"}, Action.EXEMPT),
        (OPT_OUT, {OPT_OUT: "false"}, Action.DELETE),
        (OPT_OUT, {OPT_OUT: "yes"}, Action.DELETE),
        (OPT_OUT, {OPT_OUT: ""}, Action.DELETE),
        (OPT_OUT, {}, Action.DELETE),
        (OPT_OUT, {"other-tag": "true"}, Action.DELETE),
    ],
    ids=[
        "off-by-default-tag-present",
        "off-no-tag",
        "true",
        "TRUE",
        "True",
        "false",
        "yes",
        "empty",
        "configured-tag-absent",
        "another-tag-true",
    ],
)
def test_opt_out_tag(opt_out: str | None, tags: dict[str, str], action: Action) -> None:
    decision = decide_one(VIOLATING, policy(opt_out=opt_out), tags=tags)

    assert decision.action is action
    assert decision.rules == BOTH


def test_opt_out_reason_names_the_tag() -> None:
    decision = decide_one(VIOLATING, policy(opt_out=OPT_OUT), tags={OPT_OUT: "TRUE"})

    assert decision.reason.endswith(f"; exempt by user tag {OPT_OUT}=true")


def test_opt_out_tag_does_not_change_a_compliant_key() -> None:
    decision = decide_one(key(age=days(1)), policy(opt_out=OPT_OUT), tags={OPT_OUT: "true"})

    assert decision.action is Action.NONE


# --- modes -----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("mode", "action"),
    [
        (Mode.REPORT, Action.REPORT),
        (Mode.DEACTIVATE, Action.DEACTIVATE),
        (Mode.DELETE, Action.DELETE),
        (Mode.STAGED, Action.DEACTIVATE),
    ],
    ids=["report", "deactivate", "delete", "staged"],
)
def test_mode_picks_the_action_for_a_violating_key(mode: Mode, action: Action) -> None:
    decision = decide_one(key(age=days(91), idle=days(1)), policy(mode=mode))

    assert decision.action is action
    assert decision.rules == ROTATION


@pytest.mark.parametrize("mode", list(Mode), ids=[m.value for m in Mode])
def test_compliant_key_is_left_alone_in_every_mode(mode: Mode) -> None:
    decision = decide_one(key(age=days(90), idle=days(90)), policy(mode=mode))

    assert decision.action is Action.NONE
    assert decision.rules == ()


def test_report_mode_reason() -> None:
    decision = decide_one(key(age=days(91), idle=days(1)), policy(mode=Mode.REPORT))

    assert decision.reason == "created 91 days ago, limit 90; report mode, not changed"


@pytest.mark.parametrize(
    ("action", "mutates"),
    [
        (Action.NONE, False),
        (Action.REPORT, False),
        (Action.WARN, False),
        (Action.EXEMPT, False),
        (Action.DEACTIVATE, True),
        (Action.DELETE, True),
        (Action.REACTIVATE, True),
    ],
    ids=lambda value: value.value if isinstance(value, Action) else str(value),
)
def test_only_changes_to_keys_mutate(action: Action, mutates: bool) -> None:
    assert action.mutates is mutates


def test_rules_and_actions_keep_their_names() -> None:
    # The audit records and the lifecycle items store these; `akr audit --action` filters on them.
    assert [rule.value for rule in Rule] == ["rotation", "unused"]
    assert [action.value for action in Action] == [
        "none",
        "report",
        "warn",
        "exempt",
        "deactivate",
        "delete",
        "reactivate",
    ]


# --- purity ----------------------------------------------------------------------------------------


def test_decision_core_does_not_import_boto3() -> None:
    core = ", ".join(
        f"remediator.{name}" for name in ("decision", "policy", "exemptions", "facts", "permissions")
    )
    code = (
        f"import sys, {core}; "
        "print(sorted(m for m in ('boto3', 'botocore', 'aws_lambda_powertools') if m in sys.modules))"
    )

    result = subprocess.run([sys.executable, "-c", code], check=True, capture_output=True, text=True)

    assert result.stdout.strip() == "[]"


@pytest.mark.parametrize(
    ("protected", "path", "action"),
    [
        (None, "/break-glass/", Action.DELETE),
        ("/break-glass/", "/break-glass/", Action.EXEMPT),
        ("/break-glass/", "/break-glass/emergency/", Action.EXEMPT),
        ("/break-glass/", "/", Action.DELETE),
        ("/break-glass/", "/ci/break-glass/", Action.DELETE),
    ],
)
def test_protected_user_path(protected: str | None, path: str, action: Action) -> None:
    facts = user(VIOLATING).model_copy(update={"path": path})
    (decision,) = decide(facts, Policy(protected_user_path=protected), [], NOW)
    assert decision.action is action
