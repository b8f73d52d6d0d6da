"""`akr scan`'s options before any AWS call (org_bootstrap.review.scan_plan): the horizon, the accounts, and
the policy: the deployed one read as the remediator reads it, the defaults without a central stack, and the
command line's overrides."""

from __future__ import annotations

from datetime import timedelta

import pytest

from org_bootstrap.aws import CliError
from org_bootstrap.deploy.observed import Account, StackState
from org_bootstrap.review.audit_query import QueryError, parse_within
from org_bootstrap.review.scan_plan import (
    Overrides,
    check_account_ids,
    choose_policy,
    pick_accounts,
)
from remediator.policy import Mode

WHERE = "the security account 111111111111 (eu-west-1)"
ORGANIZATION = "o-abcdef1234"
ACCOUNTS = (
    Account(id="333333333333", name="member", status="ACTIVE"),
    Account(id="123456789012", name="management", status="ACTIVE"),
    Account(id="444444444444", name="closed", status="SUSPENDED"),
)


def stack(**parameters: str) -> StackState:
    return StackState(
        name="access-key-remediation",
        status="UPDATE_COMPLETE",
        parameters=parameters,
        outputs={"AuditTableName": "akr-audit", "StateTableName": "akr-state"},
    )


# -- the horizon --------------------------------------------------------------------------------------


def horizon(text: str) -> timedelta:
    """--within as prepare_scan reads it: the parser it shares with `akr report --expiring-within`."""
    return parse_within(text, option="--within", examples="30d, 2w, 12h")


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("30d", timedelta(days=30)),
        ("2w", timedelta(weeks=2)),
        ("1d12h", timedelta(hours=36)),
        ("0d", timedelta()),
    ],
)
def test_the_horizon_is_a_duration(text: str, expected: timedelta) -> None:
    assert horizon(text) == expected


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("soon", "--within 'soon' is not a duration (like 30d, 2w, 12h)"),
        ("-3d", "--within '-3d' is not a duration (like 30d, 2w, 12h)"),
        ("2026-12-31", "--within '2026-12-31' is not a duration (like 30d, 2w, 12h)"),
        ("3651d", "--within '3651d' is longer than 3650 days"),
        ("99999999999w", "--within '99999999999w' is longer than 3650 days"),
    ],
)
def test_a_bad_horizon_is_refused(text: str, message: str) -> None:
    with pytest.raises(QueryError) as raised:
        horizon(text)
    assert str(raised.value) == message


def test_ten_years_is_the_longest_horizon() -> None:
    assert horizon("3650d") == timedelta(days=3650)


# -- the accounts -------------------------------------------------------------------------------------


def test_by_default_every_active_account_the_management_account_included() -> None:
    assert pick_accounts(ACCOUNTS, (), ORGANIZATION) == ("123456789012", "333333333333")


def test_the_accounts_asked_for_each_once_in_the_order_given() -> None:
    assert pick_accounts(ACCOUNTS, ("333333333333", "123456789012", "333333333333"), ORGANIZATION) == (
        "333333333333",
        "123456789012",
    )


@pytest.mark.parametrize(
    ("wanted", "message"),
    [
        (("999999999999",), f"--account: 999999999999 not in organization {ORGANIZATION}"),
        (
            ("999999999999", "333333333333", "888888888888"),
            f"--account: 999999999999, 888888888888 not in organization {ORGANIZATION}",
        ),
        (("444444444444",), "--account: 444444444444 (SUSPENDED) not ACTIVE"),
    ],
)
def test_accounts_outside_the_organization_or_not_active_are_refused(
    wanted: tuple[str, ...], message: str
) -> None:
    with pytest.raises(CliError) as raised:
        pick_accounts(ACCOUNTS, wanted, ORGANIZATION)
    assert str(raised.value) == message


def test_an_account_id_has_12_digits() -> None:
    check_account_ids(("123456789012",))
    with pytest.raises(CliError) as raised:
        check_account_ids(("123456789012", "12345", "abcdefghijkl"))
    assert str(raised.value) == "--account: '12345', 'abcdefghijkl' not an account id (12 digits)"


# -- the policy ---------------------------------------------------------------------------------------


def test_without_a_central_stack_the_defaults_and_no_central_state() -> None:
    chosen = choose_policy(None, Overrides(), account_role="OrganizationAccountAccessRole", where=WHERE)
    defaults = {
        "mode": "delete",
        "max_key_age_days": 90,
        "max_unused_days": 90,
        "grace_days": 14,
        "warn_days_before": 0,
        "protected_user_path": None,
        "opt_out_tag_key": None,
    }
    assert chosen.as_dict() == {
        "source": "defaults",
        "note": f"no central stack in {WHERE}: the defaults, and no central exemptions",
        "overrides": {},
        "previewed": False,
        **defaults,
        "base": defaults,
    }
    assert chosen.state_table is None


def test_the_deployed_policy_as_the_remediator_reads_it() -> None:
    deployed = stack(
        Mode="staged", CisPreset="cis-1.4", MaxKeyAgeDays="", GraceDays="7", ProtectedUserPath="/break-glass/"
    )
    chosen = choose_policy(deployed, Overrides(), account_role="OrganizationAccountAccessRole", where=WHERE)
    policy = chosen.policy
    assert (chosen.source, chosen.note, chosen.state_table) == (
        "deployed",
        f"the parameters of stack access-key-remediation in {WHERE}",
        "akr-state",
    )
    assert (policy.mode, policy.thresholds.max_key_age_days, policy.thresholds.max_unused_days) == (
        Mode.STAGED,
        90,
        45,
    )
    assert (policy.grace_days, policy.protected_user_path) == (7, "/break-glass/")


@pytest.mark.parametrize(
    ("overrides", "expected"),
    [
        (Overrides(mode=Mode.REPORT), ("report", 60, 30, {"--mode": "report"})),
        (Overrides(cis="1.2"), ("delete", 90, 90, {"--cis": "1.2"})),
        (Overrides(max_unused_days=10), ("delete", 60, 10, {"--max-unused-days": "10"})),
        (
            Overrides(max_key_age_days=100, max_unused_days=10),
            ("delete", 100, 10, {"--max-key-age-days": "100", "--max-unused-days": "10"}),
        ),
    ],
)
def test_the_overrides_replace_only_what_they_name(
    overrides: Overrides, expected: tuple[str, int, int, dict[str, str]]
) -> None:
    deployed = stack(Mode="delete", MaxKeyAgeDays="60", MaxUnusedDays="30")
    chosen = choose_policy(deployed, overrides, account_role="OrganizationAccountAccessRole", where=WHERE)
    summary = chosen.as_dict()
    assert (
        summary["mode"],
        summary["max_key_age_days"],
        summary["max_unused_days"],
        summary["overrides"],
    ) == (expected)


def test_cis_and_a_limit_together_are_refused() -> None:
    with pytest.raises(CliError) as raised:
        choose_policy(None, Overrides(cis="1.4", max_unused_days=30), account_role="R", where=WHERE)
    assert str(raised.value) == "give either --cis or --max-key-age-days/--max-unused-days, not both"
