"""The deploy plan's count of keys acted on at once (org_bootstrap.review.impact), over scan results made
here: what counts, the circuit breaker's share, accounts that could not be read, and when it is counted."""

from __future__ import annotations

from datetime import UTC, datetime

from org_bootstrap.review.impact import Impact, acted_in, describe_impact, policy_changes, scan_policy
from org_bootstrap.review.scan import AccountScan, Row
from remediator.decision import Action, Rule
from tests.unit.test_deploy_plan import MANAGEMENT, MEMBERS, SECURITY, deployment, fresh, plan, up_to_date

A, B = MEMBERS


def row(account: str, key: str, action: Action, *, later: bool = False) -> Row:
    return Row(
        account_id=account,
        user_name="u",
        access_key_id=key,
        status="Active",
        age_days=100,
        last_used_at=None,
        action=action,
        at=datetime(2030, 1, 1, tzinfo=UTC) if later else None,
        rules=(Rule.ROTATION,),
        reason="r",
    )


def test_only_actions_at_once_count_and_the_caps_split_the_first_day() -> None:
    impact = Impact(
        (
            AccountScan(
                A, (row(A, "1", Action.DELETE), row(A, "2", Action.DELETE), row(A, "3", Action.DELETE))
            ),
            AccountScan(B, (row(B, "4", Action.DEACTIVATE), row(B, "5", Action.DELETE, later=True))),
            AccountScan(SECURITY, (row(SECURITY, "6", Action.EXEMPT),)),
        ),
        per_account_cap=2,
        per_day_cap=300,
    )
    assert (impact.acted(), impact.acted(Action.DELETE), impact.accounts_acted_in) == (4, 3, 2)
    assert impact.first_day == 3
    assert Impact(impact.scanned, per_account_cap=30, per_day_cap=2).first_day == 2


def test_the_line_names_the_accounts_that_could_not_be_read() -> None:
    result = plan(deployment(mode="report"), fresh())
    impact = Impact(
        (AccountScan(A, (row(A, "1", Action.REPORT),)), AccountScan(B, errors=("sts:AssumeRole into B",))),
        per_account_cap=30,
        per_day_cap=300,
    )
    assert describe_impact(result, impact) == (
        "The new policy (mode report, limits 90 days of age, 90 unused) would act on no key at once in the 2 "
        "account(s) it acts in (1 would be reported): counted just now by a read-only scan (akr scan's: each "
        "account's credential report, those users read live through the account role, the central "
        "exemptions); akr scan --mode report --max-key-age-days 90 --max-unused-days 90 lists them; 1 "
        f"account(s) could not be read ({B}): their keys are not in the figure"
    )


def test_counted_on_a_first_deploy_and_on_a_new_mode_or_limit_only() -> None:
    assert policy_changes(plan(deployment(), fresh()), deployment(), fresh())
    deployed = up_to_date()
    for desired, changes in (
        (deployment(), False),
        (deployment(grace_days=3), False),
        (deployment(max_actions_per_day=10), False),
        (deployment(mode="report"), True),
        (deployment(max_key_age_days=100), True),
        (deployment(cis="1.4"), True),
    ):
        assert policy_changes(plan(desired, deployed), desired, deployed) is changes, desired


def test_the_management_account_is_scanned_only_in_enforce() -> None:
    observed = fresh()
    assert acted_in(plan(deployment(), observed), observed) == (SECURITY, *MEMBERS)
    enforced = deployment(management_account="enforce", protected_user_path="/break-glass/")
    assert acted_in(plan(enforced, observed), observed) == tuple(sorted((MANAGEMENT, SECURITY, *MEMBERS)))


def test_the_scan_decides_with_the_new_policy_over_the_deployed_settings_and_exemptions() -> None:
    deployed = up_to_date()
    central = deployed.central_stack
    assert central is not None
    outputs = {"AuditTableName": "audit", "StateTableName": "state"}
    with_tables = deployed.model_copy(
        update={"central_stack": central.model_copy(update={"outputs": outputs})}
    )
    desired = deployment(mode="deactivate", max_unused_days=45)
    chosen = scan_policy(plan(desired, with_tables), desired, with_tables)
    assert (chosen.source, chosen.state_table) == ("deployed", "state")
    assert (chosen.policy.mode.value, chosen.policy.thresholds.max_unused_days) == ("deactivate", 45)
    assert chosen.base.mode.value == "delete"
    # A stack without its tables' outputs (one being created again) has no exemptions to read.
    assert scan_policy(plan(desired, deployed), desired, deployed).state_table is None
