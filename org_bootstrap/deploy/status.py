"""`akr status`: look into every ACTIVE account of the organization and say whether it is covered.
Read-only. The verdicts are pure (org_bootstrap.deploy.coverage); this module only reads.

The member role cannot be tried: its trust pins aws:PrincipalArn to the central remediator's role, so no
other principal (the operator included) may assume it. Status checks it statically instead: the role
exists in the account, its trust policy allows the remediator role of the security account within this
organization (aws:PrincipalOrgID), and that remediator role exists in the security account.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import boto3
from botocore.exceptions import BotoCoreError, ClientError

from org_bootstrap.aws import Aws, CliError, describe
from org_bootstrap.deploy.coverage import (
    FORWARDING_RULE,
    REACTIVATION_RULE,
    ROTATION_RULE,
    UNUSED_RULE,
    AccountFacts,
    AccountReport,
    Counts,
    Expected,
    Finding,
    ForwardingRule,
    Recorder,
    assess,
    central_finding,
    count,
    trust_document,
)
from org_bootstrap.deploy.deployment import FORWARDER_ROLE_NAME, Deployment
from org_bootstrap.deploy.footprint import Footprint, require_administrator
from org_bootstrap.deploy.guardrails import GuardrailsError, read_guardrails
from org_bootstrap.deploy.guardrails_plan import describe_guardrails
from org_bootstrap.deploy.observed import Account
from org_bootstrap.deploy.organization import security_session
from org_bootstrap.deploy.plan import bus_arn_of
from org_bootstrap.deploy.regions import global_events_region
from org_bootstrap.deploy.survey import survey
from remediator.adapters.breaker_table import DynamoDBControl
from remediator.errors import RemediatorError

if TYPE_CHECKING:
    from mypy_boto3_config import ConfigServiceClient
    from mypy_boto3_iam import IAMClient

Tick = Callable[[str], None]


@dataclass(frozen=True)
class Status:
    footprint: Footprint
    security_account: str
    expected: Expected
    central: Finding
    accounts: tuple[AccountReport, ...]
    paused: str | None = None
    """What akr pause says (operator, since, reason) while every key action is held back; or why that
    could not be read. None when not paused."""
    guardrails: str | None = None
    """Where the guardrail SCP is attached, in words (or why that could not be read); None outside the
    management account, which alone sees SCPs."""

    @property
    def counts(self) -> Counts:
        return count(self.accounts)

    @property
    def healthy(self) -> bool:
        return bool(self.central.ok) and all(r.covered for r in self.accounts)


def expected_for(deployment: Deployment, organization_id: str, partition: str = "aws") -> Expected:
    security, prefix = deployment.security_account_id, deployment.rule_name_prefix
    return Expected(
        organization_id=organization_id,
        home_region=deployment.home_region,
        rule_names=(f"{prefix}{ROTATION_RULE}", f"{prefix}{UNUSED_RULE}"),
        forwarding_rule=f"{prefix}{FORWARDING_RULE}",
        bus_arn=bus_arn_of(deployment, partition),
        remediator_role_arn=f"arn:{partition}:iam::{security}:role/{deployment.remediator_role_name}",
        reactivation_rule=f"{prefix}{REACTIVATION_RULE}",
        events_region=global_events_region(deployment.home_region),
        forwarder_role_name=FORWARDER_ROLE_NAME,
    )


def prepare(aws: Aws, deployment: Deployment) -> Footprint:
    footprint = survey(aws, deployment)
    require_administrator(footprint, "status", deployment.security_account_id)
    return footprint


def check(aws: Aws, deployment: Deployment, footprint: Footprint, *, account_role: str, tick: Tick) -> Status:
    """Every ACTIVE account, one after the other; `tick` is called once per account, after it."""
    expected = expected_for(deployment, footprint.organization_id, footprint.partition)
    security = security_session(aws, deployment, footprint.caller_account)
    remediator = _trust(aws.iam(security), deployment.remediator_role_name, "the security account")
    central_status = footprint.central_stack.status if footprint.central_stack else None
    reports = []
    for account in footprint.active_accounts:
        facts = read_account(aws, deployment, footprint, account, account_role=account_role)
        reports.append(
            assess(
                facts,
                expected,
                member_role=deployment.member_role_name,
                remediator_role_exists=remediator is not None,
            )
        )
        tick(account.id)
    return Status(
        footprint=footprint,
        security_account=deployment.security_account_id,
        expected=expected,
        central=central_finding(deployment.central_stack_name, central_status, remediator is not None),
        accounts=tuple(reports),
        paused=_paused(aws, security, footprint, deployment.home_region),
        guardrails=_guardrails(aws, footprint),
    )


def _guardrails(aws: Aws, footprint: Footprint) -> str | None:
    if not footprint.is_management:
        return None
    try:
        state = read_guardrails(aws.organizations(), footprint.root_id)
    except GuardrailsError as exc:
        return str(exc)
    return describe_guardrails(state)


def _paused(aws: Aws, security: boto3.Session, footprint: Footprint, region: str) -> str | None:
    """The pause in the central state table (remediator.adapters.breaker_table), in words."""
    table = footprint.central_stack.outputs.get("StateTableName") if footprint.central_stack else None
    if not table:
        return None
    try:
        pause = DynamoDBControl(client=aws.dynamodb(security, region), table_name=table).pause()
    except RemediatorError as exc:
        return f"unknown: the pause could not be read ({exc})"
    if pause is None:
        return None
    return (
        f"PAUSED by {pause.operator} since {pause.since:%Y-%m-%d %H:%M} UTC ({pause.reason}): every key "
        "action is recorded as report until akr resume"
    )


def read_account(
    aws: Aws, deployment: Deployment, footprint: Footprint, account: Account, *, account_role: str
) -> AccountFacts:
    status, reason, sync = _stack_status(footprint, account.id, deployment.home_region)
    events_region = global_events_region(deployment.home_region)
    events_status, events_reason, events_sync = _instance(footprint, account.id, events_region)
    known: dict[str, Any] = {
        "account_id": account.id,
        "name": account.name,
        "stack_status": status,
        "stack_reason": reason,
        "stack_sync": sync,
        "management": account.id == footprint.management_account,
        "events_stack_status": events_status,
        "events_stack_reason": events_reason,
        "events_stack_sync": events_sync,
    }
    try:
        session = aws.base if account.id == footprint.caller_account else aws.assume(account.id, account_role)
        looked = _look_into(aws, session, deployment, account.id, management=known["management"])
        return AccountFacts(**known, **looked)
    except CliError as exc:
        return AccountFacts(**known, unreachable=str(exc))


def _stack_status(footprint: Footprint, account_id: str, region: str) -> tuple[str | None, str, str]:
    """(status, reason, instance Status). StackSets skip the management account: there the plain stack
    stands in for the instance."""
    if account_id == footprint.management_account:
        if not footprint.is_management:
            return None, "the management account's stack is readable only from that account", ""
        stack = footprint.management_stack
        return (stack.status, "", "") if stack else (None, "", "")
    return _instance(footprint, account_id, region)


def _instance(footprint: Footprint, account_id: str, region: str) -> tuple[str | None, str, str]:
    """(status, reason, instance Status) of the StackSet's instance in `region`; None when it has none."""
    instances = footprint.stackset.instances if footprint.stackset else ()
    for instance in instances:
        if instance.account_id == account_id and instance.region == region:
            return instance.status, instance.reason, instance.sync
    return None, "", ""


