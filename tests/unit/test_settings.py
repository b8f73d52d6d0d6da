"""Settings read from AKR_* environment variables: defaults, CIS presets, overrides and start-up errors."""

from __future__ import annotations

import os

import pytest
from pydantic import ValidationError

from remediator.errors import ConfigurationError
from remediator.policy import Mode, Policy, Thresholds
from remediator.settings import Settings, load_settings

REQUIRED = {"AKR_AUDIT_TABLE": "akr-audit", "AKR_STATE_TABLE": "akr-state"}


@pytest.fixture(autouse=True)
def environment(monkeypatch: pytest.MonkeyPatch) -> pytest.MonkeyPatch:
    """A clean environment holding only the required variables; AKR_* is read case-insensitively."""
    for name in list(os.environ):
        if name.upper().startswith("AKR_"):
            monkeypatch.delenv(name)
    for name, value in REQUIRED.items():
        monkeypatch.setenv(name, value)
    return monkeypatch


def load(environment: pytest.MonkeyPatch, **variables: str) -> Settings:
    for name, value in variables.items():
        environment.setenv(name, value)
    return load_settings()


def load_error(environment: pytest.MonkeyPatch, **variables: str) -> str:
    with pytest.raises(ConfigurationError) as caught:
        load(environment, **variables)
    return str(caught.value)


def test_defaults(environment: pytest.MonkeyPatch) -> None:
    settings = load(environment)

    assert settings.audit_table == "akr-audit"
    assert settings.state_table == "akr-state"
    assert settings.mode is Mode.DELETE
    assert settings.cis_preset is None
    assert settings.thresholds == Thresholds(max_key_age_days=90, max_unused_days=90)
    assert settings.rule_name_prefixes == ("akr-",)
    assert settings.member_role_name == "AccessKeyRemediationRole"
    assert settings.opt_out_tag_key is None
    assert settings.grace_days == 14
    assert settings.policy == Policy(
        thresholds=Thresholds(max_key_age_days=90, max_unused_days=90),
        mode=Mode.DELETE,
        grace_days=14,
        opt_out_tag_key=None,
    )


@pytest.mark.parametrize(
    ("preset", "max_age", "max_unused"),
    [
        ("cis-1.2", 90, 90),
        ("cis-1.4", 90, 45),
        ("cis-3.0", 90, 45),
        ("cis-5.0", 90, 45),
        ("", 90, 90),
    ],
    ids=["cis-1.2", "cis-1.4", "cis-3.0", "cis-5.0", "empty-is-no-preset"],
)
def test_cis_presets(environment: pytest.MonkeyPatch, preset: str, max_age: int, max_unused: int) -> None:
    settings = load(environment, AKR_CIS_PRESET=preset)

    assert settings.thresholds == Thresholds(max_key_age_days=max_age, max_unused_days=max_unused)
    assert settings.policy.thresholds == settings.thresholds


@pytest.mark.parametrize(
    ("variables", "max_age", "max_unused"),
    [
        ({"AKR_CIS_PRESET": "cis-1.4", "AKR_MAX_UNUSED_DAYS": "30"}, 90, 30),
        ({"AKR_CIS_PRESET": "cis-1.4", "AKR_MAX_UNUSED_DAYS": "90"}, 90, 90),
        ({"AKR_CIS_PRESET": "cis-1.2", "AKR_MAX_KEY_AGE_DAYS": "60"}, 60, 90),
        ({"AKR_CIS_PRESET": "cis-5.0", "AKR_MAX_KEY_AGE_DAYS": "365"}, 365, 45),
        ({"AKR_MAX_KEY_AGE_DAYS": "30", "AKR_MAX_UNUSED_DAYS": "7"}, 30, 7),
        ({"AKR_MAX_UNUSED_DAYS": "1"}, 90, 1),
        ({"AKR_MAX_KEY_AGE_DAYS": "3650"}, 3650, 90),
    ],
    ids=[
        "cis-1.4-stricter-unused",
        "cis-1.4-looser-unused",
        "cis-1.2-stricter-rotation",
        "cis-5.0-looser-rotation",
        "both-without-preset",
        "lower-bound",
        "upper-bound",
    ],
)
def test_explicit_limits_override_the_preset(
    environment: pytest.MonkeyPatch, variables: dict[str, str], max_age: int, max_unused: int
) -> None:
    settings = load(environment, **variables)

    assert settings.thresholds == Thresholds(max_key_age_days=max_age, max_unused_days=max_unused)


@pytest.mark.parametrize(
    ("raw", "prefixes"),
    [
        ("akr-", ("akr-",)),
        ("akr-,org-", ("akr-", "org-")),
        (" akr- , org-remediation- ", ("akr-", "org-remediation-")),
        ("akr-,,org-,", ("akr-", "org-")),
    ],
    ids=["one", "two", "spaces", "empty-parts-dropped"],
)
def test_rule_name_prefixes_are_comma_separated(
    environment: pytest.MonkeyPatch, raw: str, prefixes: tuple[str, ...]
) -> None:
    assert load(environment, AKR_RULE_NAME_PREFIXES=raw).rule_name_prefixes == prefixes


