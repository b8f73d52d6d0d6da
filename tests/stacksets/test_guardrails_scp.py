"""stacksets/guardrails-scp.json: a valid SCP (parliament, SCP grammar, size limit) that names exactly
what the member template creates and a member-account administrator could edit, and nothing else, each
denied to all but the StackSet execution role.

SCP grammar: no Principal or NotPrincipal element, one policy object:
https://docs.aws.amazon.com/organizations/latest/userguide/orgs_manage_policies_scps_syntax.html
Size: at most 5,120 characters, white space included:
https://docs.aws.amazon.com/organizations/latest/userguide/orgs_reference_limits.html
moto accepts a Principal element and any size, so these checks stand in for AWS's
(docs/aws-compatibility.md)."""

from __future__ import annotations

import json
import re
import warnings
from typing import Any

import pytest

from org_bootstrap.deploy.deployment import Deployment
from org_bootstrap.deploy.guardrails_plan import MAX_SCP_CHARACTERS, POLICY_FILE, policy_content
from tests.stacksets.cfn import Stack, load
from tests.stacksets.variants import VARIANTS

with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    import parliament

EXECUTION_ROLE = "arn:*:iam::*:role/stacksets-exec-*"
"""The role service-managed StackSets deploy with in every target account:
https://docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/stacksets-custom-execution-role.html"""

# Member-template resources the SCP cannot or need not name, and why. Every other resource is named.
NOT_NAMED: dict[str, str] = {
    "AccessKeysRotatedRule": (
        "a Config rule's ARN carries the id Config generates (config-rule/config-rule-xxxxxx), not its name, "
        "and AWS::Config::ConfigRule takes no tags for aws:ResourceTag: no SCP can single it out. Deleting "
        "the stack is denied; a rule deleted directly shows in akr status, and the sweep does not need it"
    ),
    "UnusedCredentialsRule": "as AccessKeysRotatedRule",
    "RecorderReady": "a wait condition handle: nothing in AWS to edit",
    "ConfigRecorder": (
        "optional, and one per account and region: the SCP would also hold an existing recorder of the "
        "account's own; akr status checks that IAM users are recorded"
    ),
    "DeliveryChannel": "as ConfigRecorder",
    "ConfigRecorderRole": (
        "the recorder's own role (generated name); editing it stops recording, see ConfigRecorder"
    ),
    "ConfigBucket": "Config snapshots only (generated name); the remediator never reads it",
    "ConfigBucketPolicy": "the policy of ConfigBucket",
}
GLOBAL_EVENTS_REGION = "us-east-1"
RULE_OUTPUTS = {
    "ForwardingRuleArn": "ForwardingRule",
    "ReactivationForwardingRuleArn": "ReactivationForwardingRule",
}
"""Output -> the rule whose ARN it gives."""
# Policies of a role are edited through the role (iam:PutRolePolicy, iam:DeleteRolePolicy on its ARN).
INLINE_POLICY = "AWS::IAM::Policy"


def scp() -> dict[str, Any]:
    document: dict[str, Any] = json.loads(POLICY_FILE.read_text())
    return document


def as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def wildcard(arn: str, stack: Stack) -> str:
    """A resolved ARN of the test stack as the SCP names it in every account and region."""
    return (
        arn.replace("arn:aws:", "arn:*:")
        .replace(stack.account_id, "*")
        .replace("eu-west-1", "*")
        .replace(GLOBAL_EVENTS_REGION, "*")
    )


def protected_arns(stack: Stack) -> dict[str, str]:
    """Logical id -> the ARN pattern that protects it, for what the template creates with a fixed name."""
    arns: dict[str, str] = {}
    for logical_id, resource in stack.resources.items():
        properties = resource.get("Properties", {})
        match resource["Type"]:
            case "AWS::IAM::Role" if "RoleName" in properties:
                arns[logical_id] = f"arn:*:iam::*:role/{properties['RoleName']}"
            case "AWS::Events::Rule":
                arns[logical_id] = f"arn:*:events:*:*:rule/{properties['Name']}"
    return arns


def scp_resources() -> set[str]:
    return {arn for s in scp()["Statement"] for arn in as_list(s["Resource"])}


def stack_instance_pattern() -> str:
    """StackSets name each instance's stack StackSet-<StackSet name>-<uuid>."""
    return f"arn:*:cloudformation:*:*:stack/StackSet-{Deployment.model_fields['stackset_name'].default}-*/*"


