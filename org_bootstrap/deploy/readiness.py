"""The pre-flight's reads: what the plan needs from the security account and from the accounts about to get
the member stack, turned into org_bootstrap.deploy.preflight's verdicts. Read-only: the member accounts are
entered with a session policy that allows the reads below and nothing else (AWS grants a session what both
the role and that policy allow).
https://docs.aws.amazon.com/IAM/latest/UserGuide/id_credentials_temp_control-access_assumerole.html
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import TYPE_CHECKING

import boto3
from botocore.exceptions import BotoCoreError, ClientError

from org_bootstrap.aws import RETRIES, Aws, CliError, describe
from org_bootstrap.deploy.concurrency import LambdaQuota, quota_problem
from org_bootstrap.deploy.coverage import FORWARDING_RULE, ROTATION_RULE, UNUSED_RULE, records_iam_users
from org_bootstrap.deploy.deployment import FORWARDER_ROLE_NAME, Deployment
from org_bootstrap.deploy.observed import Observed
from org_bootstrap.deploy.organization import security_session
from org_bootstrap.deploy.plan import EVENT_BUS_NAME, Change, Plan
from org_bootstrap.deploy.preflight import (
    CentralFacts,
    MemberFacts,
    Preflight,
    central_problems,
    grants_list_accounts,
    member_problems,
)
from org_bootstrap.deploy.regions import HOME_REGIONS, partition_of
from org_bootstrap.deploy.status import read_recorders

if TYPE_CHECKING:
    from mypy_boto3_lambda import LambdaClient
    from mypy_boto3_organizations import OrganizationsClient

MEMBER_READS = (
    "config:DescribeConfigRules",
    "config:DescribeConfigurationRecorderStatus",
    "config:DescribeConfigurationRecorders",
    "events:DescribeRule",
    "iam:GetRole",
)
"""What the pre-flight reads in a member account."""
MEMBER_SESSION_POLICY = json.dumps(
    {
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Action": list(MEMBER_READS), "Resource": "*"}],
    },
    separators=(",", ":"),
)
"""The session policy --account-role is assumed with: those reads, nothing else."""
WORKERS = 8
"""Accounts looked into at once: each costs an AssumeRole and about five reads."""
NEW = (Change.CREATE, Change.RECREATE)
Progress = Callable[[str], None]


def check_readiness(
    aws: Aws, deployment: Deployment, observed: Observed, plan: Plan, progress: Progress = lambda _m: None
) -> Preflight:
    problems: list[str] = []
    security = security_session(aws, deployment, observed.caller_account)
    if plan.reserving > 0:
        quota = read_lambda_quota(aws.lambda_(security, deployment.home_region))
        problem = quota_problem(quota, adding=plan.reserving, security_account=deployment.security_account_id)
        problems += [problem] if problem else []
    unchecked: list[str] = []
    if plan.central in NEW:
        central = read_central_facts(aws, deployment, observed, security)
        problems += central_problems(central, security_account=deployment.security_account_id)
        unchecked += central.unchecked
    accounts = list(plan.missing_instances)
    if plan.management in NEW:
        accounts.append(observed.management_account)
    for facts in read_members(aws, deployment, observed, accounts, progress):
        if facts.unreachable:
            unchecked.append(f"account {facts.account_id}: {facts.unreachable}")
            continue
        problems += member_problems(
            facts,
            home_region=deployment.home_region,
            create_recorder=plan.policy.create_config_recorder,
        )
    return Preflight(problems=tuple(problems), unchecked=tuple(unchecked))


def read_lambda_quota(client: LambdaClient) -> LambdaQuota:
    try:
        limit = client.get_account_settings()["AccountLimit"]
    except (ClientError, BotoCoreError) as exc:
        raise CliError(f"cannot read the security account's Lambda quota: {describe(exc)}") from exc
    return LambdaQuota(
        concurrent_executions=limit.get("ConcurrentExecutions", 0),
        unreserved_concurrent_executions=limit.get("UnreservedConcurrentExecutions", 0),
    )


# -- the security account -----------------------------------------------------------------------------


def read_central_facts(
    aws: Aws, deployment: Deployment, observed: Observed, security: boto3.Session
) -> CentralFacts:
    region, stack = deployment.home_region, deployment.central_stack_name
    iam, events = aws.iam(security), aws.events(security, region)
    kms = security.client("kms", region_name=region, endpoint_url=aws.endpoint_url, config=RETRIES)
    logs = security.client("logs", region_name=region, endpoint_url=aws.endpoint_url, config=RETRIES)
    sweep_group = f"/aws/lambda/{stack}-sweep"

    def log_group() -> object:
        pages = logs.get_paginator("describe_log_groups").paginate(logGroupNamePrefix=sweep_group)
        if not any(g["logGroupName"] == sweep_group for page in pages for g in page["logGroups"]):
            raise ClientError({"Error": {"Code": "ResourceNotFoundException"}}, "DescribeLogGroups")
        return sweep_group

    role = deployment.remediator_role_name
    try:
        existing = _existing(
            (f"IAM role {role}", lambda: iam.get_role(RoleName=role)),
            (f"event bus {EVENT_BUS_NAME}", lambda: events.describe_event_bus(Name=EVENT_BUS_NAME)),
            (f"KMS alias alias/{stack}", lambda: kms.describe_key(KeyId=f"alias/{stack}")),
            (f"log group {sweep_group}", log_group),
        )
    except (ClientError, BotoCoreError) as exc:
        raise CliError(
            f"cannot read the security account {deployment.security_account_id}: {describe(exc)}"
        ) from exc
    if deployment.security_account_id == observed.management_account:
        return CentralFacts(existing=existing)
    try:
        can_list = sweep_can_list(aws.organizations(), deployment.security_account_id)
    except CliError as exc:
        unchecked = (f"whether the security account may list the accounts for the sweep: {exc}",)
        return CentralFacts(existing=existing, sweep_can_list=None, unchecked=unchecked)
    return CentralFacts(existing=existing, sweep_can_list=can_list)


def sweep_can_list(organizations: OrganizationsClient, account_id: str) -> bool:
    """Whether Organizations answers ListAccounts to `account_id`: it is a delegated administrator (for any
    service), or the organization's resource-based delegation policy grants it."""
    try:
        pages = organizations.get_paginator("list_delegated_services_for_account").paginate(
            AccountId=account_id
        )
        if any(page["DelegatedServices"] for page in pages):
            return True
    except ClientError as exc:
        if exc.response.get("Error", {}).get("Code") != "AccountNotRegisteredException":
            raise CliError(
                f"cannot read the delegated services of account {account_id}: {describe(exc)}"
            ) from exc
    try:
        policy = organizations.describe_resource_policy()["ResourcePolicy"].get("Content")
    except ClientError as exc:
        if exc.response.get("Error", {}).get("Code") == "ResourcePolicyNotFoundException":
            return False
        raise CliError(f"cannot read the organization's resource policy: {describe(exc)}") from exc
    return grants_list_accounts(policy, account_id)


