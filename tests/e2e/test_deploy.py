"""`akr deploy` end to end against a moto server: the security account, every member and the
management account get their stacks, and a second deploy changes nothing."""

from __future__ import annotations

import json
from typing import Any

import pytest

from tests.e2e.akr import akr, deploy
from tests.moto_server import REGION, ServerOrganization

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def first_deploy(organization: ServerOrganization) -> dict[str, Any]:
    result = deploy(organization, "--yes", "--output", "json")
    assert result.exit_code == 0, result.output
    payload: dict[str, Any] = json.loads(result.stdout)
    return payload


def test_deploy_reports_every_account(organization: ServerOrganization, first_deploy: dict[str, Any]) -> None:
    assert first_deploy["status"] == "ok"
    assert first_deploy["changed"] is True
    covered = set(first_deploy["result"]["accounts_covered"])
    assert covered == {organization.security, *organization.members, organization.management}
    assert first_deploy["result"]["accounts_failed"] == []
    assert first_deploy["result"]["event_bus_arn"] == (
        f"arn:aws:events:{REGION}:{organization.security}:event-bus/access-key-remediation"
    )
    assert first_deploy["plan"][0].startswith("Would create bucket s3://akr-code-")


def test_security_account_has_the_central_stack(
    organization: ServerOrganization, first_deploy: dict[str, Any]
) -> None:
    security = organization.security
    stack = organization.client("cloudformation", security).describe_stacks(
        StackName="access-key-remediation"
    )
    assert stack["Stacks"][0]["StackStatus"] == "CREATE_COMPLETE"
    outputs = {o["OutputKey"]: o["OutputValue"] for o in stack["Stacks"][0]["Outputs"]}
    function = organization.client("lambda", security).get_function(
        FunctionName=outputs["RemediatorFunctionName"]
    )
    assert function["Configuration"]["Handler"] == "remediator.handler.lambda_handler"
    tables = organization.client("dynamodb", security).list_tables()["TableNames"]
    assert first_deploy["result"]["audit_table"] in tables
    buses = organization.client("events", security).list_event_buses()["EventBuses"]
    assert "access-key-remediation" in {bus["Name"] for bus in buses}


@pytest.mark.parametrize("which", ["members", "management"])
def test_member_stack_lands_in_members_and_management(
    organization: ServerOrganization, first_deploy: dict[str, Any], which: str
) -> None:
    accounts = organization.members if which == "members" else (organization.management,)
    for account in accounts:
        role = organization.client("iam", account).get_role(RoleName="AccessKeyRemediationRole")["Role"]
        trust = role["AssumeRolePolicyDocument"]
        trust = json.loads(trust) if isinstance(trust, str) else trust
        (statement,) = trust["Statement"]
        assert statement["Condition"]["StringEquals"]["aws:PrincipalOrgID"] == organization.organization_id
        rules = organization.client("events", account).list_rules()["Rules"]
        assert any(rule["Name"].startswith("akr-") for rule in rules), rules


def test_second_deploy_changes_nothing(
    organization: ServerOrganization, first_deploy: dict[str, Any]
) -> None:
    result = deploy(organization, "--output", "json")  # no --yes: nothing to confirm
    assert result.exit_code == 0, result.output
    payload = json.loads(result.stdout)
    assert payload == {
        "command": "deploy",
        "status": "ok",
        "changed": False,
        "plan": ["Nothing to change: the organization is up to date"],
    }


