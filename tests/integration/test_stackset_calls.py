"""The exact CloudFormation, StackSet and S3 calls `akr deploy` makes, checked by botocore's Stubber against
the real service models. These cover what moto does not do like AWS (../shared/aws-facts.md, "Where moto
differs from AWS"): each test names the gap it stands in for."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import boto3
import pytest
from botocore.stub import Stubber

from org_bootstrap.aws import Aws, CliError
from org_bootstrap.commands.deploy import show_deployed
from org_bootstrap.commands.options import Output
from org_bootstrap.deploy.apply import Outcome, Prepared, carry_out
from org_bootstrap.deploy.code_check import lambda_sha256
from org_bootstrap.deploy.deployment import CENTRAL_TEMPLATE, MEMBER_TEMPLATE, Deployment
from org_bootstrap.deploy.lambda_zip import Artifact
from org_bootstrap.deploy.observed import Account, InstanceState, Observed, StackSetState, StackState
from org_bootstrap.deploy.plan import Change, Plan, plan_deploy
from org_bootstrap.deploy.preflight import Preflight
from org_bootstrap.deploy.stacks import apply_stack, apply_stackset, failure_reasons
from org_bootstrap.deploy.template_store import template_key
from remediator.policy import Mode
from tests.fixtures import secured_bucket

if TYPE_CHECKING:
    from botocore.model import OperationModel
    from mypy_boto3_cloudformation import CloudFormationClient
    from mypy_boto3_lambda import LambdaClient
    from mypy_boto3_s3 import S3Client

REGION = "eu-west-1"
MANAGEMENT = "111111111111"
SECURITY = "222222222222"
MEMBERS = ("333333333333", "444444444444")
ORGANIZATION = "o-abcdefghij"
ROOT = "r-ab12"
OU = "ou-ab12-11111111"
STACKSET = "access-key-remediation-member"
CENTRAL_STACK = "access-key-remediation"
MANAGEMENT_STACK = "access-key-remediation-member"
BUCKET = f"akr-code-{SECURITY}-{REGION}"
BUS_ARN = f"arn:aws:events:{REGION}:{SECURITY}:event-bus/access-key-remediation"
CREATED = datetime(2025, 6, 1, tzinfo=UTC)
AUTO_DEPLOYMENT = {"Enabled": True, "RetainStacksOnAccountRemoval": False}
# SOFT_FAILURE_TOLERANCE: under STRICT (the API's default) a tolerance that rounds down to 0 runs one
# account at a time and the first failure stops the rest (moto ignores OperationPreferences).
PREFERENCES = {
    "ConcurrencyMode": "SOFT_FAILURE_TOLERANCE",
    "FailureTolerancePercentage": 100,
    "MaxConcurrentPercentage": 25,
    "RegionConcurrencyType": "PARALLEL",
}
CENTRAL_BODY = CENTRAL_TEMPLATE.read_text()
UPLOADED_VERSION = "3HL4kqtJlcpXroDTDmJ.rmSpXd3dIbrHY"
CENTRAL_URL = (
    f"https://akr-code-{SECURITY}-{REGION}.s3.{REGION}.amazonaws.com/{template_key('central', CENTRAL_BODY)}"
)
MEMBER_BODY = MEMBER_TEMPLATE.read_text()
MEMBER_PARAMETERS = {"SecurityAccountId": SECURITY, "MaxAccessKeyAge": "90"}
SORTED_MEMBER_PARAMETERS = [
    {"ParameterKey": "MaxAccessKeyAge", "ParameterValue": "90"},
    {"ParameterKey": "SecurityAccountId", "ParameterValue": SECURITY},
]


def cloudformation() -> CloudFormationClient:
    return boto3.Session(region_name=REGION).client("cloudformation")


def s3_client() -> S3Client:
    return boto3.Session(region_name=REGION).client("s3")


def lambda_client() -> LambdaClient:
    return boto3.Session(region_name=REGION).client("lambda")


Call = tuple[str, dict[str, Any]]


def recorded(client: CloudFormationClient) -> list[Call]:
    """Every call made on `client`, with the parameters as the code passed them."""
    calls: list[Call] = []

    def record(params: dict[str, Any], model: OperationModel, **_: Any) -> None:
        calls.append((model.name, dict(params)))

    client.meta.events.register("before-parameter-build.cloudformation", record)
    return calls


@pytest.fixture
def cfn() -> Iterator[tuple[CloudFormationClient, Stubber]]:
    client = cloudformation()
    with Stubber(client) as stubber:
        yield client, stubber
        stubber.assert_no_pending_responses()


def stacks(name: str, status: str, outputs: dict[str, str] | None = None) -> dict[str, Any]:
    stack: dict[str, Any] = {"StackName": name, "CreationTime": CREATED, "StackStatus": status}
    if outputs:
        stack["Outputs"] = [{"OutputKey": k, "OutputValue": v} for k, v in outputs.items()]
    return {"Stacks": [stack]}


def operation(status: str) -> dict[str, Any]:
    return {"StackSetOperation": {"OperationId": "op-1", "Status": status}}


def polled(call_as: str) -> dict[str, str]:
    return {"StackSetName": STACKSET, "OperationId": "op-1", "CallAs": call_as}


def stackset_kwargs(change: Change, **overrides: Any) -> dict[str, Any]:
    kwargs: dict[str, Any] = {
        "change": change,
        "template": MEMBER_BODY,
        "parameters": MEMBER_PARAMETERS,
        "targets": (ROOT,),
        "regions": (REGION,),
        "call_as": "SELF",
        "missing_accounts": (),
        "failure_tolerance": 100,
        "max_concurrent": 25,
        "progress": lambda _message: None,
        "poll_seconds": 0,
    }
    return {**kwargs, **overrides}


# -- StackSet: create and update ----------------------------------------------------------------------


@pytest.mark.parametrize("call_as", ["SELF", "DELEGATED_ADMIN"])
def test_create_stack_set_is_service_managed_with_auto_deployment(
    cfn: tuple[CloudFormationClient, Stubber], call_as: str
) -> None:
    # moto gap: AutoDeployment is not stored (DescribeStackSet never returns it), so only the request can
    # show that accounts joining a target OU later get the stack and accounts leaving it lose it.
    client, stub = cfn
    stub.add_response(
        "create_stack_set",
        {"StackSetId": f"{STACKSET}:1"},
        {
            "StackSetName": STACKSET,
            "Description": "access-key-remediation member stack: Config rules, forwarding rule, member role",
            "TemplateBody": MEMBER_BODY,
            "Parameters": SORTED_MEMBER_PARAMETERS,
            "Capabilities": ["CAPABILITY_NAMED_IAM"],
            "PermissionModel": "SERVICE_MANAGED",
            "AutoDeployment": AUTO_DEPLOYMENT,
            "ManagedExecution": {"Active": True},
            "CallAs": call_as,
        },
    )
    stub.add_response(
        "create_stack_instances",
        {"OperationId": "op-1"},
        {
            "StackSetName": STACKSET,
            "DeploymentTargets": {"OrganizationalUnitIds": [ROOT]},
            "Regions": [REGION],
            "OperationPreferences": PREFERENCES,
            "CallAs": call_as,
        },
    )
    stub.add_response("describe_stack_set_operation", operation("SUCCEEDED"), polled(call_as))
    apply_stackset(client, STACKSET, **stackset_kwargs(Change.CREATE, call_as=call_as))


@pytest.mark.parametrize("call_as", ["SELF", "DELEGATED_ADMIN"])
def test_update_stack_set_keeps_auto_deployment_and_reaches_every_instance(
    cfn: tuple[CloudFormationClient, Stubber], call_as: str
) -> None:
    # moto gaps: AutoDeployment is not stored (the update must send it again, or an operator's manual
    # change would stick), and an update does not redeploy the instances. In AWS an UpdateStackSet that
    # names DeploymentTargets and Regions updates every existing instance under them; the operation is
    # asynchronous, so the deploy polls it to the end before it goes on.
    client, stub = cfn
    stub.add_response(
        "update_stack_set",
        {"OperationId": "op-1"},
        {
            "StackSetName": STACKSET,
            "TemplateBody": MEMBER_BODY,
            "Parameters": SORTED_MEMBER_PARAMETERS,
            "Capabilities": ["CAPABILITY_NAMED_IAM"],
            "PermissionModel": "SERVICE_MANAGED",
            "AutoDeployment": AUTO_DEPLOYMENT,
            "DeploymentTargets": {"OrganizationalUnitIds": [ROOT]},
            "Regions": [REGION],
            "OperationPreferences": PREFERENCES,
            "CallAs": call_as,
        },
    )
    for status in ("QUEUED", "RUNNING", "RUNNING", "SUCCEEDED"):
        stub.add_response("describe_stack_set_operation", operation(status), polled(call_as))
    progress: list[str] = []
    apply_stackset(
        client, STACKSET, **stackset_kwargs(Change.UPDATE, call_as=call_as, progress=progress.append)
    )
    assert progress == [
        f"updating StackSet {STACKSET}",
        f"StackSet {STACKSET}: operation queued",
        f"StackSet {STACKSET}: operation running",
        f"StackSet {STACKSET}: operation running",
    ]


def test_update_then_deploys_to_accounts_that_lack_an_instance(
    cfn: tuple[CloudFormationClient, Stubber],
) -> None:
    # moto gap: no redeploy on update. The update operation finishes before the new instances are asked
    # for (AWS runs one operation per StackSet at a time: OperationInProgressException otherwise).
    client, stub = cfn
    calls = recorded(client)
    stub.add_response("update_stack_set", {"OperationId": "op-1"})
    stub.add_response("describe_stack_set_operation", operation("RUNNING"), polled("SELF"))
    stub.add_response("describe_stack_set_operation", operation("SUCCEEDED"), polled("SELF"))
    stub.add_response(
        "create_stack_instances",
        {"OperationId": "op-2"},
        {
            "StackSetName": STACKSET,
            "DeploymentTargets": {"OrganizationalUnitIds": [OU]},
            "Regions": [REGION],
            "OperationPreferences": PREFERENCES,
            "CallAs": "SELF",
        },
    )
    stub.add_response(
        "describe_stack_set_operation",
        {"StackSetOperation": {"OperationId": "op-2", "Status": "SUCCEEDED"}},
        {"StackSetName": STACKSET, "OperationId": "op-2", "CallAs": "SELF"},
    )
    apply_stackset(
        client, STACKSET, **stackset_kwargs(Change.UPDATE, targets=(OU,), missing_accounts=(MEMBERS[1],))
    )
    assert [name for name, _ in calls] == [
        "UpdateStackSet",
        "DescribeStackSetOperation",
        "DescribeStackSetOperation",
        "CreateStackInstances",
        "DescribeStackSetOperation",
    ]


def test_an_upgrade_updates_the_home_region_then_adds_the_reactivation_rules_region(
    cfn: tuple[CloudFormationClient, Stubber],
) -> None:
    # A deployment from before the reactivation forwarding rule: its instances are all in the home region.
    # The update names that region only (naming one without instances is not an update of them), then the
    # StackSet gets its instances in us-east-1, where IAM's CloudTrail events arrive.
    client, stub = cfn
    calls = recorded(client)
    stub.add_response("update_stack_set", {"OperationId": "op-1"})
    stub.add_response("describe_stack_set_operation", operation("SUCCEEDED"), polled("SELF"))
    stub.add_response(
        "create_stack_instances",
        {"OperationId": "op-2"},
        {
            "StackSetName": STACKSET,
            "DeploymentTargets": {"OrganizationalUnitIds": [ROOT]},
            "Regions": ["us-east-1"],
            "OperationPreferences": PREFERENCES,
            "CallAs": "SELF",
        },
    )
    stub.add_response(
        "describe_stack_set_operation",
        {"StackSetOperation": {"OperationId": "op-2", "Status": "SUCCEEDED"}},
        {"StackSetName": STACKSET, "OperationId": "op-2", "CallAs": "SELF"},
    )
    apply_stackset(
        client,
        STACKSET,
        **stackset_kwargs(
            Change.UPDATE,
            regions=(REGION, "us-east-1"),
            instance_regions=(REGION,),
            added_regions=("us-east-1",),
        ),
    )
    assert [name for name, _ in calls] == [
        "UpdateStackSet",
        "DescribeStackSetOperation",
        "CreateStackInstances",
        "DescribeStackSetOperation",
    ]
    assert calls[0][1]["Regions"] == [REGION]


def test_a_first_deploy_creates_the_home_region_s_instances_before_us_east_1(
    cfn: tuple[CloudFormationClient, Stubber],
) -> None:
    # The us-east-1 instance's reactivation rule sends through the forwarder role that the home region's
    # instance creates: the regions go one after the other, the home region first.
    client, stub = cfn
    stub.add_response("create_stack_set", {"StackSetId": "ss-1"})
    stub.add_response(
        "create_stack_instances",
        {"OperationId": "op-1"},
        {
            "StackSetName": STACKSET,
            "DeploymentTargets": {"OrganizationalUnitIds": [ROOT]},
            "Regions": [REGION, "us-east-1"],
            "OperationPreferences": PREFERENCES
            | {"RegionConcurrencyType": "SEQUENTIAL", "RegionOrder": [REGION, "us-east-1"]},
            "CallAs": "SELF",
        },
    )
    stub.add_response("describe_stack_set_operation", operation("SUCCEEDED"), polled("SELF"))
    apply_stackset(client, STACKSET, **stackset_kwargs(Change.CREATE, regions=(REGION, "us-east-1")))
    stub.assert_no_pending_responses()


def test_update_stack_set_keeps_the_parameters_akr_does_not_set(
    cfn: tuple[CloudFormationClient, Stubber],
) -> None:
    # Parameters an update leaves out are reset to the template's defaults: each one the StackSet has and
    # akr does not set goes with UsePreviousValue, among akr's own in key order. A kept name akr sets is
    # sent with akr's value, once.
    client, stub = cfn
    stub.add_response(
        "update_stack_set",
        {"OperationId": "op-1"},
        {
            "StackSetName": STACKSET,
            "TemplateBody": MEMBER_BODY,
            "Parameters": [
                {"ParameterKey": "ConfigRuleFrequency", "UsePreviousValue": True},
                {"ParameterKey": "ExtraRuleNamePrefixes", "UsePreviousValue": True},
                {"ParameterKey": "MaxAccessKeyAge", "ParameterValue": "90"},
                {"ParameterKey": "SecurityAccountId", "ParameterValue": SECURITY},
            ],
            "Capabilities": ["CAPABILITY_NAMED_IAM"],
            "PermissionModel": "SERVICE_MANAGED",
            "AutoDeployment": AUTO_DEPLOYMENT,
            "DeploymentTargets": {"OrganizationalUnitIds": [ROOT]},
            "Regions": [REGION],
            "OperationPreferences": PREFERENCES,
            "CallAs": "SELF",
        },
    )
    stub.add_response("describe_stack_set_operation", operation("SUCCEEDED"), polled("SELF"))
    kept = ("ConfigRuleFrequency", "ExtraRuleNamePrefixes", "MaxAccessKeyAge")
    apply_stackset(client, STACKSET, **stackset_kwargs(Change.UPDATE, kept=kept))


def test_create_stack_set_sends_only_akrs_parameters(cfn: tuple[CloudFormationClient, Stubber]) -> None:
    # UsePreviousValue on a create is an error in AWS: there is no previous value.
    client, stub = cfn
    calls = recorded(client)
    stub.add_response("create_stack_set", {"StackSetId": f"{STACKSET}:1"})
    stub.add_response("create_stack_instances", {"OperationId": "op-1"})
    stub.add_response("describe_stack_set_operation", operation("SUCCEEDED"))
    apply_stackset(client, STACKSET, **stackset_kwargs(Change.CREATE, kept=("ConfigRuleFrequency",)))
    assert dict(calls)["CreateStackSet"]["Parameters"] == SORTED_MEMBER_PARAMETERS


def test_up_to_date_stack_set_makes_no_call(cfn: tuple[CloudFormationClient, Stubber]) -> None:
    client, _ = cfn  # the Stubber refuses any call it has no response for
    apply_stackset(client, STACKSET, **stackset_kwargs(Change.NONE))


def test_instances_target_the_root_never_accounts_and_never_the_management_account(
    cfn: tuple[CloudFormationClient, Stubber],
) -> None:
    # moto gap: targeting the root also deploys to the management account, which AWS never does. The
    # request names OUs only (no Accounts, no AccountFilterType), so which accounts get a stack is
    # AWS's service-managed rule: every account under the root except the management account.
    client, stub = cfn
    calls = recorded(client)
    stub.add_response("create_stack_instances", {"OperationId": "op-1"})
    stub.add_response("describe_stack_set_operation", operation("SUCCEEDED"))
    apply_stackset(client, STACKSET, **stackset_kwargs(Change.NONE, missing_accounts=(MEMBERS[0],)))
    ((name, params), _) = calls
    assert name == "CreateStackInstances"
    assert params["DeploymentTargets"] == {"OrganizationalUnitIds": [ROOT]}
    assert "Accounts" not in params
    assert MEMBERS[0] not in repr(params)


# -- failures -----------------------------------------------------------------------------------------


@pytest.mark.parametrize("change", [Change.CREATE, Change.UPDATE])
def test_failed_operation_raises_with_each_accounts_reason(
    cfn: tuple[CloudFormationClient, Stubber], change: Change
) -> None:
    # moto gap: a failing instance fails the whole call synchronously; in AWS the call succeeds and the
    # operation ends FAILED (failure tolerance exceeded), with the reasons per account in its results.
    client, stub = cfn
    first = "create_stack_set" if change is Change.CREATE else "update_stack_set"
    stub.add_response(first, {"StackSetId": "x"} if change is Change.CREATE else {"OperationId": "op-1"})
    if change is Change.CREATE:
        stub.add_response("create_stack_instances", {"OperationId": "op-1"})
    stub.add_response("describe_stack_set_operation", operation("RUNNING"), polled("SELF"))
    stub.add_response("describe_stack_set_operation", operation("FAILED"), polled("SELF"))
    stub.add_response(
        "list_stack_set_operation_results",
        {
            "Summaries": [
                {"Account": SECURITY, "Region": REGION, "Status": "SUCCEEDED"},
                {
                    "Account": MEMBERS[0],
                    "Region": REGION,
                    "Status": "FAILED",
                    "StatusReason": "ResourceLogicalId:ConfigRecorder, ResourceType:AWS::Config::"
                    "ConfigurationRecorder, ResourceStatusReason:MaxNumberOfConfigurationRecordersExceeded",
                },
                {
                    "Account": MEMBERS[1],
                    "Region": REGION,
                    "Status": "CANCELLED",
                    "StatusReason": "Cancelled since failure tolerance has exceeded",
                },
            ]
        },
        polled("SELF"),
    )
    # An update that failed must not go on to deploy new instances: the Stubber would refuse the call.
    with pytest.raises(CliError) as raised:
        apply_stackset(client, STACKSET, **stackset_kwargs(change, missing_accounts=(MEMBERS[1],)))
    message = str(raised.value)
    assert message.startswith(f"StackSet {STACKSET}: operation op-1 FAILED: ")
    assert f"{MEMBERS[0]} {REGION}: ResourceLogicalId:ConfigRecorder" in message
    assert "MaxNumberOfConfigurationRecordersExceeded" in message
    assert f"{MEMBERS[1]} {REGION}: Cancelled since failure tolerance has exceeded" in message
    assert SECURITY not in message


def test_stack_set_api_error_is_a_cli_error(cfn: tuple[CloudFormationClient, Stubber]) -> None:
    client, stub = cfn
    stub.add_client_error(
        "create_stack_set",
        "ValidationError",
        "You must enable organizations access to operate a service managed stack set",
    )
    with pytest.raises(CliError) as raised:
        apply_stackset(client, STACKSET, **stackset_kwargs(Change.CREATE))
    assert str(raised.value) == (
        f"StackSet {STACKSET}: ValidationError: "
        "You must enable organizations access to operate a service managed stack set"
    )


def events(*rows: tuple[str, str, str]) -> dict[str, Any]:
    """describe_stack_events, newest first as CloudFormation returns them."""
    return {
        "StackEvents": [
            {
                "StackId": f"arn:aws:cloudformation:{REGION}:{SECURITY}:stack/{CENTRAL_STACK}/1",
                "EventId": f"event-{index}",
                "StackName": CENTRAL_STACK,
                "LogicalResourceId": logical,
                "ResourceStatus": status,
                "ResourceStatusReason": reason,
                "Timestamp": CREATED,
            }
            for index, (logical, status, reason) in enumerate(rows)
        ]
    }


def stack_kwargs(change: Change, **overrides: Any) -> dict[str, Any]:
    kwargs: dict[str, Any] = {
        "change": change,
        "template": CENTRAL_BODY,
        "parameters": {"Mode": "report"},
        "progress": lambda _message: None,
        "poll_seconds": 0,
    }
    return {**kwargs, **overrides}


@pytest.mark.parametrize(
    ("change", "call", "ending"),
    [
        (Change.CREATE, "create_stack", "ROLLBACK_COMPLETE"),
        (Change.UPDATE, "update_stack", "UPDATE_ROLLBACK_COMPLETE"),
    ],
)
def test_stack_that_rolls_back_raises_with_the_reasons_from_its_events(
    cfn: tuple[CloudFormationClient, Stubber], change: Change, call: str, ending: str
) -> None:
    # moto gap: moto never rolls a stack back (a failing resource fails CreateStack itself, and the stack
    # stays CREATE_IN_PROGRESS); in AWS the call succeeds and the reasons are only in the stack events.
    client, stub = cfn
    stub.add_response(call, {"StackId": "id"})
    stub.add_response(
        "describe_stacks", stacks(CENTRAL_STACK, "CREATE_IN_PROGRESS"), {"StackName": CENTRAL_STACK}
    )
    stub.add_response("describe_stacks", stacks(CENTRAL_STACK, ending), {"StackName": CENTRAL_STACK})
    stub.add_response(
        "describe_stack_events",
        events(
            (CENTRAL_STACK, ending, ""),
            ("AuditTable", "DELETE_COMPLETE", ""),
            (CENTRAL_STACK, "ROLLBACK_IN_PROGRESS", "The following resource(s) failed to create: [Key]."),
            ("Key", "CREATE_FAILED", "Resource creation cancelled"),
            (
                "RemediatorFunction",
                "CREATE_FAILED",
                "Error occurred while GetObject. S3 Error Code: NoSuchKey",
            ),
            ("AuditTable", "CREATE_COMPLETE", ""),
        ),
        {"StackName": CENTRAL_STACK},
    )
    with pytest.raises(CliError) as raised:
        apply_stack(client, CENTRAL_STACK, **stack_kwargs(change))
    assert str(raised.value) == (
        f"stack {CENTRAL_STACK} ended {ending}: "
        "RemediatorFunction: Error occurred while GetObject. S3 Error Code: NoSuchKey; "
        "Key: Resource creation cancelled"
    )


def stack_event(logical: str, status: str, reason: str = "") -> dict[str, Any]:
    """One describe_stack_events entry; the stack's own events carry the stack's resource type."""
    event: dict[str, Any]
    (event,) = events((logical, status, reason))["StackEvents"]
    event["EventId"] = f"{logical}-{status}"
    if logical == CENTRAL_STACK:
        event["ResourceType"] = "AWS::CloudFormation::Stack"
    return event


def test_failure_reasons_page_back_to_the_start_of_the_latest_operation_only(
    cfn: tuple[CloudFormationClient, Stubber],
) -> None:
    # The events page (100 at a time): the failure can be on page two, and what failed in an earlier
    # update is not this one's reason. moto answers in one page.
    client, stub = cfn
    stub.add_response(
        "describe_stack_events",
        {
            "StackEvents": [
                stack_event(CENTRAL_STACK, "UPDATE_ROLLBACK_COMPLETE"),
                stack_event("RemediatorFunction", "UPDATE_COMPLETE"),
                stack_event(CENTRAL_STACK, "UPDATE_ROLLBACK_IN_PROGRESS", "The following resource(s) failed"),
            ],
            "NextToken": "page-2",
        },
        {"StackName": CENTRAL_STACK},
    )
    stub.add_response(
        "describe_stack_events",
        {
            "StackEvents": [
                stack_event("WorkerFunction", "UPDATE_FAILED", "Specified ReservedConcurrentExecutions ..."),
                stack_event(CENTRAL_STACK, "UPDATE_IN_PROGRESS", "User Initiated"),
                stack_event("SweepQueue", "UPDATE_FAILED", "an earlier update's failure"),
            ],
            "NextToken": "page-3",  # never read: the operation started on page two
        },
        {"StackName": CENTRAL_STACK, "NextToken": "page-2"},
    )
    assert failure_reasons(client, CENTRAL_STACK) == [
        "WorkerFunction: Specified ReservedConcurrentExecutions ..."
    ]


def test_failed_stack_is_deleted_then_created_again(cfn: tuple[CloudFormationClient, Stubber]) -> None:
    client, stub = cfn
    name = {"StackName": CENTRAL_STACK}
    stub.add_response("delete_stack", {}, name)
    stub.add_response("describe_stacks", stacks(CENTRAL_STACK, "DELETE_IN_PROGRESS"), name)
    stub.add_client_error(
        "describe_stacks",
        "ValidationError",
        f"Stack with id {CENTRAL_STACK} does not exist",
        expected_params=name,
    )
    stub.add_response(
        "create_stack",
        {"StackId": "id"},
        {
            "StackName": CENTRAL_STACK,
            "TemplateBody": CENTRAL_BODY,
            "Parameters": [{"ParameterKey": "Mode", "ParameterValue": "report"}],
            "Capabilities": ["CAPABILITY_NAMED_IAM"],
            "Tags": [{"Key": "akr:managed-by", "Value": "akr"}],
        },
    )
    stub.add_response(
        "describe_stacks", stacks(CENTRAL_STACK, "CREATE_COMPLETE", {"EventBusArn": BUS_ARN}), name
    )
    assert apply_stack(client, CENTRAL_STACK, **stack_kwargs(Change.RECREATE)) == {"EventBusArn": BUS_ARN}


def test_update_stack_keeps_the_parameters_akr_does_not_set(
    cfn: tuple[CloudFormationClient, Stubber],
) -> None:
    client, stub = cfn
    stub.add_response(
        "update_stack",
        {"StackId": "id"},
        {
            "StackName": CENTRAL_STACK,
            "TemplateBody": CENTRAL_BODY,
            "Parameters": [
                {"ParameterKey": "LogLevel", "UsePreviousValue": True},
                {"ParameterKey": "Mode", "ParameterValue": "report"},
                {"ParameterKey": "NotificationEmail", "UsePreviousValue": True},
            ],
            "Capabilities": ["CAPABILITY_NAMED_IAM"],
        },
    )
    stub.add_response("describe_stacks", stacks(CENTRAL_STACK, "UPDATE_COMPLETE", {"EventBusArn": BUS_ARN}))
    kept = ("LogLevel", "NotificationEmail")
    assert apply_stack(client, CENTRAL_STACK, **stack_kwargs(Change.UPDATE, kept=kept)) == {
        "EventBusArn": BUS_ARN
    }


def test_created_stack_gets_no_previous_values(cfn: tuple[CloudFormationClient, Stubber]) -> None:
    client, stub = cfn
    calls = recorded(client)
    stub.add_response("create_stack", {"StackId": "id"})
    stub.add_response("describe_stacks", stacks(CENTRAL_STACK, "CREATE_COMPLETE"))
    apply_stack(client, CENTRAL_STACK, **stack_kwargs(Change.CREATE, kept=("LogLevel",)))
    assert dict(calls)["CreateStack"]["Parameters"] == [{"ParameterKey": "Mode", "ParameterValue": "report"}]


def test_update_with_nothing_to_do_is_not_a_failure(cfn: tuple[CloudFormationClient, Stubber]) -> None:
    client, stub = cfn
    stub.add_client_error("update_stack", "ValidationError", "No updates are to be performed.")
    stub.add_response("describe_stacks", stacks(CENTRAL_STACK, "UPDATE_COMPLETE", {"EventBusArn": BUS_ARN}))
    assert apply_stack(client, CENTRAL_STACK, **stack_kwargs(Change.UPDATE)) == {"EventBusArn": BUS_ARN}


def test_unchanged_stack_whose_last_update_rolled_back_is_usable(
    cfn: tuple[CloudFormationClient, Stubber],
) -> None:
    # A stack in UPDATE_ROLLBACK_COMPLETE runs its previous template: when the plan leaves it alone (its
    # template and parameters are what is asked), deploy reads its outputs and goes on.
    client, stub = cfn
    stub.add_response(
        "describe_stacks", stacks(CENTRAL_STACK, "UPDATE_ROLLBACK_COMPLETE", {"EventBusArn": BUS_ARN})
    )
    assert apply_stack(client, CENTRAL_STACK, **stack_kwargs(Change.NONE)) == {"EventBusArn": BUS_ARN}


# -- carry_out: the whole sequence, with trusted access ----------------------------------------------


@dataclass
class Clients:
    """The management account's CloudFormation client and the security account's clients, stubbed."""

    management: CloudFormationClient = field(default_factory=cloudformation)
    security: CloudFormationClient = field(default_factory=cloudformation)
    s3: S3Client = field(default_factory=s3_client)
    functions: LambdaClient = field(default_factory=lambda_client)

    def __post_init__(self) -> None:
        names = ("management", "security", "s3", "functions")
        self.stubs = {name: Stubber(getattr(self, name)) for name in names}
        self.management_calls = recorded(self.management)
        for stub in self.stubs.values():
            stub.activate()

    def done(self) -> None:
        for stub in self.stubs.values():
            stub.assert_no_pending_responses()
            stub.deactivate()


SECURITY_SESSION = boto3.Session(region_name=REGION)


class StubbedAws(Aws):
    """Hands out the stubbed clients: the base session is the management account (or the security account
    when the command runs there); the security account is reached through its role."""

    def __init__(self, clients: Clients, caller: str = MANAGEMENT) -> None:
        super().__init__(region=REGION)
        self.clients = clients
        self.caller = caller
        self.assumed: list[tuple[str, str]] = []

    @property
    def base(self) -> boto3.Session:
        return SECURITY_SESSION if self.caller == SECURITY else boto3.Session(region_name=REGION)

    def cloudformation(
        self, session: boto3.Session | None = None, region: str | None = None
    ) -> CloudFormationClient:
        assert region == REGION
        return self.clients.security if session is SECURITY_SESSION else self.clients.management

    def s3(self, session: boto3.Session | None = None, region: str | None = None) -> S3Client:
        assert (session, region) == (SECURITY_SESSION, REGION)
        return self.clients.s3

    def lambda_(self, session: boto3.Session | None = None, region: str | None = None) -> LambdaClient:
        assert (session, region) == (SECURITY_SESSION, REGION)
        return self.clients.functions

    def assume(
        self, account_id: str, role_name: str, *, from_session: boto3.Session | None = None
    ) -> boto3.Session:
        self.assumed.append((account_id, role_name))
        return SECURITY_SESSION


@pytest.fixture
def clients() -> Iterator[Clients]:
    made = Clients()
    yield made
    made.done()


def observed(caller: str = MANAGEMENT, **changes: Any) -> Observed:
    return Observed.model_validate(
        {
            "caller_account": caller,
            "management_account": MANAGEMENT,
            "organization_id": ORGANIZATION,
            "root_id": ROOT,
            "delegated_admin": caller != MANAGEMENT,
            "trusted_access": True,
            "accounts": [Account(id=a, name=a, status="ACTIVE") for a in (MANAGEMENT, SECURITY, *MEMBERS)],
            "target_accounts": (SECURITY, *MEMBERS),
            "code_writer": f"arn:aws:iam::{SECURITY}:role/OrganizationAccountAccessRole",
            **changes,
        }
    )


def prepared(tmp_path: Path, observed: Observed) -> Prepared:
    zip_file = tmp_path / "remediator.zip"
    zip_file.write_bytes(b"PK\x05\x06" + bytes(18))  # an empty zip archive
    artifact = Artifact(path=zip_file, sha256="0" * 64)
    deployment = Deployment(security_account_id=SECURITY, home_region=REGION)
    plan: Plan = plan_deploy(
        deployment,
        observed,
        code_key=artifact.key,
        code_sha256=lambda_sha256(artifact.sha256),
        central_template=CENTRAL_BODY,
        member_template=MEMBER_BODY,
    )
    return Prepared(
        deployment=deployment, artifact=artifact, observed=observed, plan=plan, preflight=Preflight()
    )


def up_to_date(prepared_plan: Plan, **changes: Any) -> Observed:
    """What a finished deploy of `prepared_plan` leaves behind."""
    member = StackState(
        name=MANAGEMENT_STACK,
        status="CREATE_COMPLETE",
        parameters=prepared_plan.management_parameters,
        template=MEMBER_BODY,
    )
    return observed(
        **secured_bucket(SECURITY, REGION),
        code_uploaded=True,
        central_stack=StackState(
            name=CENTRAL_STACK,
            status="CREATE_COMPLETE",
            parameters=prepared_plan.central_parameters,
            template=CENTRAL_BODY,
        ),
        stackset=StackSetState(
            name=STACKSET,
            template=MEMBER_BODY,
            parameters=prepared_plan.member_parameters,
            auto_deployment=True,
            # The home region's instances, and us-east-1's with the reactivation forwarding rule.
            instances=tuple(
                InstanceState(account_id=a, region=r, status="SUCCEEDED")
                for r in (REGION, "us-east-1")
                for a in (SECURITY, *MEMBERS)
            ),
        ),
        management_stack=member,
        **changes,
    )


def expect_read_back(stub: Stubber, call_as: str = "SELF") -> None:
    stub.add_response(
        "describe_stack_set",
        {"StackSet": {"StackSetName": STACKSET, "Status": "ACTIVE", "TemplateBody": MEMBER_BODY}},
        {"StackSetName": STACKSET, "CallAs": call_as},
    )
    stub.add_response(
        "list_stack_instances",
        {
            "Summaries": [
                {
                    "StackSetId": f"{STACKSET}:1",
                    "Region": REGION,
                    "Account": account,
                    "Status": "CURRENT",
                    "StackInstanceStatus": {"DetailedStatus": "SUCCEEDED"},
                }
                for account in (SECURITY, *MEMBERS)
            ]
        },
        {"StackSetName": STACKSET, "CallAs": call_as},
    )


def test_trusted_access_is_enabled_through_cloudformation(tmp_path: Path, clients: Clients) -> None:
    # moto gap: cloudformation:ActivateOrganizationsAccess is not implemented (the moto organization
    # enables the service principal through Organizations instead). From the management account, with
    # everything else up to date, enabling trusted access is the only change.
    base = prepared(tmp_path, observed())
    ready = prepared(tmp_path, up_to_date(base.plan, trusted_access=False))
    assert ready.plan.enable_trusted_access
    management, security = clients.stubs["management"], clients.stubs["security"]
    management.add_response("activate_organizations_access", {}, {})
    security.add_response(
        "describe_stacks", stacks(CENTRAL_STACK, "CREATE_COMPLETE", {"EventBusArn": BUS_ARN})
    )
    management.add_response("describe_stacks", stacks(MANAGEMENT_STACK, "UPDATE_COMPLETE"))
    expect_read_back(management)
    outcome = carry_out(StubbedAws(clients), ready, lambda _message: None, poll_seconds=0)
    assert outcome.outputs == {"EventBusArn": BUS_ARN}
    assert clients.management_calls[0] == ("ActivateOrganizationsAccess", {})


def test_trusted_access_already_on_is_left_alone(tmp_path: Path, clients: Clients) -> None:
    base = prepared(tmp_path, observed())
    ready = prepared(tmp_path, up_to_date(base.plan))
    clients.stubs["security"].add_response("describe_stacks", stacks(CENTRAL_STACK, "CREATE_COMPLETE"))
    clients.stubs["management"].add_response("describe_stacks", stacks(MANAGEMENT_STACK, "CREATE_COMPLETE"))
    expect_read_back(clients.stubs["management"])
    carry_out(StubbedAws(clients), ready, lambda _message: None, poll_seconds=0)
    assert "ActivateOrganizationsAccess" not in {name for name, _ in clients.management_calls}


def test_trusted_access_refused_is_a_cli_error_before_any_change(tmp_path: Path, clients: Clients) -> None:
    ready = prepared(tmp_path, observed(trusted_access=False))
    clients.stubs["management"].add_client_error(
        "activate_organizations_access", "AccessDeniedException", "User is not authorized"
    )
    with pytest.raises(CliError) as raised:
        carry_out(StubbedAws(clients), ready, lambda _message: None, poll_seconds=0)
    assert str(raised.value) == "cannot enable trusted access: AccessDeniedException: User is not authorized"
    assert [name for name, _ in clients.management_calls] == ["ActivateOrganizationsAccess"]


def expect_central_checks(clients: Clients, code_sha256: str, *, seen: str | None = None) -> None:
    """After the central stack changed: its template read back, then the code of its functions (`seen`:
    what Lambda reports, when not `code_sha256`: the check stops at the first function)."""
    security, functions = clients.stubs["security"], clients.stubs["functions"]
    security.add_response(
        "get_template",
        {"TemplateBody": CENTRAL_BODY},
        {"StackName": CENTRAL_STACK, "TemplateStage": "Original"},
    )
    names = {"RemediatorFunction": "central-remediator", "WorkerFunction": "central-worker"}
    security.add_response(
        "list_stack_resources",
        {
            "StackResourceSummaries": [
                {
                    "LogicalResourceId": logical,
                    "PhysicalResourceId": name,
                    "ResourceType": "AWS::Lambda::Function",
                    "LastUpdatedTimestamp": datetime(2026, 1, 1, tzinfo=UTC),
                    "ResourceStatus": "CREATE_COMPLETE",
                }
                for logical, name in names.items()
            ]
        },
        {"StackName": CENTRAL_STACK},
    )
    for name in sorted(names.values()):
        functions.add_response(
            "get_function_configuration", {"CodeSha256": seen or code_sha256}, {"FunctionName": name}
        )
        if seen:
            return


def expect_fresh_deploy(clients: Clients, ready: Prepared, call_as: str, *, seen: str | None = None) -> None:
    plan = ready.plan
    management, security, s3 = clients.stubs["management"], clients.stubs["security"], clients.stubs["s3"]
    bucket = {"Bucket": BUCKET}
    s3.add_response(
        "create_bucket", {}, {**bucket, "CreateBucketConfiguration": {"LocationConstraint": REGION}}
    )
    # Every call after CreateBucket names the security account as the bucket's owner.
    owned = {**bucket, "ExpectedBucketOwner": SECURITY}
    s3.add_response(
        "put_public_access_block",
        {},
        {
            **owned,
            "PublicAccessBlockConfiguration": {
                "BlockPublicAcls": True,
                "IgnorePublicAcls": True,
                "BlockPublicPolicy": True,
                "RestrictPublicBuckets": True,
            },
        },
    )
    s3.add_response(
        "put_bucket_encryption",
        {},
        {
            **owned,
            "ServerSideEncryptionConfiguration": {
                "Rules": [{"ApplyServerSideEncryptionByDefault": {"SSEAlgorithm": "AES256"}}]
            },
        },
    )
    s3.add_response("put_bucket_versioning", {}, {**owned, "VersioningConfiguration": {"Status": "Enabled"}})
    # The policy before the first upload: the deploy's own writer is in it (the plan checked).
    s3.add_response("put_bucket_policy", {}, {**owned, "Policy": plan.bucket_policy})
    s3.add_response(
        "put_object",
        {"VersionId": UPLOADED_VERSION},
        {
            **owned,
            "Key": plan.code_key,
            "Body": ready.artifact.path.read_bytes(),
            "ChecksumAlgorithm": "SHA256",
        },
    )
    s3.add_response(
        "put_object",
        {},
        {
            **owned,
            "Key": template_key("central", CENTRAL_BODY),
            "Body": CENTRAL_BODY.encode(),
            "ContentType": "text/yaml",
            "ChecksumAlgorithm": "SHA256",
        },
    )
    security.add_response(
        "create_stack",
        {"StackId": "central"},
        {
            "StackName": CENTRAL_STACK,
            "TemplateURL": CENTRAL_URL,
            # The stack gets the version id of exactly the upload (in the plan before it: "").
            "Parameters": [
                {"ParameterKey": k, "ParameterValue": v}
                for k, v in sorted({**plan.central_parameters, "CodeObjectVersion": UPLOADED_VERSION}.items())
            ],
            "Capabilities": ["CAPABILITY_NAMED_IAM"],
            "Tags": [{"Key": "akr:managed-by", "Value": "akr"}],
        },
    )
    security.add_response("describe_stacks", stacks(CENTRAL_STACK, "CREATE_IN_PROGRESS"))
    security.add_response(
        "describe_stacks",
        stacks(CENTRAL_STACK, "CREATE_COMPLETE", {"EventBusArn": BUS_ARN, "AuditTableName": "audit"}),
    )
    expect_central_checks(clients, lambda_sha256(ready.artifact.sha256), seen=seen)
    if seen:
        return
    management.add_response("create_stack_set", {"StackSetId": f"{STACKSET}:1"})
    management.add_response("create_stack_instances", {"OperationId": "op-1"})
    management.add_response("describe_stack_set_operation", operation("RUNNING"), polled(call_as))
    management.add_response("describe_stack_set_operation", operation("SUCCEEDED"), polled(call_as))


def test_fresh_deploy_from_the_management_account(tmp_path: Path, clients: Clients) -> None:
    # moto gap: targeting the root also deploys the StackSet to the management account. In AWS it never
    # does, so the management account gets member.yaml as a plain stack of its own, and no StackSet call
    # ever names it.
    ready = prepared(tmp_path, observed())
    expect_fresh_deploy(clients, ready, "SELF")
    management = clients.stubs["management"]
    management.add_response(
        "create_stack",
        {"StackId": "management"},
        {
            "StackName": MANAGEMENT_STACK,
            "TemplateBody": MEMBER_BODY,
            "Parameters": [
                {"ParameterKey": k, "ParameterValue": v}
                for k, v in sorted(ready.plan.management_parameters.items())
            ],
            "Capabilities": ["CAPABILITY_NAMED_IAM"],
            "Tags": [{"Key": "akr:managed-by", "Value": "akr"}],
        },
    )
    management.add_response("describe_stacks", stacks(MANAGEMENT_STACK, "CREATE_COMPLETE"))
    expect_read_back(management)
    aws = StubbedAws(clients)
    outcome = carry_out(aws, ready, lambda _message: None, poll_seconds=0)
    assert aws.assumed == [(SECURITY, "OrganizationAccountAccessRole")]
    assert outcome == Outcome(
        outputs={"EventBusArn": BUS_ARN, "AuditTableName": "audit"},
        instances=tuple(
            InstanceState(account_id=a, region=REGION, status="SUCCEEDED", sync="CURRENT")
            for a in (SECURITY, *MEMBERS)
        ),
        management_covered=True,
    )
    names = [name for name, _ in clients.management_calls]
    assert names == [
        "CreateStackSet",
        "CreateStackInstances",
        "DescribeStackSetOperation",
        "DescribeStackSetOperation",
        "CreateStack",
        "DescribeStacks",
        "DescribeStackSet",
        "ListStackInstances",
    ]
    instances = dict(clients.management_calls)["CreateStackInstances"]
    assert instances["DeploymentTargets"] == {"OrganizationalUnitIds": [ROOT]}
    stackset_calls = [
        params for name, params in clients.management_calls if "StackSet" in name or "Instances" in name
    ]
    assert all(MANAGEMENT not in repr(params) for params in stackset_calls)
    assert all(params["CallAs"] == "SELF" for params in stackset_calls)


def test_a_code_sha256_mismatch_stops_the_deploy_before_the_member_stacks(
    tmp_path: Path, clients: Clients
) -> None:
    # The central stack comes first on a fresh deploy; its functions run other code than the package
    # built (swapped in the bucket before Lambda read it): the StackSet is never created.
    ready = prepared(tmp_path, observed())
    swapped = lambda_sha256("ab" * 32)
    expect_fresh_deploy(clients, ready, "SELF", seen=swapped)
    with pytest.raises(CliError) as raised:
        carry_out(StubbedAws(clients), ready, lambda _message: None, poll_seconds=0)
    built = lambda_sha256(ready.artifact.sha256)
    assert str(raised.value) == (
        f"stack {CENTRAL_STACK}: RemediatorFunction runs code with CodeSha256 {swapped}, not the package akr "
        f"built ({built}); akr deploy stopped here and changes nothing more: check who can write the code "
        "bucket, then run akr deploy again"
    )
    assert clients.management_calls == []


@pytest.mark.parametrize(
    "caller", [MEMBERS[0], SECURITY], ids=["delegated admin", "security account as admin"]
)
def test_fresh_deploy_from_a_delegated_admin_calls_as_delegated_admin_and_skips_management(
    tmp_path: Path, clients: Clients, caller: str
) -> None:
    ready = prepared(tmp_path, observed(caller))
    assert ready.plan.management is None
    expect_fresh_deploy(clients, ready, "DELEGATED_ADMIN")
    expect_read_back(clients.stubs["management"], "DELEGATED_ADMIN")
    aws = StubbedAws(clients, caller)
    outcome = carry_out(aws, ready, lambda _message: None, poll_seconds=0)
    assert not outcome.management_covered
    assert aws.assumed == ([] if caller == SECURITY else [(SECURITY, "OrganizationAccountAccessRole")])
    assert "CreateStack" not in {name for name, _ in clients.management_calls}
    assert all(params["CallAs"] == "DELEGATED_ADMIN" for _, params in clients.management_calls)


def test_new_code_updates_keep_the_deployed_policy_and_every_parameter_akr_does_not_set(
    tmp_path: Path, clients: Clients
) -> None:
    # Shipping new code to a report-mode rollout whose operator set a notification address and a log level
    # on the central stack, and an hourly rule frequency on the StackSet: the UpdateStack and
    # UpdateStackSet calls name every parameter, akr's with the deployed policy's values, the others with
    # UsePreviousValue (CloudFormation would reset them to the template's defaults otherwise). A parameter
    # the new template no longer declares is not sent (CloudFormation refuses unknown parameters).
    report = Deployment(security_account_id=SECURITY, home_region=REGION, mode=Mode.REPORT, grace_days=7)
    first = plan_deploy(
        report,
        observed(),
        code_key="remediator/old.zip",
        code_sha256=lambda_sha256("0" * 64),
        central_template="",
        member_template="",
    )
    deployed = up_to_date(first)
    assert deployed.central_stack is not None and deployed.stackset is not None
    central = deployed.central_stack.parameters | {
        "NotificationEmail": "secops@example.com",
        "LogLevel": "DEBUG",
        "Retired": "x",
    }
    member = deployed.stackset.parameters | {"ConfigRuleFrequency": "One_Hour", "MaxAccessKeyAge": "30"}
    deployed = deployed.model_copy(
        update={
            "central_stack": deployed.central_stack.model_copy(update={"parameters": central}),
            "stackset": deployed.stackset.model_copy(update={"parameters": member}),
        }
    )
    ready = prepared(tmp_path, deployed)  # a plain deploy: no policy option given
    plan = ready.plan
    assert (plan.central, plan.stackset, plan.management) == (Change.UPDATE, Change.UPDATE, Change.NONE)
    assert plan.central_parameters["Mode"] == "report"
    assert plan.central_parameters["GraceDays"] == "7"
    security, management = clients.stubs["security"], clients.stubs["management"]
    expected_central = {
        **{k: {"ParameterKey": k, "ParameterValue": v} for k, v in plan.central_parameters.items()},
        "LogLevel": {"ParameterKey": "LogLevel", "UsePreviousValue": True},
        "NotificationEmail": {"ParameterKey": "NotificationEmail", "UsePreviousValue": True},
    }
    clients.stubs["s3"].add_response(
        "put_object",
        {},
        {
            "Bucket": BUCKET,
            "ExpectedBucketOwner": SECURITY,
            "Key": template_key("central", CENTRAL_BODY),
            "Body": CENTRAL_BODY.encode(),
            "ContentType": "text/yaml",
            "ChecksumAlgorithm": "SHA256",
        },
    )
    security.add_response(
        "update_stack",
        {"StackId": "central"},
        {
            "StackName": CENTRAL_STACK,
            "TemplateURL": CENTRAL_URL,
            "Parameters": [expected_central[k] for k in sorted(expected_central)],
            "Capabilities": ["CAPABILITY_NAMED_IAM"],
        },
    )
    security.add_response(
        "describe_stacks", stacks(CENTRAL_STACK, "UPDATE_COMPLETE", {"EventBusArn": BUS_ARN})
    )
    expect_central_checks(clients, lambda_sha256(ready.artifact.sha256))
    expected_member = {
        **{k: {"ParameterKey": k, "ParameterValue": v} for k, v in plan.member_parameters.items()},
        "ConfigRuleFrequency": {"ParameterKey": "ConfigRuleFrequency", "UsePreviousValue": True},
    }
    management.add_response(
        "update_stack_set",
        {"OperationId": "op-1"},
        {
            "StackSetName": STACKSET,
            "TemplateBody": MEMBER_BODY,
            "Parameters": [expected_member[k] for k in sorted(expected_member)],
            "Capabilities": ["CAPABILITY_NAMED_IAM"],
            "PermissionModel": "SERVICE_MANAGED",
            "AutoDeployment": AUTO_DEPLOYMENT,
            "DeploymentTargets": {"OrganizationalUnitIds": [ROOT]},
            # Every region that holds instances: the home region, and us-east-1's reactivation rule.
            "Regions": [REGION, "us-east-1"],
            "OperationPreferences": PREFERENCES,
            "CallAs": "SELF",
        },
    )
    management.add_response("describe_stack_set_operation", operation("SUCCEEDED"), polled("SELF"))
    management.add_response("describe_stacks", stacks(MANAGEMENT_STACK, "UPDATE_COMPLETE"))
    expect_read_back(management)
    carry_out(StubbedAws(clients), ready, lambda _message: None, poll_seconds=0)
    sent = dict(clients.management_calls)["UpdateStackSet"]["Parameters"]
    assert {"ParameterKey": "MaxAccessKeyAge", "ParameterValue": "90"} in sent


# -- the summary: a suspended account is skipped, not failed ------------------------------------------


def test_a_suspended_account_is_shown_as_skipped_and_the_deploy_succeeds(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    done = prepared(tmp_path, observed())
    outcome = Outcome(
        outputs={"EventBusArn": BUS_ARN, "AuditTableName": "audit"},
        instances=(
            InstanceState(account_id=SECURITY, region=REGION, status="SUCCEEDED"),
            InstanceState(account_id=MEMBERS[0], region=REGION, status="SKIPPED_SUSPENDED_ACCOUNT"),
            InstanceState(account_id=MEMBERS[1], region=REGION, status="SUCCEEDED"),
        ),
        management_covered=True,
    )
    show_deployed(done, outcome, ["Would ..."], Output.JSON)  # no typer.Exit: nothing failed
    result = json.loads(capsys.readouterr().out)["result"]
    assert result["accounts_covered"] == [SECURITY, MEMBERS[1], MANAGEMENT]
    assert result["accounts_failed"] == []
    assert result["accounts_skipped"] == [
        {"account_id": MEMBERS[0], "status": "SKIPPED_SUSPENDED_ACCOUNT", "reason": ""}
    ]
