"""`akr deploy` errors through the command line against a moto server: each gives one clear message and
exit code 1, and changes nothing where that is the promise.

The tests share one organization and run in file order: those that promise no change come first, the
template error (which leaves a code bucket and a failed central stack, as in AWS) comes last."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import boto3
import pytest
from botocore.stub import Stubber

import org_bootstrap.deploy.apply
from org_bootstrap.aws import Aws
from org_bootstrap.demo.organization import record_iam_users
from org_bootstrap.deploy.deployment import CENTRAL_TEMPLATE
from tests.e2e.akr import deploy
from tests.moto_server import REGION, ServerOrganization, build_organization, moto_server

if TYPE_CHECKING:
    from mypy_boto3_lambda import LambdaClient
    from mypy_boto3_organizations import OrganizationsClient

pytestmark = pytest.mark.slow

DENIED = "You don't have permissions to access this resource."
BROKEN_QUEUE_NAME = "not a valid queue name!"


@pytest.fixture(scope="module")
def organization() -> Iterator[ServerOrganization]:
    # The package comes from the run's cache (tests/conftest.py): built once for every deploy.
    with pytest.MonkeyPatch.context() as patch:
        patch.delenv("AWS_SESSION_TOKEN", raising=False)  # moto's server reads the account from the key
        with moto_server() as url:
            yield build_organization(url)


@pytest.fixture(scope="module")
def clients(organization: ServerOrganization) -> dict[str, tuple[Any, Any]]:
    """CloudFormation and S3 clients in every account, made once (boto3 clients are slow to make)."""
    accounts = (organization.management, organization.security, *organization.members)
    return {
        account: (organization.client("cloudformation", account), organization.client("s3", account))
        for account in accounts
    }


def footprint(organization: ServerOrganization, clients: dict[str, tuple[Any, Any]]) -> dict[str, Any]:
    """What a deploy could have left: buckets and stacks in every account, StackSets, trusted access."""
    seen: dict[str, Any] = {}
    for account, (cloudformation, s3) in clients.items():
        stacks = cloudformation.list_stacks()["StackSummaries"]
        seen[account] = {
            "buckets": sorted(b["Name"] for b in s3.list_buckets()["Buckets"]),
            "stacks": sorted(s["StackName"] for s in stacks if s["StackStatus"] != "DELETE_COMPLETE"),
        }
    summaries = clients[organization.management][0].list_stack_sets()["Summaries"]
    seen["stacksets"] = sorted(s["StackSetName"] for s in summaries if s["Status"] != "DELETED")
    enabled = organization.client("organizations").list_aws_service_access_for_organization()
    seen["trusted"] = sorted(p["ServicePrincipal"] for p in enabled["EnabledServicePrincipals"])
    return seen


def assert_untouched(
    organization: ServerOrganization, clients: dict[str, tuple[Any, Any]], before: dict[str, Any]
) -> None:
    after = footprint(organization, clients)
    assert after == before
    security = after[organization.security]
    assert f"akr-code-{organization.security}-{REGION}" not in security["buckets"]
    assert "access-key-remediation" not in security["stacks"]
    assert after["stacksets"] == []
    assert "access-key-remediation-member" not in after[organization.management]["stacks"]


def test_json_output_without_yes_refuses_with_the_exact_envelope(
    organization: ServerOrganization, clients: dict[str, tuple[Any, Any]]
) -> None:
    before = footprint(organization, clients)
    result = deploy(organization, "--output", "json")
    assert result.exit_code == 1
    payload = json.loads(result.stdout)
    assert {k: v for k, v in payload.items() if k != "plan"} == {
        "command": "deploy",
        "status": "aborted",
        "changed": False,
        "error": "--output json cannot ask for confirmation: pass --yes, or --dry-run for the plan alone",
    }
    assert any(line.startswith("Would create stack access-key-remediation") for line in payload["plan"])
    assert_untouched(organization, clients, before)


def test_declining_the_confirmation_changes_nothing(
    organization: ServerOrganization, clients: dict[str, tuple[Any, Any]]
) -> None:
    before = footprint(organization, clients)
    result = deploy(organization, stdin="n\n")
    assert result.exit_code == 1
    assert "Would create stack access-key-remediation in the security account" in result.stdout
    assert result.stdout.rstrip().endswith("Aborted: nothing was changed.")
    assert_untouched(organization, clients, before)


@pytest.fixture
def obstacles(organization: ServerOrganization) -> Iterator[None]:
    """What a real organization can hold before a first deploy, made and then taken away again: in the
    first member a role that already has the member role's name; in the second no recorder in the home
    region, but one that records IAM users in us-east-1; in the security account a role with the
    remediator role's name."""
    first, second = organization.members
    trust = json.dumps({"Version": "2012-10-17", "Statement": []})
    organization.client("iam", first).create_role(
        RoleName="AccessKeyRemediationRole", AssumeRolePolicyDocument=trust
    )
    organization.client("iam", organization.security).create_role(
        RoleName="access-key-remediator", AssumeRolePolicyDocument=trust
    )
    organization.client("config", second).delete_configuration_recorder(ConfigurationRecorderName="default")
    elsewhere = organization.session(second).client(
        "config", region_name="us-east-1", endpoint_url=organization.url
    )
    record_iam_users(elsewhere)
    yield
    record_iam_users(organization.client("config", second))
    elsewhere.delete_configuration_recorder(ConfigurationRecorderName="default")
    organization.client("iam", organization.security).delete_role(RoleName="access-key-remediator")
    organization.client("iam", first).delete_role(RoleName="AccessKeyRemediationRole")