@pytest.mark.parametrize("values", VARIANTS["member"], ids=range(len(VARIANTS["member"])))
def test_the_scp_names_exactly_what_the_member_template_creates(values: dict[str, str]) -> None:
    # The StackSet has an instance in the home region and, for the reactivation forwarding rule, one in the
    # region where IAM's events arrive: the SCP covers what either creates.
    stacks = [Stack("member", values), Stack("member", values, region=GLOBAL_EVENTS_REGION)]
    named: dict[str, str] = {}
    for stack in stacks:
        named |= protected_arns(stack)
        inline = {i for i, r in stack.resources.items() if r["Type"] == INLINE_POLICY}
        # Nothing the template creates is left out, unless NOT_NAMED says why.
        assert set(stack.resources) - set(protected_arns(stack)) - inline <= set(NOT_NAMED)
        for logical_id in inline:
            roles = stack.resources[logical_id]["Properties"]["Roles"]
            assert roles == ["AccessKeyRemediationRole"], logical_id
            assert f"arn:*:iam::*:role/{roles[0]}" in scp_resources()
        for output, logical_id in RULE_OUTPUTS.items():
            if logical_id in stack.resources:
                assert wildcard(stack.outputs[output], stack) == named[logical_id]
    assert {"ForwardingRule", "ReactivationForwardingRule"} <= set(named)
    # Nothing is named that the template (or StackSets itself) does not create.
    assert scp_resources() == set(named.values()) | {EXECUTION_ROLE, stack_instance_pattern()}


def test_every_reason_names_a_resource_of_the_template() -> None:
    assert set(NOT_NAMED) <= set(load("member")["Resources"])


def test_the_names_are_the_ones_akr_deploys() -> None:
    """The template's defaults are what akr deploys: Deployment leaves MemberRoleName, ForwarderRoleName
    and RuleNamePrefix at them (deployment.member_parameters)."""
    parameters = load("member")["Parameters"]
    defaults = Deployment.model_fields
    assert parameters["MemberRoleName"]["Default"] == defaults["member_role_name"].default
    assert parameters["RuleNamePrefix"]["Default"] == defaults["rule_name_prefix"].default
    assert "arn:*:iam::*:role/" + parameters["ForwarderRoleName"]["Default"] in scp_resources()


def test_every_statement_denies_all_but_the_stackset_execution_role() -> None:
    document = scp()
    assert set(document) == {"Version", "Statement"}
    assert document["Version"] == "2012-10-17"
    for statement in document["Statement"]:
        assert set(statement) == {"Sid", "Effect", "Action", "Resource", "Condition"}, statement
        assert statement["Effect"] == "Deny"
        assert statement["Condition"] == {"ArnNotLike": {"aws:PrincipalArn": EXECUTION_ROLE}}
    # The execution role is itself protected, from everyone but itself.
    assert any(EXECUTION_ROLE in as_list(s["Resource"]) for s in document["Statement"])


def test_no_principal_element_and_within_the_size_limit() -> None:
    text = POLICY_FILE.read_text()
    assert not re.search(r'"(Not)?Principal"', text)
    assert len(text) <= MAX_SCP_CHARACTERS
    assert len(policy_content()) < len(text)  # what akr sends: the same, without white space
    assert json.loads(policy_content()) == scp()


def test_the_scp_passes_parliament() -> None:
    policy = parliament.analyze_policy_string(POLICY_FILE.read_text(), include_community_auditors=True)
    assert [(f.issue, f.detail) for f in policy.findings] == []


def resource_findings(statement: dict[str, Any]) -> set[str]:
    """parliament checks that actions apply to the resources named in Allow statements only: the statement
    as an Allow, without its condition, shows whether each action applies to the resources it names."""
    allowed = {"Effect": "Allow", "Action": statement["Action"], "Resource": statement["Resource"]}
    document = json.dumps({"Version": "2012-10-17", "Statement": [allowed]})
    policy = parliament.analyze_policy_string(document, include_community_auditors=True)
    return {f.issue for f in policy.findings} & {"RESOURCE_MISMATCH", "UNKNOWN_ACTION"}


def test_every_action_applies_to_the_resources_its_statement_names() -> None:
    assert [resource_findings(s) for s in scp()["Statement"]] == [set() for _ in scp()["Statement"]]


@pytest.mark.parametrize(
    ("action", "resource"),
    [
        ("iam:PutRolePolicy", "arn:*:events:*:*:rule/akr-forward-noncompliant-keys"),
        ("cloudformation:DeleteStack", "arn:*:iam::*:role/AccessKeyRemediationRole"),
    ],
)
def test_an_action_on_the_wrong_resource_would_be_seen(action: str, resource: str) -> None:
    """Evidence that the check above can fail. (The events actions also take a resource-less form, with
    condition keys only, so parliament accepts any resource for them.)"""
    assert resource_findings({"Action": action, "Resource": resource}) == {"RESOURCE_MISMATCH"}
