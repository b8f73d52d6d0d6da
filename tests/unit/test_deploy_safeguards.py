"""The deploy's safeguards against acting on too many keys at once: the 30-day floor of the limits
(--i-know), and the circuit breaker's caps, kept across deploys and said in words when they change or when a
deployment that predates them gets them."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from org_bootstrap.deploy.observed import Observed
from org_bootstrap.deploy.plan import PlanError
from org_bootstrap.deploy.plan_lines import warnings
from org_bootstrap.deploy.safeguards import acknowledged, check_floor
from tests.unit.test_deploy_plan import SECURITY, deployment, fresh, lines, plan, up_to_date

FLOOR_KEY_AGE = (
    "--max-key-age-days 29 is below the 30-day floor: every key older than 29 day(s) in the organization "
    "would be acted on, and keys that young are most likely in use"
)
FLOOR_UNUSED = (
    "--max-unused-days 29 is below the 30-day floor: every key unused for more than 29 day(s) in the "
    "organization would be acted on, and keys that young are most likely in use"
)
STACK = f"Would update stack access-key-remediation in the security account {SECURITY}"


@pytest.mark.parametrize(
    ("option", "text"), [("max_key_age_days", FLOOR_KEY_AGE), ("max_unused_days", FLOOR_UNUSED)]
)
def test_a_limit_of_29_days_is_refused_without_i_know(option: str, text: str) -> None:
    with pytest.raises(PlanError) as refused:
        check_floor(deployment(**{option: 29}), i_know=False)
    assert str(refused.value) == f"{text}; pass --i-know to deploy it anyway"


@pytest.mark.parametrize("option", ["max_key_age_days", "max_unused_days"])
@pytest.mark.parametrize("days", [30, 31])
def test_a_limit_of_30_days_or_more_needs_no_i_know(option: str, days: int) -> None:
    desired = deployment(**{option: days})
    check_floor(desired, i_know=False)
    assert acknowledged(desired) == []


def test_both_limits_below_the_floor_are_named_in_one_refusal() -> None:
    with pytest.raises(PlanError) as refused:
        check_floor(deployment(max_key_age_days=29, max_unused_days=29), i_know=False)
    assert str(refused.value) == f"{FLOOR_KEY_AGE}; {FLOOR_UNUSED}; pass --i-know to deploy it anyway"


def test_i_know_lets_29_days_through_and_the_plan_says_so() -> None:
    desired = deployment(max_unused_days=29)
    check_floor(desired, i_know=True)
    assert acknowledged(desired) == [f"{FLOOR_UNUSED} (deployed anyway: --i-know)"]


def test_a_deployed_limit_below_the_floor_is_kept_without_i_know() -> None:
    """Acknowledged by the deploy that set it: leaving the option out keeps it without asking again."""
    low = deployment(max_unused_days=20)
    observed = up_to_date(low)
    check_floor(deployment(), i_know=False)
    assert plan(deployment(), observed).policy.thresholds.max_unused_days == 20


# -- the circuit breaker's caps ---------------------------------------------------------------------


def test_a_first_deploy_gets_the_default_caps() -> None:
    parameters = plan(deployment(), fresh()).central_parameters
    assert (parameters["MaxActionsPerAccount"], parameters["MaxActionsPerDay"]) == ("30", "300")


def test_the_caps_are_kept_across_deploys() -> None:
    observed = up_to_date(deployment(max_actions_per_account=12, max_actions_per_day=120))
    result = plan(deployment(), observed)
    assert (result.policy.max_actions_per_account, result.policy.max_actions_per_day) == (12, 120)
    assert result.changes_nothing


def test_a_raised_cap_is_said_in_words_and_warned_about() -> None:
    desired = deployment(max_actions_per_account=50)
    result = plan(desired, up_to_date())
    raised = (
        "More keys can be acted on in a day in one account: MaxActionsPerAccount 30 -> 50 (the circuit "
        "breaker trips later)"
    )
    assert lines(desired, up_to_date()) == [
        f"{STACK}: MaxActionsPerAccount 30 -> 50",
        "The circuit breaker's caps change: at most 50 key action(s) (deactivations, deletions) per account "
        "and 300 in the organization per UTC day (MaxActionsPerAccount was 30)",
        raised,
    ]
    assert warnings(result) == [raised]


def test_a_lowered_cap_is_said_in_words_without_a_warning() -> None:
    desired = deployment(max_actions_per_day=100)
    assert lines(desired, up_to_date()) == [
        f"{STACK}: MaxActionsPerDay 300 -> 100",
        "The circuit breaker's caps change: at most 30 key action(s) (deactivations, deletions) per account "
        "and 100 in the organization per UTC day (MaxActionsPerDay was 300)",
    ]
    assert warnings(plan(desired, up_to_date())) == []


def predating_the_breaker() -> Observed:
    """A deployment made before the circuit breaker: its central stack has neither cap parameter."""
    central = up_to_date().central_stack
    assert central is not None
    dropped = {"MaxActionsPerAccount", "MaxActionsPerDay"}
    older = central.model_copy(
        update={"parameters": {k: v for k, v in central.parameters.items() if k not in dropped}}
    )
    return up_to_date(central_stack=older)


def test_a_deployment_without_caps_is_told_it_gets_30_and_300() -> None:
    assert lines(deployment(), predating_the_breaker()) == [
        f"{STACK}: MaxActionsPerAccount (not set) -> 30, MaxActionsPerDay (not set) -> 300",
        "The remediator gets a circuit breaker, which the deployed stack predates: at most 30 key action(s) "
        "(deactivations, deletions) per account and 300 in the organization per UTC day; past either cap the "
        "rest of the day's keys are only reported (the sweep acts on them on the following days), the audit "
        "records say which cap, and CircuitBreakerAlarm fires; --max-actions-per-account and "
        "--max-actions-per-day change the caps",
    ]


CAPS = [("max_actions_per_account", "MaxActionsPerAccount"), ("max_actions_per_day", "MaxActionsPerDay")]


@pytest.mark.parametrize(("field", "parameter"), CAPS)
@pytest.mark.parametrize("value", [0, 10001])
def test_caps_out_of_bounds_are_refused(field: str, parameter: str, value: int) -> None:
    with pytest.raises(ValidationError, match=field):
        deployment(**{field: value})


@pytest.mark.parametrize(("field", "parameter"), CAPS)
@pytest.mark.parametrize("value", [1, 10000])
def test_caps_at_the_bounds_are_accepted(field: str, parameter: str, value: int) -> None:
    result = plan(deployment(**{field: value}), up_to_date())
    assert result.central_parameters[parameter] == str(value)
