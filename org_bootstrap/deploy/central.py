"""The central stack as `akr sweep` and `akr undo` use it: read through the security account, its
outputs name the tables, its parameters are the policy. From them, the remediator's Settings, so that the
operator's machine runs what the deployed functions run."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import boto3
from pydantic import ValidationError

from org_bootstrap.aws import RETRIES, Aws, CliError
from org_bootstrap.deploy.deployment import Deployment
from org_bootstrap.deploy.observed import StackState
from org_bootstrap.deploy.organization import read_stack, security_session
from remediator.policy import Mode
from remediator.settings import Settings

if TYPE_CHECKING:
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
    """The deployed central stack, or a CliError that says to deploy first."""
    central = find_central(aws, deployment, caller)
    if central is None:
        name, where = deployment.central_stack_name, central_location(deployment)
        raise CliError(f"no stack {name} in {where}: run akr deploy first")
    return central


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
