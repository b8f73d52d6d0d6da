"""Invariants of stacksets/member.yaml: the member role grants exactly what the remediator's actions declare
(the Cloud Custodian meta-lint idea), its trust is pinned to the central role in the organization, the
forwarder may only put events on the central bus, and the Config rules are what the remediator expects.
These also stand in for what moto ignores on deployment (see test_deploy_moto.py)."""

from __future__ import annotations

import json
import re
from typing import Any

import pytest

from org_bootstrap.demo.standins.config import member_config_rules, recording_group
from org_bootstrap.deploy.deployment import FORWARDER_ROLE_NAME
from remediator.permissions import ACTIONS, READS, Permission, Scope, member_rights, member_role_permissions
from remediator.policy import Mode
from remediator.settings import Settings
from tests.stacksets.cfn import ORGANIZATION_ID, PARTITION, SECURITY_ACCOUNT_ID, Stack, load

USER_ARN = f"arn:{PARTITION}:iam::{{account}}:user/*"


def as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def statements(stack: Stack, role: str, effect: str) -> list[dict[str, Any]]:
    """Every statement with this effect in the role's inline policies and in policies attached to it."""
    properties = stack.resources[role]["Properties"]
    documents = [policy["PolicyDocument"] for policy in properties.get("Policies", [])]
    role_name = properties["RoleName"]
    for resource in stack.of_type("AWS::IAM::Policy").values():
        if role_name in resource["Properties"]["Roles"]:
            documents.append(resource["Properties"]["PolicyDocument"])
    return [s for document in documents for s in document["Statement"] if s["Effect"] == effect]


def granted(stack: Stack) -> set[Permission]:
    scopes = {USER_ARN.format(account=stack.account_id): Scope.USER, "*": Scope.ANY}
    permissions: set[Permission] = set()
    for statement in statements(stack, "MemberRole", "Allow"):
        assert set(statement) <= {"Sid", "Effect", "Action", "Resource"}, statement
        for resource in as_list(statement["Resource"]):
            assert resource in scopes, f"{resource} is neither user/* in this account nor *"
            permissions.update(
                Permission(action, scopes[resource]) for action in as_list(statement["Action"])
            )
    return permissions


@pytest.mark.parametrize("mode", list(Mode))
@pytest.mark.parametrize("values", [{}, {"ProtectedUserPath": "/break-glass/"}])
def test_member_role_grants_exactly_what_the_mode_declares(values: dict[str, str], mode: Mode) -> None:
    stack = Stack("member", {**values, "Mode": mode.value}, account_id="333333333333")
    assert granted(stack) == member_role_permissions(mode)
    assert "ManagedPolicyArns" not in stack.resources["MemberRole"]["Properties"]
    assert "PermissionsBoundary" not in stack.resources["MemberRole"]["Properties"]


@pytest.mark.parametrize(
    ("mode", "key_actions"),
    [
        (Mode.REPORT, set()),
        (Mode.DEACTIVATE, {"iam:UpdateAccessKey"}),
        (Mode.DELETE, {"iam:DeleteAccessKey"}),
        (Mode.STAGED, {"iam:UpdateAccessKey", "iam:DeleteAccessKey"}),
    ],
)
def test_each_mode_holds_only_the_key_actions_it_takes(mode: Mode, key_actions: set[str]) -> None:
    # Written out, so that a change to MODE_ACTIONS that widens a mode fails here too.
    assert member_rights(mode) == key_actions
    stack = Stack("member", {"Mode": mode.value}, account_id="333333333333")
    assert {p.action for p in granted(stack) - set(READS)} == key_actions


def test_the_default_mode_grants_no_key_action() -> None:
    # A stack deployed without Mode (by hand) fails closed.
    assert granted(Stack("member", account_id="333333333333")) == set(READS)


def test_the_union_over_every_mode_is_what_the_code_may_call() -> None:
    assert set().union(*(member_role_permissions(mode) for mode in Mode)) == member_role_permissions()


