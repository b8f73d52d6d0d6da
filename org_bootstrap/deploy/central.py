"""The central stack as `akr sweep` and `akr undo` use it: read through the security account, its
outputs name the tables, its parameters are the policy. From them, the remediator's Settings, so that the
operator's machine runs what the deployed functions run."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import boto3
from botocore.exceptions import BotoCoreError, ClientError
from pydantic import ValidationError

from org_bootstrap.aws import PROBE, RETRIES, Aws, CliError
from org_bootstrap.deploy.deployment import Deployment
from org_bootstrap.deploy.observed import StackState
from org_bootstrap.deploy.organization import read_stack, security_session
from remediator.policy import Mode
from remediator.settings import Settings

if TYPE_CHECKING:
    from mypy_boto3_cloudformation import CloudFormationClient
    from mypy_boto3_dynamodb import DynamoDBClient
    from mypy_boto3_sns import SNSClient
    from mypy_boto3_sts import STSClient

REQUIRED_OUTPUTS = ("AuditTableName", "StateTableName")
# Central stack parameter -> Settings field: the same AKR_* values the deployed functions get. An empty
# value means the template's "off" or "the preset's", which is the Settings default as well.
POLICY_PARAMETERS = {
    "Mode": "mode",
    "CisPreset": "cis_preset",
    "MaxKeyAgeDays": "max_key_age_days",
    "MaxUnusedDays": "max_unused_days",
    "GraceDays": "grace_days",
    "ProtectedUserPath": "protected_user_path",
    "WarnDaysBefore": "warn_days_before",
    "OwnerTagKey": "owner_tag_key",
    "OptOutTagKey": "opt_out_tag_key",
    "HomeRegion": "home_region",
    "MaxExemptionDays": "max_exemption_days",
    "ManagementAccountId": "management_account_id",
    "ManagementAccountMode": "management_account_mode",
    "MaxActionsPerAccount": "max_actions_per_account",
    "MaxActionsPerDay": "max_actions_per_day",
}


@dataclass(frozen=True)
class Central:
    stack: StackState
    security: boto3.Session
    """The security account: the central tables and topic are reached through it."""
    region: str

    @property
    def mode(self) -> str:
        return self.stack.parameters.get("Mode", Mode.DELETE.value)


def read_central(aws: Aws, deployment: Deployment, caller: str) -> Central:
    """The deployed central stack, or a CliError that names the region where it is (another home
    region), or says to deploy first."""
    central = find_central(aws, deployment, caller)
    if central is None:
        raise CliError(no_central(deployment, regions_with_central(aws, deployment, caller)))
    return central


def no_central(deployment: Deployment, elsewhere: tuple[str, ...]) -> str:
    name, where = deployment.central_stack_name, central_location(deployment)
    if elsewhere:
        regions = " and ".join(elsewhere)
        return (
            f"no stack {name} in {where}, but there is one in {regions}: the deployment's home region; "
            f"pass --home-region {elsewhere[0]}"
        )
    return f"no stack {name} in {where}: run akr deploy first"


def _has_stack(cloudformation: CloudFormationClient, name: str) -> bool:
    """Whether the stack exists (and is not deleted) there. A region that cannot say (not enabled for
    the account, unreachable) counts as no."""
    try:
        stacks = cloudformation.describe_stacks(StackName=name)["Stacks"]
    except (ClientError, BotoCoreError):
        return False
    return any(stack["StackStatus"] != "DELETE_COMPLETE" for stack in stacks)


def regions_with_central(aws: Aws, deployment: Deployment, caller: str) -> tuple[str, ...]:
    """The other regions of the partition where the security account has the central stack: a
    deployment in another home region. One DescribeStacks per region, 8 at a time, with the probe's
    few retries; asked only when the home region has none. The clients are made here, in the calling
    thread: a session is not thread-safe, its clients are."""
    security = security_session(aws, deployment, caller)
    partition = security.get_partition_for_region(deployment.home_region)
    regions = [
        region
        for region in security.get_available_regions("cloudformation", partition_name=partition)
        if region != deployment.home_region
    ]
    clients = [
        security.client("cloudformation", region_name=region, endpoint_url=aws.endpoint_url, config=PROBE)
        for region in regions
    ]
    name = deployment.central_stack_name
    with ThreadPoolExecutor(max_workers=8, thread_name_prefix="akr-regions") as pool:
        found = list(pool.map(lambda client: _has_stack(client, name), clients))
    return tuple(region for region, there in zip(regions, found, strict=True) if there)


def central_location(deployment: Deployment) -> str:
    return f"the security account {deployment.security_account_id} ({deployment.home_region})"


def find_central(aws: Aws, deployment: Deployment, caller: str) -> Central | None:
    """The deployed central stack; None when there is none; a CliError when it cannot be used."""
    security = security_session(aws, deployment, caller)
    region = deployment.home_region
    name = deployment.central_stack_name
    stack = read_stack(aws.cloudformation(security, region), name)
    where = central_location(deployment)
    if stack is None:
        return None
    missing = [output for output in REQUIRED_OUTPUTS if not stack.outputs.get(output)]
    if missing:
        raise CliError(
            f"stack {name} in {where} is {stack.status} and has no output {', '.join(missing)}: "
            "run akr deploy"
        )
    return Central(stack=stack, security=security, region=region)


def settings_from(
    stack: StackState, *, account_role: str, mode: Mode | None = None, quiet: bool = False
) -> Settings:
    """The deployed remediator's settings, with two differences: member accounts are entered through
    `account_role` (the member role trusts only the deployed remediator's role), and `mode` overrides the
    deployed mode. `quiet` (a dry run) turns warnings and notifications off, so that nobody is told."""
    values: dict[str, Any] = {
        field: stack.parameters[parameter]
        for parameter, field in POLICY_PARAMETERS.items()
        if stack.parameters.get(parameter, "") != ""
    }
    values.update(
        member_role_name=account_role,
        audit_table=stack.outputs["AuditTableName"],
        state_table=stack.outputs["StateTableName"],
        notification_topic_arn=None if quiet else stack.outputs.get("NotificationTopicArn"),
    )
    if mode is not None:
        values["mode"] = mode
    if quiet:
        values["warn_days_before"] = 0
    try:
        return Settings.model_validate(values)
    except ValidationError as exc:
        problems = "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors())
        raise CliError(f"the parameters of stack {stack.name} make no valid settings: {problems}") from exc


@dataclass(frozen=True)
class CentralClients:
    """Clients of the security account's services, made once in the main thread and shared: clients are
    thread-safe, the session that makes them is not."""

    dynamodb: DynamoDBClient
    sns: SNSClient | None
    sts: STSClient
    """The operator's own STS: it assumes --account-role in the member accounts."""


def central_clients(aws: Aws, central: Central) -> CentralClients:
    sns = None
    if central.stack.outputs.get("NotificationTopicArn"):
        sns = central.security.client(
            "sns", region_name=central.region, endpoint_url=aws.endpoint_url, config=RETRIES
        )
    return CentralClients(dynamodb=aws.dynamodb(central.security, central.region), sns=sns, sts=aws.sts())
