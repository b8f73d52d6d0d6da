"""Safety invariants of `decide` over generated users, policies and exemptions (hypothesis).

The oracle below restates the rules from the specification, independently of `decide` and of
`Exemption.covers`: a key is mutated iff it is Active, strictly past a threshold, not exempt, and the
mode is not report.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from hypothesis import given, settings
from hypothesis import strategies as st

from remediator.decision import Action, Decision, decide
from remediator.exemptions import Exemption
from remediator.facts import KeyFacts, UserFacts
from remediator.policy import Mode, Policy, Thresholds

NOW = datetime(2025, 6, 1, 12, 0, tzinfo=UTC)
DAY = timedelta(days=1)
SECOND = timedelta(seconds=1)
ACCOUNT = "111122223333"
OTHER_ACCOUNT = "444455556666"
USER = "alice"
KEY_IDS = ("AKIAAAAAAAAAAAAAAAAA", "AKIABBBBBBBBBBBBBBBB")
OPT_OUT = "akr-opt-out"
MAX_AGE_DAYS = 400

fast = settings(max_examples=200, deadline=None)


def key(key_id: str, status: str, created_at: datetime, last_used_at: datetime | None) -> KeyFacts:
    return KeyFacts(access_key_id=key_id, status=status, created_at=created_at, last_used_at=last_used_at)


def user(keys: tuple[KeyFacts, ...], tags: dict[str, str]) -> UserFacts:
    return UserFacts(
        account_id=ACCOUNT, user_name=USER, user_id="AIDAEXAMPLEUSERID0001", keys=keys, tags=tags
    )


def policy(max_age: int, max_unused: int, mode: Mode, opt_out: str | None) -> Policy:
    return Policy(
        thresholds=Thresholds(max_key_age_days=max_age, max_unused_days=max_unused),
        mode=mode,
        opt_out_tag_key=opt_out,
    )


# --- strategies ------------------------------------------------------------------------------------

# Durations: mostly arbitrary, often exactly on a whole day or one second either side of it, so the
# N-day boundaries are hit far more often than uniform sampling would.
whole_days = st.integers(min_value=0, max_value=MAX_AGE_DAYS).map(lambda n: n * DAY)
durations = st.one_of(
    st.integers(min_value=0, max_value=MAX_AGE_DAYS * 86_400).map(lambda s: s * SECOND),
    whole_days,
    st.tuples(whole_days, st.sampled_from([-SECOND, SECOND])).map(lambda t: max(t[0] + t[1], 0 * SECOND)),
)
thresholds = st.one_of(st.integers(min_value=1, max_value=MAX_AGE_DAYS), st.sampled_from([45, 90]))


def idle_within(age: timedelta) -> st.SearchStrategy[timedelta | None]:
    """How long ago a key of that age was last used: never, at creation, any time, or near a whole day."""
    limit = int(age.total_seconds())
    near_day = st.tuples(st.integers(min_value=0, max_value=limit // 86_400), st.sampled_from([-1, 0, 1]))
    return st.one_of(
        st.none(),
        st.just(age),
        st.integers(min_value=0, max_value=limit).map(lambda s: s * SECOND),
        near_day.map(lambda t: min(max(t[0] * 86_400 + t[1], 0), limit) * SECOND),
    )


@st.composite
def keys(draw: st.DrawFn, key_id: str) -> KeyFacts:
    age = draw(durations)
    status = draw(st.sampled_from(["Active", "Inactive"]))
    idle = draw(idle_within(age))
    return key(key_id, status, NOW - age, None if idle is None else NOW - idle)


@st.composite
def users(draw: st.DrawFn) -> UserFacts:
    count = draw(st.integers(min_value=0, max_value=2))
    generated = tuple(draw(keys(key_id)) for key_id in KEY_IDS[:count])
    tags = draw(
        st.dictionaries(st.sampled_from([OPT_OUT, "team"]), st.sampled_from(["true", "TRUE", "false"]))
    )
    return user(generated, tags)


def policies(*modes: Mode) -> st.SearchStrategy[Policy]:
    return st.builds(
        policy,
        thresholds,
        thresholds,
        st.sampled_from(modes or tuple(Mode)),
        st.sampled_from([None, OPT_OUT]),
    )


exemptions = st.lists(
    st.builds(
        Exemption,
        account_id=st.sampled_from([ACCOUNT, OTHER_ACCOUNT]),
        user_name=st.sampled_from([USER, "*", "bob"]),
        access_key_id=st.sampled_from([None, *KEY_IDS, "AKIAOTHEROTHEROTHER0"]),
        reason=st.just("migration"),
        owner=st.just("platform-team"),
        expires_at=st.sampled_from([-DAY, -SECOND, 0 * SECOND, SECOND, DAY]).map(lambda d: NOW + d),
    ),
    max_size=3,
)


# --- the oracle ------------------------------------------------------------------------------------


def violates(facts: KeyFacts, pol: Policy) -> bool:
    last_activity = facts.last_used_at if facts.last_used_at is not None else facts.created_at
    return NOW - facts.created_at > pol.thresholds.max_key_age_days * DAY or (
        NOW - last_activity > pol.thresholds.max_unused_days * DAY
    )


def in_force(exemption: Exemption, facts: KeyFacts) -> bool:
    return (
        exemption.expires_at > NOW
        and exemption.account_id == ACCOUNT
        and exemption.user_name in ("*", USER)
        and exemption.access_key_id in (None, facts.access_key_id)
    )


def opted_out(facts: UserFacts, pol: Policy) -> bool:
    return pol.opt_out_tag_key is not None and facts.tags.get(pol.opt_out_tag_key, "").lower() == "true"


def exempt(facts: UserFacts, key_facts: KeyFacts, pol: Policy, granted: list[Exemption]) -> bool:
    return opted_out(facts, pol) or any(in_force(e, key_facts) for e in granted)


def run(facts: UserFacts, pol: Policy, granted: list[Exemption]) -> tuple[tuple[KeyFacts, Decision], ...]:
    decisions = decide(facts, pol, granted, NOW)
    assert len(decisions) == len(facts.keys)
    return tuple(zip(facts.keys, decisions, strict=True))


# --- properties ------------------------------------------------------------------------------------


@fast
@given(users(), policies(), exemptions)
def test_no_mutation_of_a_compliant_or_inactive_key(
    facts: UserFacts, pol: Policy, granted: list[Exemption]
) -> None:
    for key_facts, decision in run(facts, pol, granted):
        if not key_facts.is_active or not violates(key_facts, pol):
            assert not decision.action.mutates
            assert decision.action is Action.NONE
            assert decision.rules == ()


@fast
@given(users(), policies(), exemptions)
def test_no_mutation_of_a_key_under_an_exemption_in_force(
    facts: UserFacts, pol: Policy, granted: list[Exemption]
) -> None:
    for key_facts, decision in run(facts, pol, granted):
        if any(in_force(e, key_facts) for e in granted):
            assert not decision.action.mutates


@fast
@given(users(), policies(Mode.REPORT), exemptions)
def test_report_mode_never_mutates(facts: UserFacts, pol: Policy, granted: list[Exemption]) -> None:
    assert not any(decision.action.mutates for _, decision in run(facts, pol, granted))


@fast
@given(users(), policies(), exemptions)
def test_mutation_iff_active_violating_not_exempt_and_not_report(
    facts: UserFacts, pol: Policy, granted: list[Exemption]
) -> None:
    for key_facts, decision in run(facts, pol, granted):
        expected = (
            key_facts.is_active
            and violates(key_facts, pol)
            and not exempt(facts, key_facts, pol, granted)
            and pol.mode is not Mode.REPORT
        )
        assert decision.action.mutates is expected, decision.reason
        if expected:
            assert decision.action is (Action.DELETE if pol.mode is Mode.DELETE else Action.DEACTIVATE)


@fast
@given(users(), policies(), exemptions)
def test_one_decision_per_key_in_order(facts: UserFacts, pol: Policy, granted: list[Exemption]) -> None:
    decisions = decide(facts, pol, granted, NOW)

    assert [d.access_key_id for d in decisions] == [k.access_key_id for k in facts.keys]
    for key_facts, decision in zip(facts.keys, decisions, strict=True):
        assert decision.key_status == key_facts.status
        assert decision.key_created_at == key_facts.created_at
        assert decision.last_used_at == key_facts.last_used_at


@fast
@given(users(), policies(), exemptions)
def test_rules_are_empty_exactly_when_no_action_is_needed(
    facts: UserFacts, pol: Policy, granted: list[Exemption]
) -> None:
    for key_facts, decision in run(facts, pol, granted):
        assert (decision.rules != ()) is (key_facts.is_active and violates(key_facts, pol))
        assert (decision.action is Action.NONE) is (decision.rules == ())


@fast
@given(users(), policies())
def test_due_at_is_the_boundary_of_violation(facts: UserFacts, pol: Policy) -> None:
    for key_facts, decision in run(facts, pol, []):
        if not key_facts.is_active:
            assert decision.due_at is None
        else:
            assert decision.due_at is not None
            assert violates(key_facts, pol) is (decision.due_at < NOW)


# --- lifecycle: warnings and staged deletion ----------------------------------------------------------

GRACE_DAYS = 30
thorough = settings(max_examples=500, deadline=None)
OTHER_KEY = "AKIAOTHEROTHEROTHER0"


def due(facts: KeyFacts, pol: Policy) -> datetime:
    """The last instant the key is within policy."""
    last_activity = facts.last_used_at if facts.last_used_at is not None else facts.created_at
    return min(
        facts.created_at + pol.thresholds.max_key_age_days * DAY,
        last_activity + pol.thresholds.max_unused_days * DAY,
    )


@st.composite
def lifecycle_cases(draw: st.DrawFn, *modes: Mode) -> tuple[UserFacts, Policy, dict[str, datetime]]:
    """A user with keys, a policy with a grace period and a warning window, and AccessKeyId -> when this
    service deactivated it (it may name keys the user does not have). The window is often exactly the
    whole days left before one of the user's keys is due, and a deactivation often exactly the grace
    period ago, a second either side or on the dot, so both boundaries are hit far more often than uniform
    sampling would."""
    facts = draw(users().filter(lambda u: u.keys != ()))
    grace = draw(st.integers(min_value=0, max_value=GRACE_DAYS))
    base = policy(
        draw(thresholds),
        draw(thresholds),
        draw(st.sampled_from(modes or tuple(Mode))),
        draw(st.sampled_from([None, OPT_OUT])),
    ).model_copy(update={"grace_days": grace})
    days_left = [(due(k, base) - NOW) // DAY for k in facts.keys if k.is_active]
    near_window = [n + extra for n in days_left for extra in (0, 1) if 1 <= n + extra <= 90]
    warn = draw(
        st.one_of(st.just(0), st.integers(min_value=1, max_value=90), st.sampled_from(near_window or [0]))
    )
    since = st.one_of(
        st.sampled_from([-SECOND, 0 * SECOND, SECOND]).map(lambda d: max(grace * DAY + d, 0 * SECOND)),
        st.integers(min_value=0, max_value=2 * GRACE_DAYS).map(lambda n: n * DAY),
        st.integers(min_value=0, max_value=2 * GRACE_DAYS * 86_400).map(lambda s: s * SECOND),
    )
    deactivated = {
        k: NOW - draw(since) for k in (*KEY_IDS, OTHER_KEY) if draw(st.sampled_from([True, True, False]))
    }
    return facts, base.model_copy(update={"warn_days_before": warn}), deactivated


def run_lifecycle(
    facts: UserFacts, pol: Policy, granted: list[Exemption], deactivated: dict[str, datetime]
) -> tuple[tuple[KeyFacts, Decision], ...]:
    decisions = decide(facts, pol, granted, NOW, deactivated)
    assert [d.access_key_id for d in decisions] == [k.access_key_id for k in facts.keys]
    return tuple(zip(facts.keys, decisions, strict=True))


@thorough
@given(st.one_of(lifecycle_cases(), lifecycle_cases(Mode.STAGED)), exemptions)
def test_inactive_key_deleted_only_in_staged_mode_if_deactivated_by_us_after_grace(
    case: tuple[UserFacts, Policy, dict[str, datetime]], granted: list[Exemption]
) -> None:
    facts, pol, deactivated = case
    for key_facts, decision in run_lifecycle(facts, pol, granted, deactivated):
        if key_facts.is_active:
            continue
        since = deactivated.get(key_facts.access_key_id)
        expected = (
            pol.mode is Mode.STAGED
            and since is not None
            and NOW - since > pol.grace_days * DAY
            and not exempt(facts, key_facts, pol, granted)
            and not (key_facts.last_used_at is not None and key_facts.last_used_at > since)
        )
        assert (decision.action is Action.DELETE) is expected, decision.reason
        assert decision.action in {Action.NONE, Action.DELETE, Action.EXEMPT}
        assert decision.rules == ()


@fast
@given(lifecycle_cases(), exemptions)
def test_an_active_key_is_decided_as_if_never_deactivated(
    case: tuple[UserFacts, Policy, dict[str, datetime]], granted: list[Exemption]
) -> None:
    facts, pol, deactivated = case
    fresh = decide(facts, pol, granted, NOW)
    for (key_facts, decision), without in zip(
        run_lifecycle(facts, pol, granted, deactivated), fresh, strict=True
    ):
        if key_facts.is_active:
            assert decision == without


@thorough
@given(lifecycle_cases(), exemptions)
def test_warning_only_for_an_active_compliant_key_within_the_window(
    case: tuple[UserFacts, Policy, dict[str, datetime]], granted: list[Exemption]
) -> None:
    facts, pol, deactivated = case
    for key_facts, decision in run_lifecycle(facts, pol, granted, deactivated):
        expected = (
            key_facts.is_active
            and not violates(key_facts, pol)
            and pol.warn_days_before > 0
            and due(key_facts, pol) - NOW <= pol.warn_days_before * DAY
            and pol.mode is not Mode.REPORT  # report mode does nothing at the due date
            and not exempt(facts, key_facts, pol, granted)  # nothing will happen to an exempt key
        )
        assert (decision.action is Action.WARN) is expected, decision.reason
        if decision.action is Action.WARN:
            assert key_facts.is_active
            assert not violates(key_facts, pol)
            assert decision.rules == ()
            assert decision.due_at == due(key_facts, pol)
            assert decision.planned_action is (
                {Mode.REPORT: Action.REPORT, Mode.DELETE: Action.DELETE}.get(pol.mode, Action.DEACTIVATE)
            )
        else:
            assert decision.planned_action is None


@fast
@given(lifecycle_cases(), exemptions, st.booleans())
def test_reactivate_is_never_decided(
    case: tuple[UserFacts, Policy, dict[str, datetime]], granted: list[Exemption], with_map: bool
) -> None:
    facts, pol, deactivated = case
    decisions = decide(facts, pol, granted, NOW, deactivated if with_map else None)

    assert Action.REACTIVATE not in {d.action for d in decisions}