def test_member_role_trusts_only_the_central_remediator_role_in_the_organization() -> None:
    stack = Stack("member")
    role = stack.resources["MemberRole"]["Properties"]
    assert role["RoleName"] == Settings.model_fields["member_role_name"].default
    assert role["AssumeRolePolicyDocument"]["Statement"] == [
        {
            "Sid": "CentralRemediatorOnly",
            "Effect": "Allow",
            "Principal": {"AWS": f"arn:aws:iam::{SECURITY_ACCOUNT_ID}:root"},
            "Action": "sts:AssumeRole",
            "Condition": {
                "ArnEquals": {
                    "aws:PrincipalArn": f"arn:aws:iam::{SECURITY_ACCOUNT_ID}:role/access-key-remediator"
                },
                "StringEquals": {"aws:PrincipalOrgID": ORGANIZATION_ID},
            },
        }
    ]
    # The pinned ARN is the one the central stack gives its Lambda role.
    central = Stack("central", account_id=SECURITY_ACCOUNT_ID)
    pinned = role["AssumeRolePolicyDocument"]["Statement"][0]["Condition"]["ArnEquals"]["aws:PrincipalArn"]
    assert pinned == central.outputs["RemediatorRoleArn"]


def test_role_names_agree_between_the_templates() -> None:
    member, central, organization = (
        load(name)["Parameters"] for name in ("member", "central", "organization")
    )
    for name in ("MemberRoleName", "RemediatorRoleName", "ForwarderRoleName"):
        assert member[name]["Default"] == central[name]["Default"] == organization[name]["Default"]
    # What akr's pre-flight and plan call the forwarder role.
    assert member["ForwarderRoleName"]["Default"] == FORWARDER_ROLE_NAME


def test_protected_user_path_denies_every_mutating_action_under_that_path() -> None:
    assert "ProtectedUsersPolicy" not in Stack("member").resources
    stack = Stack("member", {"ProtectedUserPath": "/break-glass/"}, account_id="333333333333")
    mutating = {permission.action for needed in ACTIONS.values() for permission in needed}
    (deny,) = statements(stack, "MemberRole", "Deny")
    assert set(as_list(deny["Action"])) == mutating
    assert deny["Resource"] == "arn:aws:iam::333333333333:user/break-glass/*"


@pytest.mark.parametrize("path", ["/", "break-glass/", "/break-glass", "/a b/"])
def test_protected_user_path_rejects_paths_that_would_cover_everyone_or_nothing(path: str) -> None:
    with pytest.raises(ValueError, match="does not match"):
        _ = Stack("member", {"ProtectedUserPath": path}).parameters


def test_forwarder_may_only_put_events_on_the_central_bus() -> None:
    stack = Stack("member")
    bus_arn = stack.parameters["CentralEventBusArn"]
    rule = stack.resources["ForwardingRule"]["Properties"]
    rule_arn = stack.resolve({"Fn::GetAtt": ["ForwardingRule", "Arn"]})
    role = stack.resources["ForwarderRole"]["Properties"]
    assert rule["Targets"] == [
        {
            "Id": "central-bus",
            "Arn": bus_arn,
            "RoleArn": stack.resolve({"Fn::GetAtt": ["ForwarderRole", "Arn"]}),
        }
    ]
    assert rule.get("EventBusName", "default") == "default"
    (trust,) = role["AssumeRolePolicyDocument"]["Statement"]
    assert trust["Principal"] == {"Service": "events.amazonaws.com"}
    # This rule, and the reactivation forwarding rule of the same account in us-east-1 (where IAM's events
    # arrive; a stack of its own when the home region is another one).
    reactivations = f"arn:aws:events:us-east-1:{stack.account_id}:rule/akr-forward-key-reactivations"
    assert trust["Condition"] == {
        "StringEquals": {"aws:SourceAccount": stack.account_id, "aws:SourceArn": [rule_arn, reactivations]}
    }
    allowed = [s for policy in role["Policies"] for s in policy["PolicyDocument"]["Statement"]]
    assert [(s["Effect"], s["Action"], s["Resource"]) for s in allowed] == [
        ("Allow", "events:PutEvents", bus_arn)
    ]


