"""The policy models on their own: the bounds every threshold is held to (at N-1, N and N+1), the CIS
presets, the defaults, and the names of the modes as operators write them."""

from __future__ import annotations

from collections.abc import Sequence

import pytest
from pydantic import ValidationError

from remediator.errors import ConfigurationError
from remediator.policy import PRESETS, Mode, Policy, Thresholds
from remediator.settings import load_settings

# The bounds of each number: (lowest accepted, highest accepted). The same as the Settings model's and the
# central template's parameters, so that no deployed value is refused here and no value refused there
# reaches the policy.
BOUNDS = {
    "max_key_age_days": (1, 3650),
    "max_unused_days": (1, 3650),
    "grace_days": (0, 365),
    "warn_days_before": (0, 90),
}
THRESHOLDS = {"max_key_age_days", "max_unused_days"}


def build(field: str, value: int) -> Policy:
    if field in THRESHOLDS:
        return Policy(thresholds=Thresholds.model_validate({field: value}))
    return Policy.model_validate({field: value})


def value_of(pol: Policy, field: str) -> int:
    source = pol.thresholds if field in THRESHOLDS else pol
    number = getattr(source, field)
    assert isinstance(number, int)
    return number


def edges() -> Sequence[object]:
    """Each bound at N-1, N and N+1."""
    cases = []
    for field, (low, high) in BOUNDS.items():
        for value, accepted in (
            (low - 1, False),
            (low, True),
            (low + 1, True),
            (high - 1, True),
            (high, True),
            (high + 1, False),
        ):
            cases.append(pytest.param(field, value, accepted, id=f"{field}={value}"))
    return cases


@pytest.mark.parametrize(("field", "value", "accepted"), edges())
def test_each_number_is_held_to_its_bounds(field: str, value: int, accepted: bool) -> None:
    if accepted:
        assert value_of(build(field, value), field) == value
    else:
        with pytest.raises(ValidationError) as caught:
            build(field, value)
        (error,) = caught.value.errors()
        assert error["loc"] == (field,)
        assert error["type"] == ("greater_than_equal" if value < BOUNDS[field][0] else "less_than_equal")


@pytest.mark.parametrize(
    ("field", "value"),
    [("grace_days", -1), ("max_key_age_days", 0), ("max_unused_days", 0)],
)
def test_a_policy_that_would_act_at_once_is_refused(field: str, value: int) -> None:
    # A limit of 0 days would remediate every key the moment it is created; a negative grace period would
    # delete a key in the same run that deactivated it.
    with pytest.raises(ValidationError, match=field):
        build(field, value)


@pytest.mark.parametrize(("field", "value", "accepted"), edges())
def test_the_settings_accept_exactly_what_the_policy_accepts(field: str, value: int, accepted: bool) -> None:
    environment = {"AKR_AUDIT_TABLE": "akr-audit", "AKR_STATE_TABLE": "akr-state"}
    try:
        settings = load_settings({**environment, f"AKR_{field.upper()}": str(value)})
    except ConfigurationError:
        assert not accepted
    else:
        assert accepted
        assert value_of(settings.policy, field) == value


def test_defaults() -> None:
    assert Thresholds().model_dump() == {"max_key_age_days": 90, "max_unused_days": 90}
    assert Policy().model_dump() == {
        "thresholds": {"max_key_age_days": 90, "max_unused_days": 90},
        "mode": Mode.DELETE,
        "grace_days": 14,
        "warn_days_before": 0,
        "opt_out_tag_key": None,
        "protected_user_path": None,
    }


def test_the_cis_presets() -> None:
    assert {name: (t.max_key_age_days, t.max_unused_days) for name, t in PRESETS.items()} == {
        "cis-1.2": (90, 90),
        "cis-1.4": (90, 45),
        "cis-3.0": (90, 45),
        "cis-5.0": (90, 45),
    }


def test_the_modes_keep_their_names() -> None:
    # Operators write these in AKR_MODE and the template's Mode parameter; the audit records carry them.
    assert [mode.value for mode in Mode] == ["report", "deactivate", "delete", "staged"]


@pytest.mark.parametrize(
    ("model", "field", "value"),
    [(Thresholds, "max_key_age_days", 30), (Policy, "grace_days", 0), (Policy, "mode", Mode.REPORT)],
)
def test_the_models_are_frozen(model: type[Thresholds | Policy], field: str, value: object) -> None:
    with pytest.raises(ValidationError, match="frozen"):
        setattr(model(), field, value)


@pytest.mark.parametrize("model", [Thresholds, Policy])
def test_an_unknown_field_is_refused(model: type[Thresholds | Policy]) -> None:
    # A misspelt setting (grace_day) must not leave the default silently in force.
    with pytest.raises(ValidationError, match="Extra inputs are not permitted"):
        model.model_validate({"grace_day": 30})
