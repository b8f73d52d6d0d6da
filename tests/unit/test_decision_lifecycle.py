"""`decide` across a key's lifecycle, against a fixed clock: warnings before a key is due (at W-1, W and
W+1 days) and staged deletion of keys this service deactivated (at grace-1, grace and grace+1 days)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import UTC, datetime, timedelta

import pytest

from remediator.decision import Action, Decision, Rule, decide
from remediator.exemptions import Exemption
from remediator.facts import KeyFacts, UserFacts
from remediator.lifecycle import KeyLifecycle, Stage, deactivated_by_us
from remediator.policy import Mode, Policy, Thresholds

NOW = datetime(2025, 6, 1, 12, 0, tzinfo=UTC)
SECOND = timedelta(seconds=1)
ACCOUNT = "111122223333"
USER = "alice"
KEY_A = "AKIAAAAAAAAAAAAAAAAA"
KEY_B = "AKIABBBBBBBBBBBBBBBB"
OPT_OUT = "akr-opt-out"
BREAK_GLASS = "/break-glass/"
IN_A_MONTH = NOW + timedelta(days=30)

ROTATION = (Rule.ROTATION,)
NO_RULES: tuple[Rule, ...] = ()

# What each mode does to a violating key, so what a warning announces.
PLANNED = {
    Mode.REPORT: Action.REPORT,
    Mode.DEACTIVATE: Action.DEACTIVATE,
    Mode.DELETE: Action.DELETE,
    Mode.STAGED: Action.DEACTIVATE,
}


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


def inactive(key_id: str = KEY_A) -> KeyFacts:
    """An inactive key old enough to break both rules, were it active."""
    return key(key_id, age=days(200), idle=days(150), status="Inactive")


def user(*keys: KeyFacts, tags: dict[str, str] | None = None, path: str = "/") -> UserFacts:
    return UserFacts(
        account_id=ACCOUNT,
        user_name=USER,
        user_id="AIDAEXAMPLEUSERID0001",
        path=path,
        keys=keys,
        tags=tags or {},
    )


def policy(
    mode: Mode = Mode.STAGED,
    *,
    warn: int = 0,
    grace: int = 14,
    max_age: int = 90,
    max_unused: int = 90,
    opt_out: str | None = None,
    protected: str | None = None,
) -> Policy:
    return Policy(
        thresholds=Thresholds(max_key_age_days=max_age, max_unused_days=max_unused),
        mode=mode,
        grace_days=grace,
        warn_days_before=warn,
        opt_out_tag_key=opt_out,
        protected_user_path=protected,
    )


def exemption(*, access_key_id: str | None = None, expires_at: datetime = IN_A_MONTH) -> Exemption:
    return Exemption(
        account_id=ACCOUNT,
        user_name=USER,
        access_key_id=access_key_id,
        reason="migration to IAM Identity Center",
        owner="platform-team",
        expires_at=expires_at,
    )


def decide_one(
    facts: KeyFacts,
    pol: Policy,
    *,
    deactivated: Mapping[str, datetime] | None = None,
    exemptions: Iterable[Exemption] = (),
    tags: dict[str, str] | None = None,
    path: str = "/",
) -> Decision:
    (only,) = decide(user(facts, tags=tags, path=path), pol, exemptions, NOW, deactivated)
    return only


def due_in(d: timedelta, *, rule: Rule = Rule.ROTATION) -> KeyFacts:
    """An active key whose first mark is `d` after NOW, by `rule`: rotation under the 90-day limit (used
    yesterday), or non-use under the 90-day limit with rotation at 365 days (see UNUSED_FIRST)."""
    if rule is Rule.ROTATION:
        return key(age=days(90) - d, idle=days(1))
    return key(age=days(200), idle=days(90) - d)


WARN_14 = policy(Mode.DELETE, warn=14)
WARN_1 = policy(Mode.DELETE, warn=1)
UNUSED_FIRST = policy(Mode.DELETE, warn=14, max_age=365)


# --- warnings: W-1, W, W+1 days before the key is due ----------------------------------------------------


@pytest.mark.parametrize(
    ("pol", "facts", "action"),
    [
        # warn 14, rotation due
        (WARN_14, due_in(days(13)), Action.WARN),
        (WARN_14, due_in(days(14)), Action.WARN),
        (WARN_14, due_in(days(14) + SECOND), Action.NONE),
        (WARN_14, due_in(days(15)), Action.NONE),
        # warn 14, unused due (counted from the last use)
        (UNUSED_FIRST, due_in(days(13), rule=Rule.UNUSED), Action.WARN),
        (UNUSED_FIRST, due_in(days(14), rule=Rule.UNUSED), Action.WARN),
        (UNUSED_FIRST, due_in(days(14) + SECOND, rule=Rule.UNUSED), Action.NONE),
        (UNUSED_FIRST, due_in(days(15), rule=Rule.UNUSED), Action.NONE),
        # warn 14, never used: counted from the creation
        (WARN_14, key(age=days(77)), Action.WARN),
        (WARN_14, key(age=days(76)), Action.WARN),
        (WARN_14, key(age=days(76) - SECOND), Action.NONE),
        (WARN_14, key(age=days(75)), Action.NONE),
        # warn 1
        (WARN_1, due_in(days(0)), Action.WARN),
        (WARN_1, due_in(days(1)), Action.WARN),
        (WARN_1, due_in(days(2)), Action.NONE),
        # the last compliant instant is still a warning, one second later the key violates
        (WARN_14, due_in(days(0)), Action.WARN),
        (WARN_14, due_in(-SECOND), Action.DELETE),
        (UNUSED_FIRST, due_in(-SECOND, rule=Rule.UNUSED), Action.DELETE),
    ],
    ids=[
        "rotation-13d",
        "rotation-14d",
        "rotation-14d+1s",
        "rotation-15d",
        "unused-13d",
        "unused-14d",
        "unused-14d+1s",
        "unused-15d",
        "never-used-13d",
        "never-used-14d",
        "never-used-14d+1s",
        "never-used-15d",
        "warn1-0d",
        "warn1-1d",
        "warn1-2d",
        "due-now",
        "rotation-due-1s-ago",
        "unused-due-1s-ago",
    ],
)
def test_warning_window(pol: Policy, facts: KeyFacts, action: Action) -> None:
    decision = decide_one(facts, pol)

    assert decision.action is action
    assert decision.planned_action is (Action.DELETE if action is Action.WARN else None)
    if action is Action.WARN:
        assert decision.rules == NO_RULES
        assert decision.due_at is not None
        assert timedelta(0) <= decision.due_at - NOW <= days(pol.warn_days_before)


ACTING_MODES = [m for m in Mode if m is not Mode.REPORT]


@pytest.mark.parametrize("mode", ACTING_MODES, ids=[m.value for m in ACTING_MODES])
def test_warning_announces_the_modes_action(mode: Mode) -> None:
    decision = decide_one(due_in(days(7)), policy(mode, warn=14))

    assert decision.action is Action.WARN
    assert decision.planned_action is PLANNED[mode]
    assert not decision.action.mutates
    assert decision.due_at == NOW + days(7)


@pytest.mark.parametrize(
    ("mode", "reason"),
    [
        (Mode.DELETE, "within policy until 2025-06-08; then delete"),
        (Mode.STAGED, "within policy until 2025-06-08; then deactivate"),
        (Mode.DEACTIVATE, "within policy until 2025-06-08; then deactivate"),
    ],
    ids=["delete", "staged", "deactivate"],
)
def test_warning_reason_names_the_due_date_and_the_action(mode: Mode, reason: str) -> None:
    assert decide_one(due_in(days(7)), policy(mode, warn=14)).reason == reason


def test_report_mode_warns_nobody() -> None:
    # Nothing will happen at the due date in report mode: no warning.
    assert decide_one(due_in(days(7)), policy(Mode.REPORT, warn=14)).action is Action.NONE


@pytest.mark.parametrize(
    "facts",
    [due_in(days(0)), due_in(days(1)), due_in(days(14)), key(age=days(90))],
    ids=["due-now", "due-1d", "due-14d", "never-used-due-now"],
)
@pytest.mark.parametrize("mode", list(Mode), ids=[m.value for m in Mode])
def test_no_warning_when_warn_days_before_is_zero(mode: Mode, facts: KeyFacts) -> None:
    decision = decide_one(facts, policy(mode, warn=0))

    assert decision.action is Action.NONE
    assert decision.planned_action is None
    assert decision.reason == "within policy"


@pytest.mark.parametrize(
    "facts",
    [due_in(-SECOND), due_in(days(-1)), key(age=days(91)), key(age=days(200), idle=days(1))],
    ids=["1s-past", "1d-past", "never-used-91d", "rotation-200d"],
)
@pytest.mark.parametrize("mode", list(Mode), ids=[m.value for m in Mode])
def test_a_violating_key_is_never_warned(mode: Mode, facts: KeyFacts) -> None:
    decision = decide_one(facts, policy(mode, warn=90))

    assert decision.action is PLANNED[mode]
    assert decision.rules != NO_RULES
    assert decision.planned_action is None


@pytest.mark.parametrize("mode", list(Mode), ids=[m.value for m in Mode])
def test_an_inactive_key_is_never_warned(mode: Mode) -> None:
    decision = decide_one(due_in(days(1)).model_copy(update={"status": "Inactive"}), policy(mode, warn=14))

    assert decision.action is Action.NONE
    assert decision.planned_action is None
    assert decision.due_at is None


def test_two_keys_are_warned_separately() -> None:
    keys = (
        key(KEY_A, age=days(80), idle=days(1)),
        key(KEY_B, age=days(10), idle=days(1)),
    )

    first, second = decide(user(*keys), policy(Mode.DELETE, warn=14), (), NOW)

    assert (first.action, first.planned_action, first.due_at) == (Action.WARN, Action.DELETE, NOW + days(10))
    assert (second.action, second.planned_action) == (Action.NONE, None)


# --- staged deletion: grace-1, grace, grace+1 days after this service deactivated the key ----------------


@pytest.mark.parametrize(
    ("grace", "since", "action"),
    [
        (14, NOW - days(13), Action.NONE),
        (14, NOW - days(14), Action.NONE),
        (14, NOW - days(14) - SECOND, Action.DELETE),
        (14, NOW - days(15), Action.DELETE),
        (30, NOW - days(29), Action.NONE),
        (30, NOW - days(30), Action.NONE),
        (30, NOW - days(30) - SECOND, Action.DELETE),
        (30, NOW - days(31), Action.DELETE),
        (0, NOW, Action.NONE),
        (0, NOW - SECOND, Action.DELETE),
        (14, NOW + days(1), Action.NONE),
    ],
    ids=[
        "grace14-13d",
        "grace14-14d",
        "grace14-14d+1s",
        "grace14-15d",
        "grace30-29d",
        "grace30-30d",
        "grace30-30d+1s",
        "grace30-31d",
        "grace0-now",
        "grace0-1s",
        "deactivated-in-the-future",
    ],
)
def test_staged_deletion_after_the_grace_period(grace: int, since: datetime, action: Action) -> None:
    decision = decide_one(inactive(), policy(Mode.STAGED, grace=grace), deactivated={KEY_A: since})

    assert decision.action is action
    assert decision.rules == NO_RULES
    assert decision.due_at is None
    assert decision.planned_action is None


@pytest.mark.parametrize("mode", [Mode.REPORT, Mode.DEACTIVATE, Mode.DELETE], ids=lambda m: m.value)
@pytest.mark.parametrize(
    "since", [NOW - days(13), NOW - days(15), NOW - days(400)], ids=["13d", "15d", "400d"]
)
def test_no_staged_deletion_outside_staged_mode(mode: Mode, since: datetime) -> None:
    decision = decide_one(inactive(), policy(mode, grace=14), deactivated={KEY_A: since})

    assert decision.action is Action.NONE
    assert decision.reason == "key is Inactive; the rules apply to active keys only"


@pytest.mark.parametrize(
    "deactivated",
    [None, {}, {KEY_B: NOW - days(400)}],
    ids=["no-map", "empty-map", "other-key-in-map"],
)
def test_an_inactive_key_not_deactivated_by_us_is_left_alone(deactivated: dict[str, datetime] | None) -> None:
    decision = decide_one(inactive(), policy(Mode.STAGED), deactivated=deactivated)

    assert decision.action is Action.NONE
    assert decision.reason == "key is Inactive; the rules apply to active keys only"


def test_only_the_key_deactivated_by_us_is_deleted() -> None:
    keys = (inactive(KEY_A), inactive(KEY_B))

    first, second = decide(user(*keys), policy(Mode.STAGED), (), NOW, {KEY_A: NOW - days(20)})

    assert (first.access_key_id, first.action) == (KEY_A, Action.DELETE)
    assert (second.access_key_id, second.action) == (KEY_B, Action.NONE)


@pytest.mark.parametrize("since", [NOW - days(1), NOW - days(400)], ids=["within-grace", "past-grace"])
@pytest.mark.parametrize(
    ("mode", "facts", "expected"),
    [
        (Mode.STAGED, key(age=days(10), idle=days(1)), (Action.NONE, NO_RULES, None)),
        (Mode.STAGED, key(age=days(91), idle=days(1)), (Action.DEACTIVATE, ROTATION, None)),
        (Mode.STAGED, key(age=days(91)), (Action.DEACTIVATE, (Rule.ROTATION, Rule.UNUSED), None)),
        (Mode.STAGED, key(age=days(80), idle=days(1)), (Action.WARN, NO_RULES, Action.DEACTIVATE)),
        (Mode.REPORT, key(age=days(91), idle=days(1)), (Action.REPORT, ROTATION, None)),
    ],
    ids=["compliant", "violating", "violating-never-used", "due-soon", "violating-report-mode"],
)
def test_a_reactivated_key_is_evaluated_afresh(
    since: datetime, mode: Mode, facts: KeyFacts, expected: tuple[Action, tuple[Rule, ...], Action | None]
) -> None:
    """Someone made the key active again: the old deactivation no longer counts, the rules do."""
    decision = decide_one(facts, policy(mode, warn=14), deactivated={KEY_A: since})

    assert (decision.action, decision.rules, decision.planned_action) == expected
    assert "deactivated by this service" not in decision.reason


@pytest.mark.parametrize(
    ("exemptions", "tags", "path", "pol"),
    [
        ((exemption(),), None, "/", policy()),
        ((exemption(access_key_id=KEY_A),), None, "/", policy()),
        ((), {OPT_OUT: "true"}, "/", policy(opt_out=OPT_OUT)),
        ((), None, BREAK_GLASS, policy(protected=BREAK_GLASS)),
    ],
    ids=["user-exemption", "key-exemption", "opt-out-tag", "protected-path"],
)
def test_an_exemption_stops_the_staged_deletion(
    exemptions: tuple[Exemption, ...], tags: dict[str, str] | None, path: str, pol: Policy
) -> None:
    decision = decide_one(
        inactive(), pol, deactivated={KEY_A: NOW - days(20)}, exemptions=exemptions, tags=tags, path=path
    )

    assert decision.action is Action.EXEMPT
    assert not decision.action.mutates


@pytest.mark.parametrize(
    "exemptions",
    [(exemption(expires_at=NOW),), (exemption(expires_at=NOW - SECOND),), (exemption(access_key_id=KEY_B),)],
    ids=["expires-now", "expired", "other-key"],
)
def test_an_exemption_not_in_force_does_not_stop_the_staged_deletion(
    exemptions: tuple[Exemption, ...],
) -> None:
    decision = decide_one(inactive(), policy(), deactivated={KEY_A: NOW - days(20)}, exemptions=exemptions)

    assert decision.action is Action.DELETE


# --- reasons carry the dates -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("since", "exemptions", "reason"),
    [
        (
            NOW - days(10),
            (),
            "deactivated by this service on 2025-05-22; deleted after 2025-06-05 if still inactive",
        ),
        (
            NOW - days(14),
            (),
            "deactivated by this service on 2025-05-18; deleted after 2025-06-01 if still inactive",
        ),
        (
            NOW - days(20),
            (),
            "deactivated by this service on 2025-05-12; the 14-day grace period has passed",
        ),
        (
            NOW - days(20),
            (exemption(),),
            "deactivated by this service on 2025-05-12; "
            "exempt until 2025-07-01 12:00 UTC (platform-team: migration to IAM Identity Center)",
        ),
    ],
    ids=["within-grace", "last-day-of-grace", "past-grace", "exempt"],
)
def test_staged_reasons_carry_the_dates(
    since: datetime, exemptions: tuple[Exemption, ...], reason: str
) -> None:
    decision = decide_one(inactive(), policy(Mode.STAGED), deactivated={KEY_A: since}, exemptions=exemptions)

    assert decision.reason == reason


# --- the map `decide` is given ----------------------------------------------------------------------------


def lifecycle(
    key_id: str, stage: Stage, deactivated_at: datetime | None, *, staged: bool = True
) -> KeyLifecycle:
    return KeyLifecycle(
        account_id=ACCOUNT,
        access_key_id=key_id,
        user_name=USER,
        stage=stage,
        deactivated_at=deactivated_at,
        staged=staged,
        updated_at=NOW,
    )


def test_deactivated_by_us_keeps_only_keys_still_deactivated() -> None:
    since = NOW - days(3)
    records = {
        "AKIADEACTIVATED00001": lifecycle("AKIADEACTIVATED00001", Stage.DEACTIVATED, since),
        "AKIAREACTIVATED00001": lifecycle("AKIAREACTIVATED00001", Stage.REACTIVATED, since),
        "AKIADELETED000000001": lifecycle("AKIADELETED000000001", Stage.DELETED, since),
        "AKIAWARNED0000000001": lifecycle("AKIAWARNED0000000001", Stage.WARNED, None),
        "AKIADETECTED00000001": lifecycle("AKIADETECTED00000001", Stage.DETECTED, None),
        "AKIANODATE0000000001": lifecycle("AKIANODATE0000000001", Stage.DEACTIVATED, None),
        # Deactivated in deactivate mode: switching to staged later does not delete it.
        "AKIANOTSTAGED0000001": lifecycle("AKIANOTSTAGED0000001", Stage.DEACTIVATED, since, staged=False),
    }

    assert deactivated_by_us(records) == {"AKIADEACTIVATED00001": since}


def test_an_exempt_key_is_not_warned() -> None:
    # Nothing will happen to it at its due date, so nobody is told that something will.
    facts = due_in(days(5))
    decision = decide(user(facts), WARN_14, [exemption()], NOW)[0]
    assert decision.action is Action.NONE
    assert decision.planned_action is None
    assert decision.reason == (
        "within policy until 2025-06-06; "
        "exempt until 2025-07-01 12:00 UTC (platform-team: migration to IAM Identity Center)"
    )


def test_a_key_used_after_its_deactivation_is_not_deleted() -> None:
    # Reactivated, used and deactivated again between two sweeps: never deleted on the old deactivation.
    since = NOW - days(30)
    used_again = KeyFacts(
        access_key_id=KEY_A, status="Inactive", created_at=NOW - days(200), last_used_at=since + days(2)
    )
    decision = decide_one(used_again, policy(Mode.STAGED), deactivated={KEY_A: since})
    assert decision.action is Action.NONE
    assert decision.reason.endswith("used since, on 2025-05-04: not deleted")


@pytest.mark.parametrize(
    ("used", "action"),
    [(-SECOND, Action.DELETE), (timedelta(0), Action.DELETE), (SECOND, Action.NONE)],
    ids=["used-1s-before", "used-at-the-deactivation", "used-1s-after"],
)
def test_a_use_counts_only_after_the_deactivation(used: timedelta, action: Action) -> None:
    # The last use recorded at the very instant of the deactivation is the use before it: no sign that
    # someone made the key active again.
    since = NOW - days(30)
    facts = KeyFacts(
        access_key_id=KEY_A, status="Inactive", created_at=NOW - days(200), last_used_at=since + used
    )

    assert decide_one(facts, policy(Mode.STAGED), deactivated={KEY_A: since}).action is action