def test_config_rules_use_the_managed_rules_with_explicit_parameters() -> None:
    stack = Stack(
        "member", {"RuleNamePrefix": "sec-", "MaxAccessKeyAge": "90", "MaxCredentialUsageAge": "45"}
    )
    rules = {
        r["Properties"]["ConfigRuleName"]: r["Properties"]
        for r in stack.of_type("AWS::Config::ConfigRule").values()
    }
    assert set(rules) == {"sec-access-keys-rotated", "sec-iam-user-unused-credentials-check"}
    rotated, unused = rules["sec-access-keys-rotated"], rules["sec-iam-user-unused-credentials-check"]
    assert rotated["Source"] == {"Owner": "AWS", "SourceIdentifier": "ACCESS_KEYS_ROTATED"}
    assert unused["Source"] == {"Owner": "AWS", "SourceIdentifier": "IAM_USER_UNUSED_CREDENTIALS_CHECK"}
    assert rotated["InputParameters"] == {"maxAccessKeyAge": "90"}
    assert unused["InputParameters"] == {"maxCredentialUsageAge": "45"}
    assert {r["MaximumExecutionFrequency"] for r in rules.values()} == {"TwentyFour_Hours"}
    # Every rule name starts with the prefix the forwarding rule matches.
    pattern = stack.resources["ForwardingRule"]["Properties"]["EventPattern"]
    assert {"prefix": "sec-"} in pattern["detail"]["configRuleName"]


@pytest.mark.parametrize(
    ("values", "expected"),
    [
        ({"EnableAccessKeysRotatedRule": "false"}, {"UnusedCredentialsRule"}),
        ({"EnableUnusedCredentialsRule": "false"}, {"AccessKeysRotatedRule"}),
        ({"EnableAccessKeysRotatedRule": "false", "EnableUnusedCredentialsRule": "false"}, set()),
    ],
)
def test_each_rule_can_be_switched_off(values: dict[str, str], expected: set[str]) -> None:
    stack = Stack("member", values)
    assert set(stack.of_type("AWS::Config::ConfigRule")) == expected
    assert set(stack.outputs) >= {"MemberRoleArn", "ForwardingRuleArn"}


def test_recorder_is_optional_records_only_iam_users_and_gates_the_rules() -> None:
    recorder_types = {"AWS::Config::ConfigurationRecorder", "AWS::Config::DeliveryChannel", "AWS::S3::Bucket"}
    off = Stack("member")
    assert not recorder_types & {r["Type"] for r in off.resources.values()}
    on = Stack("member", {"CreateConfigRecorder": "true"})
    (recorder,) = on.of_type("AWS::Config::ConfigurationRecorder").values()
    assert recorder["Properties"]["RecordingGroup"] == {
        "AllSupported": False,
        "IncludeGlobalResourceTypes": False,
        "RecordingStrategy": {"UseOnly": "INCLUSION_BY_RESOURCE_TYPES"},
        "ResourceTypes": ["AWS::IAM::User"],
    }
    # The rules wait for the handle, which references the recorder and channel only when they exist.
    for rule in on.template["Resources"].values():
        if rule["Type"] == "AWS::Config::ConfigRule":
            assert rule["DependsOn"] == "RecorderReady"
    metadata = on.template["Resources"]["RecorderReady"]["Metadata"]
    assert on.resolve(metadata) == {
        "Recorder": on.resolve({"Ref": "ConfigRecorder"}),
        "DeliveryChannel": on.resolve({"Ref": "DeliveryChannel"}),
    }
    assert off.resolve(metadata) == {"Recorder": "", "DeliveryChannel": ""}


def depends_on(resource: dict[str, Any]) -> set[str]:
    """Logical ids the resource waits for: DependsOn, Ref, Fn::GetAtt and ${...} in Fn::Sub."""
    text = json.dumps(resource)
    waits = set(as_list(resource.get("DependsOn", [])))
    waits |= set(re.findall(r'"Ref": "([A-Za-z0-9]+)"', text))
    waits |= set(re.findall(r'"Fn::GetAtt": \["([A-Za-z0-9]+)"', text))
    waits |= set(re.findall(r"\$\{([A-Za-z0-9]+)[.}]", text))
    return waits