@pytest.mark.parametrize(
    ("raw", "expected"),
    [("", None), ("akr-opt-out", "akr-opt-out")],
    ids=["empty-is-off", "configured"],
)
def test_opt_out_tag_key(environment: pytest.MonkeyPatch, raw: str, expected: str | None) -> None:
    settings = load(environment, AKR_OPT_OUT_TAG_KEY=raw)

    assert settings.opt_out_tag_key == expected
    assert settings.policy.opt_out_tag_key == expected


@pytest.mark.parametrize("mode", list(Mode), ids=[m.value for m in Mode])
def test_mode_reaches_the_policy(environment: pytest.MonkeyPatch, mode: Mode) -> None:
    assert load(environment, AKR_MODE=mode.value).policy.mode is mode


def test_grace_days_reach_the_policy(environment: pytest.MonkeyPatch) -> None:
    assert load(environment, AKR_GRACE_DAYS="0").policy.grace_days == 0


@pytest.mark.parametrize(
    ("variables", "message"),
    [
        (
            {"AKR_MODE": "yolo"},
            "AKR_MODE: Input should be 'report', 'deactivate', 'delete' or 'staged'",
        ),
        (
            {"AKR_MAX_KEY_AGE_DAYS": "0"},
            "AKR_MAX_KEY_AGE_DAYS: Input should be greater than or equal to 1",
        ),
        (
            {"AKR_MAX_UNUSED_DAYS": "3651"},
            "AKR_MAX_UNUSED_DAYS: Input should be less than or equal to 3650",
        ),
        (
            {"AKR_MAX_UNUSED_DAYS": "forty-five"},
            "AKR_MAX_UNUSED_DAYS: Input should be a valid integer",
        ),
        (
            {"AKR_CIS_PRESET": "cis-9.9"},
            "AKR_CIS_PRESET: Input should be 'cis-1.2', 'cis-1.4', 'cis-3.0' or 'cis-5.0'",
        ),
        (
            {"AKR_RULE_NAME_PREFIXES": ""},
            "AKR_RULE_NAME_PREFIXES: Value error, at least one rule name prefix is required",
        ),
        (
            {"AKR_RULE_NAME_PREFIXES": ","},
            "AKR_RULE_NAME_PREFIXES: Value error, at least one rule name prefix is required",
        ),
        (
            {"AKR_RULE_NAME_PREFIXES": " , "},
            "AKR_RULE_NAME_PREFIXES: Value error, at least one rule name prefix is required",
        ),
        (
            {"AKR_GRACE_DAYS": "-1"},
            "AKR_GRACE_DAYS: Input should be greater than or equal to 0",
        ),
        (
            {"AKR_MEMBER_ROLE_NAME": "not a role"},
            "AKR_MEMBER_ROLE_NAME: String should match pattern",
        ),
    ],
    ids=[
        "mode-yolo",
        "max-key-age-0",
        "max-unused-3651",
        "max-unused-not-a-number",
        "unknown-preset",
        "prefixes-empty",
        "prefixes-comma",
        "prefixes-blank",
        "grace-negative",
        "role-name-with-spaces",
    ],
)
def test_invalid_configuration_names_the_variable(
    environment: pytest.MonkeyPatch, variables: dict[str, str], message: str
) -> None:
    error = load_error(environment, **variables)

    assert error.startswith("invalid configuration: ")
    assert message in error


def test_missing_audit_table(environment: pytest.MonkeyPatch) -> None:
    environment.delenv("AKR_AUDIT_TABLE")

    assert load_error(environment) == "invalid configuration: AKR_AUDIT_TABLE: Field required"


def test_every_problem_is_reported_at_once(environment: pytest.MonkeyPatch) -> None:
    environment.delenv("AKR_AUDIT_TABLE")
    environment.delenv("AKR_STATE_TABLE")

    error = load_error(environment, AKR_MODE="yolo")

    assert "AKR_AUDIT_TABLE: Field required" in error
    assert "AKR_STATE_TABLE: Field required" in error
    assert "AKR_MODE: Input should be" in error
    assert error.count("; ") == 2


def test_configuration_error_keeps_the_validation_error(environment: pytest.MonkeyPatch) -> None:
    with pytest.raises(ConfigurationError) as caught:
        load(environment, AKR_MODE="yolo")

    assert isinstance(caught.value.__cause__, ValidationError)


def test_settings_are_frozen(environment: pytest.MonkeyPatch) -> None:
    settings = load(environment)

    with pytest.raises(ValidationError):
        settings.mode = Mode.REPORT  # type: ignore[misc]


def test_misspelt_setting_is_an_error_not_ignored(environment: pytest.MonkeyPatch) -> None:
    assert load_error(environment, AKR_MAX_KEY_AGE="30") == (
        "invalid configuration: AKR_MAX_KEY_AGE: Extra inputs are not permitted"
    )


def test_settings_can_be_read_from_a_given_mapping() -> None:
    settings = load_settings({"AKR_AUDIT_TABLE": "audit", "AKR_STATE_TABLE": "state", "AKR_MODE": "report"})
    assert settings.mode is Mode.REPORT