def test_deploy_from_a_member_account_is_refused_and_changes_nothing(
    organization: ServerOrganization, first_deploy: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    credentials = organization.session(organization.members[0]).get_credentials()
    assert credentials is not None
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", credentials.access_key)
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", credentials.secret_key)
    monkeypatch.setenv("AWS_SESSION_TOKEN", credentials.token or "")
    result = deploy(organization, "--yes", "--output", "json")
    assert result.exit_code == 1
    assert json.loads(result.stdout) == {
        "command": "deploy",
        "status": "error",
        "error": (
            f"this is account {organization.members[0]}: run akr deploy from the management account "
            f"{organization.management} or from a delegated administrator for CloudFormation StackSets"
        ),
    }


def test_unknown_security_account_is_refused(
    organization: ServerOrganization, first_deploy: dict[str, Any]
) -> None:
    result = akr(organization, "deploy", "--security-account", "999999999999", "--yes", "--output", "json")
    assert result.exit_code == 1
    assert json.loads(result.stdout)["error"] == (
        f"security account 999999999999 is not in organization {organization.organization_id}"
    )


def test_both_cis_and_explicit_limits_are_refused(organization: ServerOrganization) -> None:
    result = deploy(organization, "--cis", "1.4", "--max-unused-days", "30", "--output", "json")
    assert result.exit_code == 1
    assert json.loads(result.stdout)["error"] == (
        "give either --cis or --max-key-age-days/--max-unused-days, not both"
    )


def test_a_first_deploy_gives_the_management_account_a_read_only_member_role(
    organization: ServerOrganization, first_deploy: dict[str, Any]
) -> None:
    management = organization.management
    # The last line counts the keys a first deploy acts on at once (tests/e2e/scan/test_deploy_impact.py).
    assert first_deploy["plan"][-1].startswith(
        "The new policy (mode delete, limits 90 days of age, 90 unused)"
    )
    assert first_deploy["plan"][-2] == (
        f"The management account {management}: report (a read-only member role; its keys are reported, never "
        "changed): the default of a first deploy; --management-account off|report|enforce chooses (SCPs do "
        "not apply there)"
    )
    member = organization.client("cloudformation").describe_stacks(StackName="access-key-remediation-member")
    parameters = {p["ParameterKey"]: p["ParameterValue"] for p in member["Stacks"][0]["Parameters"]}
    assert parameters["Mode"] == "report"
    central = organization.client("cloudformation", organization.security).describe_stacks(
        StackName="access-key-remediation"
    )
    values = {p["ParameterKey"]: p["ParameterValue"] for p in central["Stacks"][0]["Parameters"]}
    assert (values["ManagementAccountId"], values["ManagementAccountMode"]) == (management, "report")
    assert values["Mode"] == "delete"  # every other account keeps the deployed mode


def test_enforce_without_a_protected_path_is_refused_before_any_change(
    organization: ServerOrganization, first_deploy: dict[str, Any]
) -> None:
    result = deploy(organization, "--management-account", "enforce", "--yes", "--output", "json")
    assert result.exit_code == 1
    assert json.loads(result.stdout)["error"] == (
        "--management-account enforce needs a protected path (--protected-user-path, e.g. /break-glass/): "
        "SCPs do not apply to the management account, and the remediator must never reach the users that "
        "administer the organization; give one, or use --management-account report (the default)"
    )


def test_switching_the_management_account_off_deletes_its_stack_after_the_central_update(
    organization: ServerOrganization, first_deploy: dict[str, Any]
) -> None:
    # Last in this module: it changes the deployment the tests above read.
    result = deploy(organization, "--management-account", "off", "--yes", "--output", "json")
    assert result.exit_code == 0, result.output
    payload = json.loads(result.stdout)
    management = organization.management
    assert payload["plan"] == [
        f"Would update stack access-key-remediation in the security account {organization.security}: "
        "ManagementAccountMode report -> off",
        f"Would delete stack access-key-remediation-member in the management account {management}",
        f"The management account {management} changes from report to off (no member stack there, never "
        "swept)",
    ]
    assert management not in payload["result"]["accounts_covered"]
    stacks = organization.client("cloudformation").list_stacks()["StackSummaries"]
    assert {s["StackStatus"] for s in stacks if s["StackName"] == "access-key-remediation-member"} == {
        "DELETE_COMPLETE"
    }
