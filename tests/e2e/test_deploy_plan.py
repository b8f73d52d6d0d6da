"""`akr deploy` shows its plan without prompting: --dry-run (read-only, exit 0, also as JSON), and JSON
output without --yes (the plan in an "aborted" envelope). A deployment in another home region is named
in the plan, deploy refuses to make a second one, and the other commands' "no stack" errors name it."""

from __future__ import annotations

import json
from typing import Any

import pytest

from org_bootstrap.deploy.snapstart import SNAPSTART_ON
from tests.e2e.akr import akr, deploy
from tests.moto_server import REGION, ServerOrganization

pytestmark = pytest.mark.slow

OTHER_REGION = "us-east-1"
CENTRAL = "access-key-remediation"


def central_stacks(organization: ServerOrganization, region: str) -> list[str]:
    client = organization.session(organization.security).client(
        "cloudformation", region_name=region, endpoint_url=organization.url
    )
    return [
        s["StackName"]
        for s in client.list_stacks()["StackSummaries"]
        if s["StackStatus"] != "DELETE_COMPLETE"
    ]


@pytest.fixture(scope="module")
def planned(organization: ServerOrganization) -> dict[str, Any]:
    """The dry run of a first deploy, before anything exists."""
    result = deploy(organization, "--dry-run", "--output", "json")
    assert result.exit_code == 0, result.output
    payload: dict[str, Any] = json.loads(result.stdout)
    return payload


def test_a_dry_run_prints_the_plan_and_changes_nothing(
    organization: ServerOrganization, planned: dict[str, Any]
) -> None:
    assert (planned["command"], planned["status"], planned["changed"]) == ("deploy", "planned", False)
    assert planned["plan"][0].startswith("Would create bucket s3://akr-code-")
    assert central_stacks(organization, REGION) == []
    table = deploy(organization, "--dry-run")
    assert table.exit_code == 0, table.output
    assert table.stdout.startswith("Plan (nothing has been changed yet):")
    assert "Deploy?" not in table.stdout
    assert central_stacks(organization, REGION) == []


def test_snapstart_asked_on_a_first_deploy_is_in_the_plan(
    organization: ServerOrganization, planned: dict[str, Any]
) -> None:
    assert SNAPSTART_ON not in planned["plan"]
    result = deploy(organization, "--snapstart", "--dry-run", "--output", "json")
    assert result.exit_code == 0, result.output
    assert SNAPSTART_ON in json.loads(result.stdout)["plan"]
    assert central_stacks(organization, REGION) == []


def test_json_without_yes_gives_the_plan_and_changes_nothing(
    organization: ServerOrganization, planned: dict[str, Any]
) -> None:
    result = deploy(organization, "--output", "json")
    assert result.exit_code == 1
    payload = json.loads(result.stdout)
    assert (payload["status"], payload["changed"]) == ("aborted", False)
    assert payload["plan"] == planned["plan"]
    assert payload["error"] == (
        "--output json cannot ask for confirmation: pass --yes, or --dry-run for the plan alone"
    )
    assert central_stacks(organization, REGION) == []


@pytest.fixture(scope="module")
def deployed(organization: ServerOrganization, planned: dict[str, Any]) -> None:
    result = deploy(organization, "--yes", "--output", "json")
    assert result.exit_code == 0, result.output


def test_another_home_region_is_named_in_the_plan_and_refused(
    organization: ServerOrganization, deployed: None
) -> None:
    elsewhere = (
        f"A deployment already exists in {REGION} (stack {CENTRAL} in the security account): a second one "
        f"in {OTHER_REGION} would evaluate and remediate every user twice. Pass --home-region {REGION} to "
        "update it, or destroy it there first"
    )
    dry = deploy(organization, "--home-region", OTHER_REGION, "--dry-run", "--output", "json")
    assert dry.exit_code == 0, dry.output
    assert json.loads(dry.stdout)["plan"][0] == elsewhere
    refused = deploy(organization, "--home-region", OTHER_REGION, "--yes", "--output", "json")
    assert refused.exit_code == 1
    payload = json.loads(refused.stdout)
    assert payload["error"] == (
        f"not deployed: there is a deployment in {REGION}; pass --home-region {REGION} to update it, or "
        "destroy it there first"
    )
    assert central_stacks(organization, OTHER_REGION) == []


@pytest.mark.parametrize(
    "command",
    [
        ("audit",),
        ("exempt", "list"),
        ("sweep", "--local", "--dry-run"),
        ("undo", "--account", "111111111111", "--access-key-id", "AKIAIOSFODNN7EXAMPLE"),
    ],
)
def test_the_no_stack_errors_name_the_region_of_the_deployment(
    organization: ServerOrganization, deployed: None, command: tuple[str, ...]
) -> None:
    result = akr(
        organization, *command, "--security-account", organization.security, "--home-region", OTHER_REGION,
        "--output", "json",
    )  # fmt: skip
    assert result.exit_code == 1
    assert json.loads(result.stdout)["error"] == (
        f"no stack {CENTRAL} in the security account {organization.security} ({OTHER_REGION}), but there is "
        f"one in {REGION}: the deployment's home region; pass --home-region {REGION}"
    )