def test_the_pre_flight_lists_what_would_fail_and_the_deploy_does_not_start(
    organization: ServerOrganization, clients: dict[str, tuple[Any, Any]], obstacles: None
) -> None:
    # The pre-flight reads each target account through OrganizationAccountAccessRole with a read-only
    # session policy (moto does not enforce session policies: test_preflight_reads.py checks the policy).
    first, second = organization.members
    before = footprint(organization, clients)
    by_account = {
        first: f"Problem: account {first}: IAM role AccessKeyRemediationRole exists already; the member "
        "stack cannot create it",
        second: f"Problem: account {second}: no Config recorder in {REGION}; it records AWS::IAM::User in "
        "us-east-1: deploy with that --home-region",
    }
    problems = [
        f"Problem: the security account {organization.security}: IAM role access-key-remediator exists "
        "already; the central stack cannot create it",
        *(by_account[account] for account in sorted(by_account)),  # the accounts in the plan's order
    ]
    result = deploy(organization, "--yes", "--output", "json")
    assert result.exit_code == 1
    payload = json.loads(result.stdout)
    assert (payload["status"], payload["changed"]) == ("error", False)
    assert [line for line in payload["plan"] if line.startswith("Problem: ")] == problems
    assert payload["error"] == (
        "the pre-flight found 3 problem(s) (listed in the plan): nothing was changed; fix them and run akr "
        "deploy again"
    )
    result = deploy(organization, "--yes")  # a terminal: the same plan, the same refusal
    assert result.exit_code == 1
    assert all(" ".join(p.split()) in " ".join(result.stdout.split()) for p in problems)
    assert_untouched(organization, clients, before)


def test_a_reservation_the_lambda_quota_cannot_hold_stops_the_deploy_before_any_change(
    organization: ServerOrganization, clients: dict[str, tuple[Any, Any]], monkeypatch: pytest.MonkeyPatch
) -> None:
    # moto has no GetAccountSettings and no concurrency quota: the security account's quota (50, as new
    # accounts often have) comes from a Stubber, checked against the Lambda service model.
    def quota(aws: Aws, session: boto3.Session | None = None, region: str | None = None) -> LambdaClient:
        client: LambdaClient = boto3.Session(region_name=REGION).client("lambda")
        stub = Stubber(client)
        stub.add_response(
            "get_account_settings",
            {"AccountLimit": {"ConcurrentExecutions": 50, "UnreservedConcurrentExecutions": 50}},
            {},
        )
        stub.activate()
        return client

    monkeypatch.setattr(Aws, "lambda_", quota)
    before = footprint(organization, clients)
    problem = (
        f"Problem: the security account {organization.security} has a Lambda concurrency quota of 50 (50 "
        "unreserved): reserving 31 more would leave 19 unreserved, below the 50 Lambda keeps; ask for a "
        "higher quota (Service Quotas, Lambda concurrent executions) or deploy with --reserved-concurrency 0"
    )
    result = deploy(organization, "--reserved-concurrency", "10", "--yes", "--output", "json")
    assert result.exit_code == 1
    payload = json.loads(result.stdout)
    assert (payload["status"], payload["changed"], payload["plan"][-1]) == ("error", False, problem)
    assert payload["error"] == (
        "the pre-flight found 1 problem(s) (listed in the plan): nothing was changed; fix them and run "
        "akr deploy again"
    )
    result = deploy(organization, "--reserved-concurrency", "10", "--yes")
    assert result.exit_code == 1
    assert " ".join(problem.split()) in " ".join(result.stdout.split())
    assert_untouched(organization, clients, before)


