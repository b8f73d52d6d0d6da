"""`akr deploy --attach-guardrails` end to end against a moto server: the SCP lands on the targets, a second
deploy changes nothing and says so, and `akr destroy` plans to take it away. (Its removal, and what moto
lets through that AWS refuses, are in tests/integration/test_guardrails.py.)"""

from __future__ import annotations

import json
from typing import Any

import pytest

from org_bootstrap.deploy.guardrails_plan import OWNER_TAG, POLICY_NAME, SCP, policy_content
from org_bootstrap.deploy.plan_lines import NOTHING_TO_CHANGE
from tests.e2e.akr import akr, as_json, deploy
from tests.moto_server import ServerOrganization

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def first_deploy(organization: ServerOrganization) -> dict[str, Any]:
    result = deploy(organization, "--attach-guardrails", "--yes", "--output", "json")
    assert result.exit_code == 0, result.output
    return as_json(result)


def guardrail(organization: ServerOrganization) -> dict[str, Any]:
    client = organization.client("organizations", organization.management)
    (policy,) = [p for p in client.list_policies(Filter=SCP)["Policies"] if p["Name"] == POLICY_NAME]
    described: dict[str, Any] = client.describe_policy(PolicyId=policy["Id"])["Policy"]
    targets = client.list_targets_for_policy(PolicyId=policy["Id"])["Targets"]
    tags = client.list_tags_for_resource(ResourceId=policy["Id"])["Tags"]
    return {**described, "targets": [t["TargetId"] for t in targets], "tags": tags}


def test_the_scp_is_created_with_its_tag_and_attached_to_the_targets(
    organization: ServerOrganization, first_deploy: dict[str, Any]
) -> None:
    assert first_deploy["status"] == "ok"
    policy = guardrail(organization)
    assert json.loads(policy["Content"]) == json.loads(policy_content())
    assert policy["targets"] == [organization.workloads_ou]
    assert OWNER_TAG in policy["tags"]
    plan = first_deploy["plan"]
    assert any(line.startswith("Would enable service control policies on root ") for line in plan)
    assert f"Would attach the guardrail SCP to {organization.workloads_ou}: member-account " in "\n".join(
        plan
    )


def test_a_second_deploy_changes_nothing_and_says_the_scp_stays(
    organization: ServerOrganization, first_deploy: dict[str, Any]
) -> None:
    before = guardrail(organization)
    result = deploy(organization, "--attach-guardrails", "--output", "json")  # no --yes: nothing to ask
    assert result.exit_code == 0, result.output
    payload = as_json(result)
    assert (payload["status"], payload["changed"]) == ("ok", False)
    assert NOTHING_TO_CHANGE in payload["plan"]
    assert f"The guardrail SCP stays attached to {organization.workloads_ou} (unchanged)" in payload["plan"]
    assert guardrail(organization) == before


def test_status_says_where_it_is_attached(
    organization: ServerOrganization, first_deploy: dict[str, Any]
) -> None:
    policy = guardrail(organization)
    result = akr(organization, "status", "--security-account", organization.security, "--output", "json")
    policy_id, ou = policy["PolicySummary"]["Id"], organization.workloads_ou
    assert (
        as_json(result)["result"]["guardrails"]
        == f"Guardrail SCP {POLICY_NAME} ({policy_id}) attached to {ou}"
    )


def test_destroy_plans_to_detach_and_delete_it_first(
    organization: ServerOrganization, first_deploy: dict[str, Any]
) -> None:
    policy = guardrail(organization)
    result = akr(
        organization, "destroy", "--security-account", organization.security, "--dry-run", "--output", "json"
    )
    assert result.exit_code == 0, result.output
    assert as_json(result)["plan"][0] == (
        f"Would detach the guardrail SCP {POLICY_NAME} ({policy['PolicySummary']['Id']}) from "
        f"{organization.workloads_ou} and delete it (service control policies stay enabled on the root)"
    )
    assert guardrail(organization) == policy
