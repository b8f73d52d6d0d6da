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
            # A second region for the reactivation forwarding rule (member.yaml), where IAM's events arrive.
            "Regions": [REGION, "us-east-1"],
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
    # HomeRegion is the StackSet's, required there, and passed through: member.yaml takes "" for a plain
    # stack in its own region.
    assert set(organization) - STACKSET_ONLY == set(member) - {"HomeRegion"}
    for name, spec in member.items():
        if name == "HomeRegion":
            continue
        for field in ("Type", "Default", "AllowedPattern", "AllowedValues", "MinValue", "MaxValue"):
            assert organization[name].get(field) == spec.get(field), (name, field)
    stack = Stack("organization", {"ProtectedUserPath": "/break-glass/", "MaxAccessKeyAge": "60"})
    (stackset,) = stack.of_type("AWS::CloudFormation::StackSet").values()
    passed = {p["ParameterKey"]: p["ParameterValue"] for p in stackset["Properties"]["Parameters"]}
    assert passed == {name: stack.parameters[name] for name in member}


def test_a_home_region_that_receives_iams_events_is_the_only_region() -> None:
    stack = Stack("organization", {"HomeRegion": "us-east-1"})
    (stackset,) = stack.of_type("AWS::CloudFormation::StackSet").values()
    assert [g["Regions"] for g in stackset["Properties"]["StackInstancesGroup"]] == [["us-east-1"]]
    passed = {p["ParameterKey"]: p["ParameterValue"] for p in stackset["Properties"]["Parameters"]}
    assert (passed["HomeRegion"], passed["GlobalEventsRegion"]) == ("us-east-1", "us-east-1")


def test_another_home_region_goes_first_then_the_region_of_iams_events() -> None:
    # The reactivation rule in us-east-1 sends through the forwarder role the home region's instance makes.
    stack = Stack("organization", {"HomeRegion": "eu-west-1"})
    (stackset,) = stack.of_type("AWS::CloudFormation::StackSet").values()
    assert [g["Regions"] for g in stackset["Properties"]["StackInstancesGroup"]] == [
        ["eu-west-1", "us-east-1"]
    ]
    preferences = stackset["Properties"]["OperationPreferences"]
    assert (preferences["RegionConcurrencyType"], preferences["RegionOrder"]) == (
        "SEQUENTIAL",
        ["eu-west-1", "us-east-1"],
    )