def _look_into(
    aws: Aws, session: boto3.Session, deployment: Deployment, account_id: str, *, management: bool
) -> dict[str, Any]:
    """Home region: recorders, Config rules, forwarding rule; the member role; and the reactivation
    forwarding rule, one DescribeRule and ListTargetsByRule in its region (none in the management account
    when that region is not the home region: its stack is in the home region only)."""
    region = deployment.home_region
    expected = expected_for(deployment, "")
    events_region = expected.events_region
    try:
        config = aws.config(session, region)
        recorders = read_recorders(config)
        rules = {
            rule["ConfigRuleName"]: str(rule.get("ConfigRuleState", "ACTIVE"))
            for page in config.get_paginator("describe_config_rules").paginate()
            for rule in page["ConfigRules"]
            if rule.get("ConfigRuleName") in expected.rule_names
        }
        forwarding = _forwarding_rule(aws, session, region, expected.forwarding_rule)
        reactivation = (
            None
            if management and events_region != region
            else _forwarding_rule(aws, session, events_region, expected.reactivation_rule)
        )
    except (ClientError, BotoCoreError) as exc:
        raise CliError(f"cannot read account {account_id}: {describe(exc)}") from exc
    return {
        "recorders": recorders,
        "config_rules": rules,
        "forwarding_rule": forwarding,
        "reactivation_rule": reactivation,
        "member_role_trust": _trust(aws.iam(session), deployment.member_role_name, f"account {account_id}"),
    }


def read_recorders(config: ConfigServiceClient) -> tuple[Recorder, ...]:
    """The configuration recorders of the client's region, with whether each is recording."""
    statuses = {
        s["name"]: s.get("recording")
        for s in config.describe_configuration_recorder_status()["ConfigurationRecordersStatus"]
    }
    return tuple(
        Recorder(
            name=r.get("name", ""),
            recording_group=dict(r.get("recordingGroup", {})),
            recording=statuses.get(r.get("name", "")),
            service_linked=bool(r.get("servicePrincipal")) or r.get("recordingScope") == "INTERNAL",
        )
        for r in config.describe_configuration_recorders()["ConfigurationRecorders"]
    )


def _forwarding_rule(aws: Aws, session: boto3.Session, region: str, name: str) -> ForwardingRule | None:
    events = aws.events(session, region)
    try:
        rule = events.describe_rule(Name=name)  # the default bus
    except events.exceptions.ResourceNotFoundException:
        return None
    pages = events.get_paginator("list_targets_by_rule").paginate(Rule=name)
    targets = [t for page in pages for t in page["Targets"]]
    return ForwardingRule(
        state=str(rule.get("State", "")),
        target_arns=tuple(t["Arn"] for t in targets),
        role_arns=tuple(t.get("RoleArn", "") for t in targets),
    )


def _trust(iam: IAMClient, role_name: str, where: str) -> dict[str, Any] | None:
    """The role's trust policy, or None when the role does not exist."""
    try:
        role = iam.get_role(RoleName=role_name)["Role"]
    except iam.exceptions.NoSuchEntityException:
        return None
    except (ClientError, BotoCoreError) as exc:
        raise CliError(f"cannot read role {role_name} in {where}: {describe(exc)}") from exc
    return trust_document(role.get("AssumeRolePolicyDocument", {}))
