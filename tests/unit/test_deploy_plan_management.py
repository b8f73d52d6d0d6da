"""--management-account off|report|enforce in the deploy plan: a first deploy's default (report), a deployment
that keeps what it has (also one made before the option), each switch in words and in a safe order, and the
refusal of enforce without a protected path. Pure: (Deployment, Observed) -> plan."""

from __future__ import annotations

from typing import Any

import pytest

from org_bootstrap.deploy.deployment import ManagementAccount
from org_bootstrap.deploy.observed import Observed, StackState
from org_bootstrap.deploy.plan import Change, PlanError
from tests.unit.test_deploy_plan import (
    FIRST_DEPLOY_MANAGEMENT,
    MANAGEMENT,
    NOTHING_TO_CHANGE,
    SECURITY,
    deployment,
    fresh,
    lines,
    plan,
    up_to_date,
)

OFF, REPORT, ENFORCE = ManagementAccount.OFF, ManagementAccount.REPORT, ManagementAccount.ENFORCE
PATH = "/break-glass/"
CENTRAL_LINE = f"Would update stack access-key-remediation in the security account {SECURITY}"
MANAGEMENT_STACK = f"stack access-key-remediation-member in the management account {MANAGEMENT}"
REFUSAL = (
    "--management-account enforce needs a protected path (--protected-user-path, e.g. /break-glass/): SCPs "
    "do not apply to the management account, and the remediator must never reach the users that administer "
    "the organization; give one, or use --management-account report (the default)"
)
MEANING = {
    OFF: "off (no member stack there, never swept)",
    REPORT: "report (a read-only member role; its keys are reported, never changed)",
    ENFORCE: "enforce (its keys are treated as in every account (mode delete))",
}


def deployed(mode: ManagementAccount, **options: Any) -> Observed:
    return up_to_date(deployment(management_account=mode, **options))


def before_the_option(management_mode: str | None) -> Observed:
    """A deployment made before --management-account: no ManagementAccount* parameters on the central
    stack; the management account's stack in the deployed mode (None: no stack there)."""
    observed = up_to_date(deployment(protected_user_path=""))
    assert observed.central_stack is not None and observed.management_stack is not None
    central = {
        k: v for k, v in observed.central_stack.parameters.items() if not k.startswith("ManagementAccount")
    }
    stack: StackState | None = None
    if management_mode is not None:
        parameters = {**observed.management_stack.parameters, "Mode": management_mode}
        stack = observed.management_stack.model_copy(update={"parameters": parameters})
    return observed.model_copy(
        update={
            "central_stack": observed.central_stack.model_copy(update={"parameters": central}),
            "management_stack": stack,
        }
    )


# -- a first deploy ---------------------------------------------------------------------------------


def test_a_first_deploy_gives_the_management_account_a_read_only_role_and_says_so() -> None:
    result = plan(deployment(), fresh())
    assert result.management is Change.CREATE
    assert result.management_parameters["Mode"] == "report"
    assert result.member_parameters["Mode"] == "delete"
    assert (
        result.central_parameters["ManagementAccountId"],
        result.central_parameters["ManagementAccountMode"],
    ) == (
        MANAGEMENT,
        "report",
    )
    assert lines(deployment(), fresh())[-1] == FIRST_DEPLOY_MANAGEMENT


def test_a_first_deploy_with_off_creates_no_stack_there() -> None:
    desired = deployment(management_account=OFF)
    result = plan(desired, fresh())
    assert result.management is Change.NONE
    assert result.central_parameters["ManagementAccountMode"] == "off"
    found = lines(desired, fresh())
    assert not any("in the management account" in line for line in found)
    assert found[-1] == (
        f"The management account {MANAGEMENT}: {MEANING[OFF]}: --management-account off|report|enforce "
        "chooses (SCPs do not apply there)"
    )


def test_a_first_deploy_in_enforce_needs_a_protected_path() -> None:
    with pytest.raises(PlanError) as raised:
        plan(deployment(management_account=ENFORCE), fresh())
    assert str(raised.value) == REFUSAL
    result = plan(deployment(management_account=ENFORCE, protected_user_path=PATH), fresh())
    assert result.management_parameters == result.member_parameters
    assert result.management_parameters["ProtectedUserPath"] == PATH


# -- an existing deployment keeps what it has -----------------------------------------------------------