def _denied_organizations(denied_call: str, organization: ServerOrganization) -> OrganizationsClient:
    """An Organizations client for a caller without permission for `denied_call`: the calls before it answer
    as the moto organization would, that one is denied."""
    client: OrganizationsClient = boto3.Session(region_name=REGION).client("organizations")
    stub = Stubber(client)
    answers: list[tuple[str, dict[str, Any]]] = [
        (
            "describe_organization",
            {
                "Organization": {
                    "Id": organization.organization_id,
                    "MasterAccountId": organization.management,
                    "FeatureSet": "ALL",
                }
            },
        ),
        ("list_roots", {"Roots": [{"Id": organization.root_id, "Name": "Root"}]}),
        ("list_accounts", {}),
    ]
    for call, answer in answers:
        if call == denied_call:
            stub.add_client_error(call, "AccessDeniedException", DENIED, 400)
            break
        stub.add_response(call, answer)
    stub.activate()
    return client


@pytest.mark.parametrize("denied_call", ["describe_organization", "list_accounts"])
def test_no_permission_to_read_the_organization(
    organization: ServerOrganization,
    clients: dict[str, tuple[Any, Any]],
    monkeypatch: pytest.MonkeyPatch,
    denied_call: str,
) -> None:
    # moto grants every call to every identity, so the denial is a Stubber on the Organizations client the
    # command gets: STS, S3 and CloudFormation still reach the moto server, and would show any change.
    def organizations(aws: Aws, session: boto3.Session | None = None) -> OrganizationsClient:
        return _denied_organizations(denied_call, organization)

    monkeypatch.setattr(Aws, "organizations", organizations)
    before = footprint(organization, clients)
    for output in ("json", "table"):
        result = deploy(organization, "--yes", "--output", output)
        assert result.exit_code == 1
        message = f"cannot read the organization from account {organization.management}: "
        message += f"AccessDeniedException: {DENIED}"
        if output == "json":
            assert json.loads(result.stdout) == {"command": "deploy", "status": "error", "error": message}
        else:
            assert " ".join(result.stderr.split()) == f"error: {message}"
            assert "Would " not in result.stdout
    assert_untouched(organization, clients, before)


def test_template_error_fails_with_the_stack_reason_and_goes_no_further(
    organization: ServerOrganization,
    clients: dict[str, tuple[Any, Any]],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    broken = tmp_path / "central.yaml"
    broken.write_text(
        CENTRAL_TEMPLATE.read_text().replace(
            "\nResources:\n",
            f"\nResources:\n  BrokenQueue:\n    Type: AWS::SQS::Queue\n"
            f"    Properties:\n      QueueName: {BROKEN_QUEUE_NAME}\n",
            1,
        )
    )
    assert BROKEN_QUEUE_NAME in broken.read_text()
    monkeypatch.setattr(org_bootstrap.deploy.apply, "CENTRAL_TEMPLATE", broken)
    before = footprint(organization, clients)
    result = deploy(organization, "--yes", "--output", "json")
    assert result.exit_code == 1
    # moto fails CreateStack itself where AWS rolls the stack back and puts the reason in its events
    # (the Stubber tests cover that path): either way the reason is the message.
    assert json.loads(result.stdout) == {
        "command": "deploy",
        "status": "error",
        "error": "stack access-key-remediation: InvalidParameterValue: Can only include alphanumeric "
        "characters, hyphens, or underscores. 1 to 80 in length",
    }
    after = footprint(organization, clients)
    # The code bucket and the failed central stack are all it leaves: no StackSet, no member or
    # management stack, trusted access as it was.
    assert after[organization.security]["buckets"] == [f"akr-code-{organization.security}-{REGION}"]
    assert after[organization.security]["stacks"] == ["access-key-remediation"]
    for account in (organization.management, *organization.members):
        assert after[account] == before[account]
    assert after["stacksets"] == before["stacksets"] == []
    assert after["trusted"] == before["trusted"]
