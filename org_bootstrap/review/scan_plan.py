"""What `akr scan` reads and with which policy, and the AWS behind org_bootstrap.review.scan's runner.

The options are checked before any AWS call. Then the organization (the same refusals as deploy: only
the management account or a delegated administrator), the accounts, and the policy of the deployed
central stack with the command line's overrides, or the defaults when nothing is deployed.

Only readers are built: the member-account adapter of the sweep, and the exemption and lifecycle
adapters over the central state table. No audit log, no claims, no notifier: nothing here can write.
AWS holds to that as well: every role is assumed with a session policy that allows the reads the scan
makes and nothing else. Every request waits for one RateLimiter, shared by all worker threads.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import boto3

from org_bootstrap.aws import RETRIES, Aws, CliError
from org_bootstrap.deploy.central import (
    central_location,
    find_central,
    no_central,
    regions_with_central,
    settings_from,
)
from org_bootstrap.deploy.deployment import CisVersion, Deployment
from org_bootstrap.deploy.footprint import require_administrator
from org_bootstrap.deploy.observed import Account, StackState
from org_bootstrap.deploy.organization import footprint_of, read_organization, security_session
from org_bootstrap.review.audit_query import parse_within
from org_bootstrap.review.rate_limit import RateLimiter
from org_bootstrap.review.scan import AccountScan, Opener, ScanResult, scan_accounts
from remediator.adapters.exemption_table import DynamoDBExemptions
from remediator.adapters.lifecycle_table import DynamoDBLifecycle
from remediator.adapters.member import Boto3MemberAccount
from remediator.adapters.sessions import AssumedRoleAccess, member_session
from remediator.composition import utc_now
from remediator.exemptions import DEFAULT_MAX_EXEMPTION_DAYS
from remediator.policy import PRESETS, Mode, Policy, Thresholds
from remediator.ports import MemberAccount

_ACCOUNT_ID = re.compile(r"[0-9]{12}")
MEMBER_READS = (
    "iam:GenerateCredentialReport",
    "iam:GetAccessKeyLastUsed",
    "iam:GetCredentialReport",
    "iam:GetUser",
    "iam:ListAccessKeys",
    "iam:ListUsers",
)
"""What the member-account adapter calls for the scan (credential_report, users, read_user): no Config,
the scan never resolves a user id."""
CENTRAL_STACK_READS = ("cloudformation:DescribeStacks", "cloudformation:GetTemplate")
STATE_TABLE_READS = ("dynamodb:Query",)


@dataclass(frozen=True)
class Overrides:
    """The policy options of the command line; None keeps the deployed value."""

    mode: Mode | None = None
    cis: CisVersion | None = None
    max_key_age_days: int | None = None
    max_unused_days: int | None = None

    def given(self) -> dict[str, str]:
        options = {
            "--mode": self.mode.value if self.mode else None,
            "--cis": self.cis,
            "--max-key-age-days": self.max_key_age_days,
            "--max-unused-days": self.max_unused_days,
        }
        return {option: str(value) for option, value in options.items() if value is not None}


def check_overrides(overrides: Overrides) -> None:
    if overrides.cis and (overrides.max_key_age_days or overrides.max_unused_days):
        raise CliError("give either --cis or --max-key-age-days/--max-unused-days, not both")


def policy_fields(policy: Policy) -> dict[str, Any]:
    return {
        "mode": policy.mode.value,
        "max_key_age_days": policy.thresholds.max_key_age_days,
        "max_unused_days": policy.thresholds.max_unused_days,
        "grace_days": policy.grace_days,
        "warn_days_before": policy.warn_days_before,
        "protected_user_path": policy.protected_user_path,
        "opt_out_tag_key": policy.opt_out_tag_key,
    }


@dataclass(frozen=True)
class ScanPolicy:
    policy: Policy
    """The policy the scan decides with: the base, with the overrides."""
    source: str
    """"deployed" (the central stack's parameters) or "defaults" (there is no central stack)."""
    note: str
    overrides: dict[str, str]
    state_table: str | None
    """Where the exemptions and key lifecycles are; None without a central stack."""
    base: Policy = field(default_factory=Policy)
    """The deployed policy (or the defaults), before the overrides."""
    max_exemption_days: int = DEFAULT_MAX_EXEMPTION_DAYS
    """The deployed horizon past which the remediator does not honour an exemption."""

    @property
    def previewed(self) -> bool:
        """The scan decides with values given on the command line, not the deployed ones."""
        return bool(self.overrides)

    def as_dict(self) -> dict[str, Any]:
        return {
            "source": self.source,
            "note": self.note,
            "overrides": self.overrides,
            "previewed": self.previewed,
            **policy_fields(self.policy),
            "base": policy_fields(self.base),
        }


def choose_policy(
    stack: StackState | None, overrides: Overrides, *, account_role: str, where: str
) -> ScanPolicy:
    """The deployed policy, read as the deployed remediator reads it, or the defaults without a central
    stack; then the overrides: --cis replaces both limits, --max-* each its own. Pure."""
    check_overrides(overrides)
    horizon = DEFAULT_MAX_EXEMPTION_DAYS
    if stack is None:
        base, state_table = Policy(), None
        source, note = "defaults", f"no central stack in {where}: the defaults, and no central exemptions"
    else:
        settings = settings_from(stack, account_role=account_role)
        base, state_table, horizon = settings.policy, settings.state_table, settings.max_exemption_days
        source, note = "deployed", f"the parameters of stack {stack.name} in {where}"
    limits = PRESETS[f"cis-{overrides.cis}"] if overrides.cis else base.thresholds
    limits = Thresholds(
        max_key_age_days=overrides.max_key_age_days or limits.max_key_age_days,
        max_unused_days=overrides.max_unused_days or limits.max_unused_days,
    )
    policy = base.model_copy(update={"thresholds": limits, "mode": overrides.mode or base.mode})
    return ScanPolicy(policy, source, note, overrides.given(), state_table, base, horizon)


def _policy(*statements: tuple[Sequence[str], str]) -> str:
    """A session policy document, compact: AWS counts its characters (2,048 at most)."""
    document = {
        "Version": "2012-10-17",
        "Statement": [
            {"Effect": "Allow", "Action": sorted(actions), "Resource": resource}
            for actions, resource in statements
        ],
    }
    return json.dumps(document, separators=(",", ":"))


def member_session_policy() -> str:
    """The session policy of --account-role: the IAM reads of the scan, whatever the role grants. AWS
    gives a session the intersection of the role's policies and its session policy:
    https://docs.aws.amazon.com/IAM/latest/UserGuide/id_credentials_temp_control-access_assumerole.html"""
    return _policy((MEMBER_READS, "*"))


def security_session_policy(deployment: Deployment, partition: str = "aws") -> str:
    """The session policy of --security-role: the central stack's description and template, and Query on
    the tables of the security account's home region. The state table's name is CloudFormation's, known
    only once the stack is read; Query is what keeps the session read-only."""
    account, region = deployment.security_account_id, deployment.home_region
    return _policy(
        (
            CENTRAL_STACK_READS,
            f"arn:{partition}:cloudformation:{region}:{account}:stack/{deployment.central_stack_name}/*",
        ),
        (STATE_TABLE_READS, f"arn:{partition}:dynamodb:{region}:{account}:table/*"),
    )


def check_account_ids(wanted: Sequence[str]) -> None:
    malformed = [repr(account) for account in wanted if not _ACCOUNT_ID.fullmatch(account)]
    if malformed:
        raise CliError(f"--account: {', '.join(malformed)} not an account id (12 digits)")


def pick_accounts(
    accounts: Sequence[Account], wanted: Sequence[str], organization_id: str
) -> tuple[str, ...]:
    """--account, each once, when they are ACTIVE accounts of the organization; by default every ACTIVE
    account, the management account included. Pure."""
    if not wanted:
        return tuple(sorted(a.id for a in accounts if a.status == "ACTIVE"))
    known = {a.id: a for a in accounts}
    unique = tuple(dict.fromkeys(wanted))
    missing = [account for account in unique if account not in known]
    if missing:
        raise CliError(f"--account: {', '.join(missing)} not in organization {organization_id}")
    inactive = [f"{a} ({known[a].status})" for a in unique if known[a].status != "ACTIVE"]
    if inactive:
        raise CliError(f"--account: {', '.join(inactive)} not ACTIVE")
    return unique


@dataclass(frozen=True)
class ScanPlan:
    """Everything known before the first account is read."""

    caller: str
    organization_id: str
    accounts: tuple[str, ...]
    policy: ScanPolicy
    account_role: str
    now: datetime
    within: str
    until: datetime
    account_names: dict[str, str] = field(default_factory=dict)
    """Account id -> name, as Organizations has it (read once, with the accounts)."""

    @property
    def label(self) -> str:
        """In the role session names (akr-scan-...), so that CloudTrail in each account names the scan."""
        return f"scan-{self.now:%Y%m%dT%H%M%S}Z"


def prepare_scan(
    aws: Aws,
    deployment: Deployment,
    overrides: Overrides,
    *,
    accounts: Sequence[str],
    account_role: str,
    within: str,
    limiter: RateLimiter,
    now: datetime | None = None,
) -> ScanPlan:
    """The options first, then the organization and the central stack, read through `limiter` too. The
    security role is assumed with security_session_policy."""
    horizon = parse_within(within, option="--within", examples="30d, 2w, 12h")
    check_overrides(overrides)
    check_account_ids(accounts)
    now = now or utc_now()
    aws.session_policy = security_session_policy(deployment, aws.partition())
    limiter.attach(aws.base.events)  # every client the base session makes from now on
    view, _ = read_organization(aws)
    footprint = footprint_of(view)
    require_administrator(footprint, "scan", deployment.security_account_id)
    chosen = pick_accounts(view.accounts, accounts, view.organization_id)
    limiter.attach(security_session(aws, deployment, view.caller).events)  # cached: find_central reuses it
    central = find_central(aws, deployment, view.caller)
    if central is None:
        elsewhere = regions_with_central(aws, deployment, view.caller)
        if elsewhere:  # the defaults, without the exemptions, would show exempt keys as due
            raise CliError(no_central(deployment, elsewhere))
    policy = choose_policy(
        central.stack if central else None,
        overrides,
        account_role=account_role,
        where=central_location(deployment),
    )
    return ScanPlan(
        caller=view.caller,
        organization_id=view.organization_id,
        accounts=chosen,
        account_names={account.id: account.name for account in view.accounts},
        policy=policy,
        account_role=account_role,
        now=now,
        within=within,
        until=now + horizon,
    )


def run_scan(
    aws: Aws,
    deployment: Deployment,
    plan: ScanPlan,
    *,
    limiter: RateLimiter,
    concurrency: int,
    on_done: Callable[[AccountScan], None] | None = None,
    include_compliant: bool = False,
) -> ScanResult:
    exemptions: DynamoDBExemptions | None = None
    lifecycle: DynamoDBLifecycle | None = None
    if plan.policy.state_table is not None:
        # One client, made here and shared: clients are thread-safe. Query only, and only before the first
        # account is read (scan_accounts): the security role's credentials do not refresh.
        dynamodb = aws.dynamodb(security_session(aws, deployment, plan.caller), deployment.home_region)
        limiter.attach(dynamodb.meta.events)
        exemptions = DynamoDBExemptions(client=dynamodb, table_name=plan.policy.state_table)
        lifecycle = DynamoDBLifecycle(client=dynamodb, table_name=plan.policy.state_table)
    return scan_accounts(
        plan.accounts,
        member_factory(aws, plan, limiter, region=deployment.home_region),
        exemptions,
        lifecycle,
        plan.policy.policy,
        plan.now,
        plan.until,
        concurrency=concurrency,
        on_done=on_done,
        max_exemption_days=plan.policy.max_exemption_days,
        include_compliant=include_compliant,
    )


@dataclass(frozen=True)
class MemberOpener:
    """One worker thread's AssumedRoleAccess, and the caller's own account, shared by all threads."""

    access: AssumedRoleAccess
    own: MemberAccount | None
    caller: str
    region: str
    label: str

    def open(self, account_id: str) -> MemberAccount:
        if self.own is not None and account_id == self.caller:
            return self.own
        return self.access.open(account_id, region=self.region, label=self.label)

    def forget(self, account_id: str) -> None:
        self.access.forget(account_id)


def member_factory(aws: Aws, plan: ScanPlan, limiter: RateLimiter, *, region: str) -> Callable[[], Opener]:
    """Builds one AssumedRoleAccess per worker thread (so a session per thread and account, each paced by
    `limiter`), which assumes --account-role with member_session_policy. The STS client and the caller's
    own account are made here, in the calling thread, and shared: the caller's account is read with its
    own credentials, there is no role to assume into it (nor a session policy to cap them with)."""
    sts = aws.sts()
    own = None
    if plan.caller in plan.accounts:
        own = Boto3MemberAccount(
            account_id=plan.caller, role_session_name="", iam=aws.iam(), config=aws.config(region=region)
        )

    def limited_session(
        *,
        aws_access_key_id: str,
        aws_secret_access_key: str,
        aws_session_token: str,
        region_name: str | None,
    ) -> boto3.Session:
        session = member_session(
            aws_access_key_id=aws_access_key_id,
            aws_secret_access_key=aws_secret_access_key,
            aws_session_token=aws_session_token,
            region_name=region_name,
        )
        limiter.attach(session.events)
        return session

    def build() -> Opener:
        access = AssumedRoleAccess(
            session=aws.base,
            role_name=plan.account_role,
            clock=utc_now,
            config=RETRIES,  # adaptive mode: backs off on throttling, on top of the limiter
            sts=sts,
            session_factory=limited_session,
            endpoint_url=aws.endpoint_url,
            session_policy=member_session_policy(),
        )
        return MemberOpener(access, own, plan.caller, region, plan.label)

    return build