def test_recorder_and_delivery_channel_do_not_wait_for_each_other() -> None:
    # CloudFormation starts the recorder once the channel exists, and the recorder resource completes only
    # then: a DependsOn between the two deadlocks the stack (see the comment in member.yaml).
    resources = load("member")["Resources"]
    assert "ConfigRecorder" not in depends_on(resources["DeliveryChannel"])
    assert "DeliveryChannel" not in depends_on(resources["ConfigRecorder"])
    # Both wait for what Config needs to record and deliver: the role (with its S3 policy) and the bucket.
    assert depends_on(resources["ConfigRecorder"]) >= {"ConfigRecorderRole"}
    assert depends_on(resources["DeliveryChannel"]) >= {"ConfigBucket"}
    assert depends_on(resources["ConfigRecorderRole"]) >= {"ConfigBucket"}
    # What needs a running recorder (the rules) waits for both, through the handle.
    assert depends_on(resources["RecorderReady"]) >= {"ConfigRecorder", "DeliveryChannel"}
    rules = [r for r in resources.values() if r["Type"] == "AWS::Config::ConfigRule"]
    assert rules
    assert all("RecorderReady" in depends_on(rule) for rule in rules)


def test_template_is_flat_for_service_managed_stacksets() -> None:
    template = load("member")
    assert "Transform" not in template
    assert "AWS::CloudFormation::Stack" not in {r["Type"] for r in template["Resources"].values()}
    assert "Fn::ForEach" not in json.dumps(template)


def test_outputs_do_not_reference_config_resources() -> None:
    # moto fails a stack whose Outputs reference a resource it does not model (the Config ones).
    template = load("member")
    config = {k for k, v in template["Resources"].items() if v["Type"].startswith("AWS::Config::")}
    text = json.dumps(template["Outputs"])
    assert not [name for name in config if f'"{name}"' in text or f"{name}." in text]


@pytest.mark.parametrize(
    "overrides",
    [
        {},
        {"RuleNamePrefix": "org-", "MaxCredentialUsageAge": "45", "ConfigRuleFrequency": "Six_Hours"},
        {"EnableAccessKeysRotatedRule": "false"},
        {"EnableUnusedCredentialsRule": "false", "CreateConfigRecorder": "true"},
    ],
)
def test_the_demo_config_standin_registers_exactly_the_templates_rules(overrides: dict[str, str]) -> None:
    """moto's CloudFormation skips AWS::Config::*: the demo's stand-in puts the rules in itself, from the
    StackSet parameters. They must be the template's rules, property for property."""
    stack = Stack("member", overrides)
    declared = sorted(
        (
            resource["Properties"]["ConfigRuleName"],
            resource["Properties"]["MaximumExecutionFrequency"],
            resource["Properties"]["Source"],
            {name: str(value) for name, value in resource["Properties"]["InputParameters"].items()},
        )
        for resource in stack.of_type("AWS::Config::ConfigRule").values()
    )
    registered = sorted(
        (
            rule["ConfigRuleName"],
            rule["MaximumExecutionFrequency"],
            rule["Source"],
            json.loads(rule["InputParameters"]),
        )
        for rule in member_config_rules(overrides)
    )
    assert registered == declared
    recorders = stack.of_type("AWS::Config::ConfigurationRecorder")
    if recorders:
        (recorder,) = recorders.values()
        group = recorder["Properties"]["RecordingGroup"]
        assert recording_group(overrides) == {
            "allSupported": group["AllSupported"],
            "includeGlobalResourceTypes": group["IncludeGlobalResourceTypes"],
            "recordingStrategy": {"useOnly": group["RecordingStrategy"]["UseOnly"]},
            "resourceTypes": group["ResourceTypes"],
        }