@pytest.mark.parametrize("mode", [OFF, REPORT])
def test_a_deployment_keeps_its_mode_without_the_option_and_changes_nothing(mode: ManagementAccount) -> None:
    observed = deployed(mode)
    result = plan(deployment(), observed)
    assert result.management_choice.mode is mode
    assert lines(deployment(), observed) == [NOTHING_TO_CHANGE]


def test_a_deployment_in_enforce_with_a_protected_path_keeps_it() -> None:
    observed = deployed(ENFORCE, protected_user_path=PATH)
    assert lines(deployment(), observed) == [NOTHING_TO_CHANGE]


def test_a_deployment_from_before_the_option_keeps_enforce_and_says_so_with_the_risk() -> None:
    observed = before_the_option("delete")
    result = plan(deployment(), observed)
    assert result.management_choice.mode is ENFORCE
    assert result.management is Change.NONE  # its stack stays as it is
    assert result.central_diff.change("ManagementAccountMode") is not None
    assert lines(deployment(), observed)[-2:] == [
        f"The management account {MANAGEMENT} keeps what the deployment has: {MEANING[ENFORCE]}; "
        "--management-account off|report|enforce changes it",
        f"The management account {MANAGEMENT} is in enforce without a protected path: the remediator may act "
        "on the users that administer the organization; give --protected-user-path, or --management-account "
        "report",
    ]


def test_a_deployment_from_before_the_option_without_a_stack_there_keeps_off() -> None:
    observed = before_the_option(None)
    result = plan(deployment(), observed)
    assert (result.management_choice.mode, result.management) == (OFF, Change.NONE)
    assert (
        f"The management account {MANAGEMENT} keeps what the deployment has: {MEANING[OFF]}; "
        in (lines(deployment(), observed)[-1])
    )


def test_removing_the_protected_path_of_a_kept_enforce_is_refused() -> None:
    with pytest.raises(PlanError) as raised:
        plan(deployment(protected_user_path=""), deployed(ENFORCE, protected_user_path=PATH))
    assert str(raised.value) == REFUSAL


# -- each switch ---------------------------------------------------------------------------------------


def test_report_to_enforce_updates_the_management_stack_before_the_central_stack() -> None:
    desired = deployment(management_account=ENFORCE, protected_user_path=PATH)
    observed = deployed(REPORT, protected_user_path=PATH)
    result = plan(desired, observed)
    assert result.management_first
    found = lines(desired, observed)
    assert found == [
        f"Would update {MANAGEMENT_STACK}: Mode report -> delete",
        f"{CENTRAL_LINE}: ManagementAccountMode report -> enforce",
        f"The management account {MANAGEMENT} changes from report to {MEANING[ENFORCE]}",
    ]


def test_enforce_to_report_updates_the_central_stack_first() -> None:
    observed = deployed(ENFORCE, protected_user_path=PATH)
    desired = deployment(management_account=REPORT)
    result = plan(desired, observed)
    assert not result.management_first
    assert lines(desired, observed) == [
        f"{CENTRAL_LINE}: ManagementAccountMode enforce -> report",
        f"Would update {MANAGEMENT_STACK}: Mode delete -> report",
        f"The management account {MANAGEMENT} changes from enforce to {MEANING[REPORT]}",
    ]


def test_report_to_off_deletes_the_management_stack_after_the_central_stack() -> None:
    desired = deployment(management_account=OFF)
    result = plan(desired, deployed(REPORT))
    assert result.management is Change.DELETE
    assert not result.changes_nothing
    assert lines(desired, deployed(REPORT)) == [
        f"{CENTRAL_LINE}: ManagementAccountMode report -> off",
        f"Would delete {MANAGEMENT_STACK}",
        f"The management account {MANAGEMENT} changes from report to {MEANING[OFF]}",
    ]


def test_off_to_report_creates_the_read_only_stack() -> None:
    desired = deployment(management_account=REPORT)
    result = plan(desired, deployed(OFF))
    assert result.management is Change.CREATE
    assert result.management_parameters["Mode"] == "report"
    assert lines(desired, deployed(OFF)) == [
        f"{CENTRAL_LINE}: ManagementAccountMode off -> report",
        f"Would create {MANAGEMENT_STACK}",
        f"The management account {MANAGEMENT} changes from off to {MEANING[REPORT]}",
    ]


def test_from_a_delegated_administrator_the_reminder_names_the_mode_to_deploy_there() -> None:
    observed = fresh(caller_account="333333333333", delegated_admin=True)
    desired = deployment(management_account=OFF)
    found = lines(desired, observed)
    assert not any(line.startswith("Cannot reach the management account") for line in found)
