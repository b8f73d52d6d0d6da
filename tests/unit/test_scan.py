"""The pure part of `akr scan` (org_bootstrap.review.scan): what one key and user would see, now and within
the horizon, every threshold at N-1, N and N+1 days, an exemption's expiry included; and nomination. The
accounts and the runner are in test_scan_accounts."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from org_bootstrap.review.scan import nominate, plan_user
from remediator.decision import Action, Rule
from remediator.exemptions import Exemption
from remediator.facts import KeyFacts, UserFacts
from remediator.lifecycle import KeyLifecycle, Stage
from remediator.policy import Mode, Policy, Thresholds
from tests.fakes import FakeMember
from tests.functional.test_sweep import report_of

NOW = datetime(2026, 11, 28, 6, 0, tzinfo=UTC)
DAY = timedelta(days=1)
UNTIL = NOW + 30 * DAY
ACCOUNT = "222222222222"
OTHER = "333333333333"
POLICY = Policy(thresholds=Thresholds(max_key_age_days=90, max_unused_days=45), mode=Mode.DELETE)
ROTATION, UNUSED = (Rule.ROTATION,), (Rule.UNUSED,)
Seen = list[tuple[Action, datetime | None, tuple[Rule, ...]]]


def user(*keys: KeyFacts, name: str = "alice", path: str = "/", account: str = ACCOUNT) -> UserFacts:
    return UserFacts(account_id=account, user_name=name, user_id=f"AIDA{name.upper()}", path=path, keys=keys)


def key(
    age: float, used: float | None = None, *, status: str = "Active", key_id: str = "AKIAKEY0000000000001"
) -> KeyFacts:
    """Created `age` days before NOW, last used `used` days before NOW (None: never)."""
    return KeyFacts(
        access_key_id=key_id,
        status=status,
        created_at=NOW - age * DAY,
        last_used_at=None if used is None else NOW - used * DAY,
    )


def seen(
    facts: UserFacts,
    policy: Policy = POLICY,
    *,
    until: datetime = UNTIL,
    exemptions: tuple[Exemption, ...] = (),
    deactivated: dict[str, datetime] | None = None,
) -> Seen:
    """(action, when (None: now), rules) of each row."""
    return [
        (row.action, row.at, row.rules)
        for row in plan_user(facts, policy, exemptions, NOW, until, deactivated or {})
    ]


def exemption(expires_in_days: float, user_name: str = "alice", key_id: str | None = None) -> Exemption:
    return Exemption(
        account_id=ACCOUNT,
        user_name=user_name,
        access_key_id=key_id,
        reason="vaulted",
        owner="secops",
        expires_at=NOW + expires_in_days * DAY,
    )


# -- the rotation rule: now, and the horizon -----------------------------------------------------------


@pytest.mark.parametrize(
    ("age", "expected"),
    [
        (89, [(Action.DELETE, NOW + DAY, ROTATION)]),  # due tomorrow
        (90, [(Action.DELETE, NOW, ROTATION)]),  # exactly 90 days: within policy now, acted on after now
        (91, [(Action.DELETE, None, ROTATION)]),  # violating now
    ],
)
def test_rotation_around_its_limit(age: int, expected: Seen) -> None:
    assert seen(user(key(age, used=1))) == expected


@pytest.mark.parametrize(
    ("age", "expected"),
    [
        (59, []),  # due one day after the horizon
        (60, []),  # due exactly at the horizon's end: still within policy then
        (61, [(Action.DELETE, NOW + 29 * DAY, ROTATION)]),
    ],
)
def test_rotation_around_the_horizon(age: int, expected: Seen) -> None:
    assert seen(user(key(age, used=1))) == expected


# -- the unused rule: now, and the horizon -------------------------------------------------------------


@pytest.mark.parametrize(
    ("used", "expected"),
    [
        (44, [(Action.DELETE, NOW + DAY, UNUSED)]),
        (45, [(Action.DELETE, NOW, UNUSED)]),
        (46, [(Action.DELETE, None, UNUSED)]),
    ],
)
def test_unused_around_its_limit(used: int, expected: Seen) -> None:
    assert seen(user(key(50, used=used))) == expected


@pytest.mark.parametrize(
    ("used", "expected"),
    [
        (14, []),
        (15, []),
        (16, [(Action.DELETE, NOW + 29 * DAY, UNUSED)]),
    ],
)
def test_unused_around_the_horizon(used: int, expected: Seen) -> None:
    # 50 days old: its rotation is due in 40 days, after the horizon.
    assert seen(user(key(50, used=used))) == expected


@pytest.mark.parametrize(
    ("age", "expected"),
    [
        (44, [(Action.DELETE, NOW + DAY, UNUSED)]),
        (45, [(Action.DELETE, NOW, UNUSED)]),
        (46, [(Action.DELETE, None, UNUSED)]),
    ],
)
def test_a_key_never_used_counts_from_its_creation(age: int, expected: Seen) -> None:
    assert seen(user(key(age))) == expected


def test_both_rules_now_with_the_reason_decide_gives() -> None:
    (row,) = plan_user(user(key(120)), POLICY, (), NOW, UNTIL, {})
    assert (row.action, row.at, row.rules, row.age_days, row.last_used_at, row.status) == (
        Action.DELETE,
        None,
        (Rule.ROTATION, Rule.UNUSED),
        120,
        None,
        "Active",
    )
    assert row.reason == "created 120 days ago, limit 90; never used, created 120 days ago, limit 45"


def test_a_future_row_has_the_decision_just_after_the_due_time_and_todays_age() -> None:
    (row,) = plan_user(user(key(80, used=1)), POLICY, (), NOW, UNTIL, {})
    assert (row.at, row.age_days, row.reason) == (NOW + 10 * DAY, 80, "created 90 days ago, limit 90")


def test_a_horizon_of_zero_shows_only_what_happens_now() -> None:
    facts = user(key(91, used=1, key_id="AKIAOLD0000000000001"), key(89, used=1))
    assert seen(facts, until=NOW) == [(Action.DELETE, None, ROTATION)]


# -- modes, exemptions, inactive keys --------------------------------------------------------------------


def test_report_mode_reports_now_and_later() -> None:
    policy = POLICY.model_copy(update={"mode": Mode.REPORT})
    facts = user(key(120, used=1, key_id="AKIAOLD0000000000001"), key(80, used=1))
    assert seen(facts, policy) == [(Action.REPORT, None, ROTATION), (Action.REPORT, NOW + 10 * DAY, ROTATION)]


def test_staged_and_deactivate_modes_deactivate() -> None:
    for mode in (Mode.STAGED, Mode.DEACTIVATE):
        policy = POLICY.model_copy(update={"mode": mode})
        assert seen(user(key(80, used=1)), policy) == [(Action.DEACTIVATE, NOW + 10 * DAY, ROTATION)]


@pytest.mark.parametrize(
    ("days_ago", "expected"),
    [
        (13, [(Action.DELETE, NOW + DAY, ())]),
        (14, [(Action.DELETE, NOW, ())]),  # the grace period ends now: deleted by the next run
        (15, [(Action.DELETE, None, ())]),
    ],
)
def test_staged_deletion_around_the_grace_period(days_ago: int, expected: Seen) -> None:
    policy = POLICY.model_copy(update={"mode": Mode.STAGED, "grace_days": 14})
    facts = user(key(120, status="Inactive"))
    deactivated = {facts.keys[0].access_key_id: NOW - days_ago * DAY}
    assert seen(facts, policy, deactivated=deactivated) == expected


def test_a_deactivated_key_is_not_deleted_outside_staged_mode_nor_when_used_since() -> None:
    staged = POLICY.model_copy(update={"mode": Mode.STAGED, "grace_days": 14})
    deactivated = {"AKIAKEY0000000000001": NOW - 10 * DAY}
    assert seen(user(key(120, status="Inactive")), POLICY, deactivated=deactivated) == []
    assert seen(user(key(120, used=5, status="Inactive")), staged, deactivated=deactivated) == []


def test_an_inactive_key_this_service_did_not_deactivate_has_no_row() -> None:
    policy = POLICY.model_copy(update={"mode": Mode.STAGED})
    assert seen(user(key(300, status="Inactive")), policy) == []


def test_an_exempt_key_is_exempt_now_and_at_its_due_time_while_the_exemption_lasts() -> None:
    assert seen(user(key(120)), exemptions=(exemption(60),)) == [
        (Action.EXEMPT, None, (Rule.ROTATION, Rule.UNUSED))
    ]
    assert seen(user(key(80, used=1)), exemptions=(exemption(60),)) == [
        (Action.EXEMPT, NOW + 10 * DAY, ROTATION)
    ]
    # Expired before the key is due: the key is acted on.
    assert seen(user(key(80, used=1)), exemptions=(exemption(5),)) == [
        (Action.DELETE, NOW + 10 * DAY, ROTATION)
    ]


# An exemption covers strictly before its expiry: from that instant the key is acted on, so one that
# expires exactly at the horizon's end does within the horizon.
@pytest.mark.parametrize(
    ("expires_in", "expected"),
    [
        (29, [(Action.DELETE, NOW + 29 * DAY, ROTATION)]),
        (30, [(Action.DELETE, UNTIL, ROTATION)]),
        (31, [(Action.EXEMPT, None, ROTATION)]),
    ],
)
def test_a_key_exempt_now_is_shown_with_what_happens_when_its_exemption_expires_within_the_horizon(
    expires_in: int, expected: Seen
) -> None:
    assert seen(user(key(120, used=1)), exemptions=(exemption(expires_in),)) == expected


def test_the_row_at_the_expiry_says_what_held_the_key_off_until_then() -> None:
    (row,) = plan_user(user(key(120, used=1)), POLICY, (exemption(10),), NOW, UNTIL, {})
    assert (row.action, row.at, row.age_days) == (Action.DELETE, NOW + 10 * DAY, 120)
    assert row.reason == "created 130 days ago, limit 90; exempt until 2026-12-08 06:00 UTC (secops: vaulted)"


@pytest.mark.parametrize(
    ("expires_in", "expected"),
    [
        (29, [(Action.DELETE, NOW + 29 * DAY, ROTATION)]),
        (30, [(Action.DELETE, UNTIL, ROTATION)]),
        (31, [(Action.EXEMPT, NOW + 10 * DAY, ROTATION)]),
    ],
)
def test_a_key_exempt_at_its_due_time_is_shown_at_the_expiry_when_that_is_within_the_horizon(
    expires_in: int, expected: Seen
) -> None:
    assert seen(user(key(80, used=1)), exemptions=(exemption(expires_in),)) == expected


def test_overlapping_exemptions_hold_the_key_off_until_the_last_one_expires() -> None:
    both = (exemption(5), exemption(20, key_id="AKIAKEY0000000000001"))
    assert seen(user(key(120, used=1)), exemptions=both) == [(Action.DELETE, NOW + 20 * DAY, ROTATION)]
    longer = (exemption(5, user_name="*"), exemption(40, key_id="AKIAKEY0000000000001"))
    assert seen(user(key(120, used=1)), exemptions=longer) == [(Action.EXEMPT, None, ROTATION)]


def test_a_protected_user_stays_exempt_when_a_central_exemption_expires() -> None:
    policy = POLICY.model_copy(update={"protected_user_path": "/break-glass/"})
    facts = user(key(120, used=1), path="/break-glass/")
    assert seen(facts, policy, exemptions=(exemption(10),)) == [(Action.EXEMPT, None, ROTATION)]


def test_a_staged_deletion_held_off_by_an_exemption_comes_when_it_expires() -> None:
    policy = POLICY.model_copy(update={"mode": Mode.STAGED, "grace_days": 14})
    facts = user(key(120, status="Inactive"))
    deactivated = {facts.keys[0].access_key_id: NOW - 20 * DAY}
    assert seen(facts, policy, exemptions=(exemption(3),), deactivated=deactivated) == [
        (Action.DELETE, NOW + 3 * DAY, ())
    ]


def test_a_protected_user_is_exempt() -> None:
    policy = POLICY.model_copy(update={"protected_user_path": "/break-glass/"})
    assert seen(user(key(80, used=1), path="/break-glass/"), policy) == [
        (Action.EXEMPT, NOW + 10 * DAY, ROTATION)
    ]


def test_a_warning_now_is_shown_as_the_action_it_announces_when_that_comes_within_the_horizon() -> None:
    policy = POLICY.model_copy(update={"warn_days_before": 7})
    assert seen(user(key(85, used=1)), policy) == [(Action.DELETE, NOW + 5 * DAY, ROTATION)]
    # Beyond a one-day horizon, the warning is all that happens.
    assert seen(user(key(85, used=1)), policy, until=NOW + DAY) == [(Action.WARN, None, ())]


def test_one_row_per_key() -> None:
    facts = user(
        key(120, used=1, key_id="AKIAOLD0000000000001"),
        key(10, used=1, key_id="AKIANEW0000000000001"),
        key(80, used=1, key_id="AKIASOON000000000001"),
    )
    rows = plan_user(facts, POLICY, (), NOW, UNTIL, {})
    assert [(r.access_key_id, r.at) for r in rows] == [
        ("AKIAOLD0000000000001", None),
        ("AKIASOON000000000001", NOW + 10 * DAY),
    ]


# -- nomination ------------------------------------------------------------------------------------------


def member_with(*users: UserFacts, account: str = ACCOUNT) -> FakeMember:
    member = FakeMember(account)
    for facts in users:
        member.add(facts)
    member.report = report_of(member, NOW - timedelta(hours=1))
    return member


def test_the_report_nominates_the_users_due_within_the_horizon() -> None:
    member = member_with(
        user(key(120), name="stale"),
        user(key(70, used=1), name="soon"),  # due in 20 days
        user(key(10, used=1), name="fresh"),  # due in 44 days (unused)
        user(key(300, status="Inactive"), name="inactive"),
    )
    assert member.report is not None
    assert nominate(member.report, POLICY, UNTIL, {}) == ("soon", "stale")
    assert nominate(member.report, POLICY, NOW, {}) == ("stale",)
    assert nominate(member.report, POLICY, NOW + 45 * DAY, {}) == ("fresh", "soon", "stale")


def test_staged_mode_also_nominates_the_users_of_keys_this_service_deactivated() -> None:
    member = member_with(user(key(300, status="Inactive"), name="inactive"))
    lifecycle = KeyLifecycle(
        account_id=ACCOUNT,
        access_key_id="AKIAKEY0000000000001",
        user_name="inactive",
        stage=Stage.DEACTIVATED,
        deactivated_at=NOW - 3 * DAY,
        staged=True,
        updated_at=NOW - 3 * DAY,
    )
    assert member.report is not None
    staged = POLICY.model_copy(update={"mode": Mode.STAGED})
    assert nominate(member.report, staged, UNTIL, {"AKIAKEY0000000000001": lifecycle}) == ("inactive",)
    assert nominate(member.report, POLICY, UNTIL, {"AKIAKEY0000000000001": lifecycle}) == ()
