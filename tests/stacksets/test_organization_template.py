"""Invariants of stacksets/organization.yaml: a service-managed StackSet with automatic deployment to the
target OUs in one region, passing every member.yaml parameter through with the same constraints. moto's
CloudFormation does not model AWS::CloudFormation::StackSet, so these checks are the only ones it gets;
test_deploy_moto.py drives the same StackSet through the StackSets API instead."""

from __future__ import annotations

from tests.stacksets.cfn import REGION, Stack, load

STACKSET_ONLY = {
    "StackSetName",
    "MemberTemplateUrl",
    "TargetOrganizationalUnitIds",
    "HomeRegion",
    "CallAs",
    "RetainStacksOnAccountRemoval",
    "FailureTolerancePercentage",
    "MaxConcurrentPercentage",
}


def test_stackset_is_service_managed_with_automatic_deployment() -> None:
    stack = Stack("organization", {"TargetOrganizationalUnitIds": "ou-ab12-cdefgh34,ou-ab12-ijklmn56"})
    (stackset,) = stack.of_type("AWS::CloudFormation::StackSet").values()
    properties = stackset["Properties"]
    assert properties["PermissionModel"] == "SERVICE_MANAGED"
    assert properties["AutoDeployment"] == {"Enabled": True, "RetainStacksOnAccountRemoval": "false"}
    assert properties["CallAs"] == "SELF"
    assert "CAPABILITY_NAMED_IAM" in properties["Capabilities"]
    assert properties["TemplateURL"] == stack.parameters["MemberTemplateUrl"]
    assert properties["StackInstancesGroup"] == [
        {
            "DeploymentTargets": {"OrganizationalUnitIds": ["ou-ab12-cdefgh34", "ou-ab12-ijklmn56"]},
            "Regions": [REGION],
        }
    ]
    preferences = properties["OperationPreferences"]
    assert preferences["FailureTolerancePercentage"] == "10"
    assert preferences["MaxConcurrentPercentage"] == "25"


def test_delegated_administrator_is_a_parameter() -> None:
    (stackset,) = (
        Stack("organization", {"CallAs": "DELEGATED_ADMIN"}).of_type("AWS::CloudFormation::StackSet").values()
    )
    assert stackset["Properties"]["CallAs"] == "DELEGATED_ADMIN"


def test_every_member_parameter_is_passed_through_with_the_same_constraints() -> None:
    member = load("member")["Parameters"]
    organization = load("organization")["Parameters"]
    assert set(organization) - STACKSET_ONLY == set(member)
    for name, spec in member.items():
        for field in ("Type", "Default", "AllowedPattern", "AllowedValues", "MinValue", "MaxValue"):
            assert organization[name].get(field) == spec.get(field), (name, field)
    stack = Stack("organization", {"ProtectedUserPath": "/break-glass/", "MaxAccessKeyAge": "60"})
    (stackset,) = stack.of_type("AWS::CloudFormation::StackSet").values()
    passed = {p["ParameterKey"]: p["ParameterValue"] for p in stackset["Properties"]["Parameters"]}
    assert passed == {name: stack.parameters[name] for name in member}