# -- the member accounts ------------------------------------------------------------------------------


def read_members(
    aws: Aws, deployment: Deployment, observed: Observed, accounts: Sequence[str], progress: Progress
) -> list[MemberFacts]:
    """The accounts WORKERS at a time, each worker thread with its own sessions (boto3 sessions are not
    thread-safe), in the order given."""
    if not accounts:
        return []
    local = threading.local()

    def read(account_id: str) -> MemberFacts:
        if not hasattr(local, "aws"):
            local.aws = aws.reader(MEMBER_SESSION_POLICY)
        facts = read_member(local.aws, deployment, observed, account_id)
        progress(f"checked account {account_id}")
        return facts

    with ThreadPoolExecutor(max_workers=WORKERS) as pool:
        return list(pool.map(read, accounts))


def read_member(aws: Aws, deployment: Deployment, observed: Observed, account_id: str) -> MemberFacts:
    try:
        session = (
            aws.base
            if account_id == observed.caller_account
            else aws.assume(account_id, deployment.account_role)
        )
    except CliError as exc:
        return MemberFacts(account_id=account_id, unreachable=str(exc))
    region, prefix = deployment.home_region, deployment.rule_name_prefix
    try:
        recorders = read_recorders(aws.config(session, region))
        elsewhere: tuple[str, ...] = ()
        if not any(records_iam_users(r.recording_group) for r in recorders):
            elsewhere = tuple(
                other
                for other in sorted(HOME_REGIONS)
                if other != region
                and partition_of(other) == observed.partition
                and any(
                    records_iam_users(r.recording_group) for r in read_recorders(aws.config(session, other))
                )
            )
        iam, events, config = aws.iam(session), aws.events(session, region), aws.config(session, region)
        rules = {f"{prefix}{ROTATION_RULE}", f"{prefix}{UNUSED_RULE}"}
        existing_rules = sorted(
            rule["ConfigRuleName"]
            for page in config.get_paginator("describe_config_rules").paginate()
            for rule in page["ConfigRules"]
            if rule["ConfigRuleName"] in rules
        )
        forwarding, role = f"{prefix}{FORWARDING_RULE}", deployment.member_role_name
        existing = _existing(
            (f"IAM role {role}", lambda: iam.get_role(RoleName=role)),
            (f"IAM role {FORWARDER_ROLE_NAME}", lambda: iam.get_role(RoleName=FORWARDER_ROLE_NAME)),
            (f"EventBridge rule {forwarding}", lambda: events.describe_rule(Name=forwarding)),
        ) + tuple(f"Config rule {name}" for name in existing_rules)
    except (ClientError, BotoCoreError) as exc:
        return MemberFacts(account_id=account_id, unreachable=f"cannot read it: {describe(exc)}")
    return MemberFacts(
        account_id=account_id, recorders=recorders, recording_elsewhere=elsewhere, existing=existing
    )


_MISSING = ("NoSuchEntity", "ResourceNotFoundException", "NotFoundException")


def _existing(*reads: tuple[str, Callable[[], object]]) -> tuple[str, ...]:
    """The names whose read by name finds the resource; a read's "not found" error is the answer no."""
    found = []
    for name, read in reads:
        try:
            read()
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") in _MISSING:
                continue
            raise
        found.append(name)
    return tuple(found)


def _session_policy() -> str:
    return json.dumps(
        {
            "Version": "2012-10-17",
            "Statement": [{"Effect": "Allow", "Action": list(MEMBER_READS), "Resource": "*"}],
        },
        separators=(",", ":"),
    )
