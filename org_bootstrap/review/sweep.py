"""`akr sweep`: start the deployed sweep, or run the same code on this machine (--local). The command
line only renders; the runner is org_bootstrap.review.local_sweep.

The deployed sweep: the central stack's SweepFunction lists the organization's ACTIVE accounts and queues
one message per account; the worker function reconciles each. `akr sweep` invokes that function
asynchronously, as its schedule does, with a run id of its own.

The local sweep reads the organization here, and sweeps each account through build_remediator, with the
deployed policy (the central stack's parameters) and the central tables (its outputs, reached through
the security account). Member accounts are entered through --account-role: the member role trusts only
the deployed remediator's role, so the operator cannot use it.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING

from botocore.exceptions import BotoCoreError, ClientError

from org_bootstrap.aws import RETRIES, Aws, CliError, describe
from org_bootstrap.deploy.central import Central, central_clients, read_central
from org_bootstrap.deploy.central import settings_from as settings_from_stack
from org_bootstrap.deploy.deployment import Deployment
from org_bootstrap.deploy.footprint import require_administrator
from org_bootstrap.deploy.observed import StackState
from org_bootstrap.deploy.organization import footprint_of, read_organization
from org_bootstrap.review.dry_run import KeptRecords, dry_run_remediator
from org_bootstrap.review.local_sweep import AccountResult, sweep_accounts
from remediator.adapters.exemption_table import DynamoDBExemptions
from remediator.adapters.lifecycle_table import DynamoDBLifecycle
from remediator.adapters.sessions import AssumedRoleAccess
from remediator.composition import build_remediator, utc_now
from remediator.policy import Mode
from remediator.service import Remediator
from remediator.settings import Settings

if TYPE_CHECKING:
    from mypy_boto3_lambda import LambdaClient

SELF_SKIPPED = (
    "the account akr runs in: akr assumes no role into its own account (the deployed sweep covers it "
    "through its member stack)"
)


def new_run_id(now: datetime) -> str:
    """cli-<UTC timestamp>: names the run in the role session names and the audit records."""
    return f"cli-{now:%Y%m%dT%H%M%S.%f}Z"


def label_of(run_id: str) -> str:
    """The label the deployed worker gives a sweep's runs (remediator.sweep.SweepMessage.label)."""
    return f"sweep-{run_id}"


# -- the deployed sweep ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Started:
    run_id: str
    function_name: str
    security_account: str
    region: str
    mode: str
    audit_table: str
    log_groups: tuple[str, ...]


def invoke_sweep(lambda_client: LambdaClient, function_name: str, run_id: str) -> None:
    """One asynchronous invocation (InvocationType=Event), as the schedule makes; Lambda answers 202."""
    try:
        response = lambda_client.invoke(
            FunctionName=function_name,
            InvocationType="Event",
            Payload=json.dumps({"run_id": run_id}).encode(),
        )
    except (ClientError, BotoCoreError) as exc:
        raise CliError(f"cannot start the sweep function {function_name}: {describe(exc)}") from exc
    if response["StatusCode"] != 202:
        raise CliError(
            f"the sweep function {function_name} answered {response['StatusCode']}, not 202 (queued)"
        )


def sweep_log_groups(stack: StackState) -> tuple[str, str]:
    """The sweep function's and the worker's log groups, from the stack's outputs; a stack deployed before
    it had those outputs has the groups its template named after the stack."""
    return (
        stack.outputs.get("SweepLogGroupName", f"/aws/lambda/{stack.name}-sweep"),
        stack.outputs.get("WorkerLogGroupName", f"/aws/lambda/{stack.name}-worker"),
    )


def prepare_deployed(aws: Aws, deployment: Deployment) -> tuple[Central, str]:
    """The central stack and its sweep function's name."""
    central = read_central(aws, deployment, aws.caller_account())
    function = central.stack.outputs.get("SweepFunctionName")
    if not function:
        raise CliError(
            f"stack {central.stack.name} has no output SweepFunctionName: it predates the sweep; "
            "run akr deploy"
        )
    return central, function


def start_deployed(aws: Aws, deployment: Deployment, central: Central, function: str, run_id: str) -> Started:
    client: LambdaClient = central.security.client(
        "lambda", region_name=central.region, endpoint_url=aws.endpoint_url, config=RETRIES
    )
    invoke_sweep(client, function, run_id)
    return Started(
        run_id=run_id,
        function_name=function,
        security_account=deployment.security_account_id,
        region=central.region,
        mode=central.mode,
        audit_table=central.stack.outputs["AuditTableName"],
        log_groups=sweep_log_groups(central.stack),
    )


# -- the local sweep ------------------------------------------------------------------------------


@dataclass(frozen=True)
class LocalSweep:
    """Everything known before the first account is touched."""

    run_id: str
    settings: Settings
    region: str
    security_account: str
    account_role: str
    accounts: tuple[str, ...]
    skipped: tuple[tuple[str, str], ...]
    """(account id, why) for the ACTIVE accounts not swept."""
    dry_run: bool

    @property
    def label(self) -> str:
        return label_of(self.run_id)

    @property
    def changes_iam(self) -> bool:
        return self.settings.mode is not Mode.REPORT


def prepare_local(
    aws: Aws,
    deployment: Deployment,
    *,
    run_id: str,
    account_role: str,
    mode: Mode | None,
    dry_run: bool,
) -> tuple[LocalSweep, Central]:
    """The same refusals as deploy; then the ACTIVE accounts and the deployed settings."""
    view, _ = read_organization(aws)
    footprint = footprint_of(view)
    require_administrator(footprint, "sweep --local", deployment.security_account_id)
    central = read_central(aws, deployment, view.caller)
    settings = settings_from_stack(
        central.stack, account_role=account_role, mode=Mode.REPORT if dry_run else mode, quiet=dry_run
    )
    active = [a.id for a in footprint.active_accounts]
    plan = LocalSweep(
        run_id=run_id,
        settings=settings,
        region=settings.home_region or deployment.home_region,
        security_account=deployment.security_account_id,
        account_role=account_role,
        accounts=tuple(a for a in active if a != view.caller and a not in settings.unswept_accounts),
        skipped=((view.caller, SELF_SKIPPED),) if view.caller in active else (),
        dry_run=dry_run,
    )
    return plan, central


def remediator_factory(
    aws: Aws, central: Central, settings: Settings, kept: KeptRecords | None = None
) -> Callable[[], Remediator]:
    """Builds one remediator per call (per worker thread) through the composition root. The central
    clients are made here, once, in the calling thread, and shared. With `kept` (a dry run), the
    remediator reads the central state and writes nothing: its records go to `kept`
    (org_bootstrap.review.dry_run)."""
    clients = central_clients(aws, central)

    def build() -> Remediator:
        if kept is not None:
            access = AssumedRoleAccess(
                session=aws.base,
                role_name=settings.member_role_name,
                clock=utc_now,
                sts=clients.sts,
                endpoint_url=aws.endpoint_url,
            )
            return dry_run_remediator(
                settings,
                access=access,
                exemptions=DynamoDBExemptions(client=clients.dynamodb, table_name=settings.state_table),
                lifecycle=DynamoDBLifecycle(client=clients.dynamodb, table_name=settings.state_table),
                kept=kept,
                clock=utc_now,
            )
        return build_remediator(
            settings,
            aws.base,
            dynamodb=clients.dynamodb,
            sns=clients.sns,
            sts=clients.sts,
            endpoint_url=aws.endpoint_url,
        )

    return build


def run_local(
    aws: Aws,
    central: Central,
    plan: LocalSweep,
    *,
    concurrency: int,
    on_done: Callable[[AccountResult], None] | None = None,
    kept: KeptRecords | None = None,
) -> tuple[AccountResult, ...]:
    """`kept`: a dry run, whose records go there (and nowhere else); required with plan.dry_run."""
    if plan.dry_run and kept is None:
        raise ValueError("a dry run keeps its records in memory: pass kept")
    return sweep_accounts(
        plan.accounts,
        remediator_factory(aws, central, plan.settings, kept if plan.dry_run else None),
        region=plan.region,
        label=plan.label,
        concurrency=concurrency,
        on_done=on_done,
    )


def describe_local(plan: LocalSweep, *, concurrency: int) -> list[str]:
    """The plan lines: what the sweep would do, and to which accounts."""
    settings = plan.settings
    thresholds = settings.thresholds
    effect = {
        Mode.REPORT: "violating keys are only recorded, nothing in IAM changes",
        Mode.DEACTIVATE: "violating keys are deactivated",
        Mode.DELETE: "violating keys are deleted",
        Mode.STAGED: (
            f"violating keys are deactivated, and deleted {settings.grace_days} day(s) later if still "
            "inactive"
        ),
    }[settings.mode]
    lines = [
        f"Would sweep {len(plan.accounts)} account(s) from this machine, {concurrency} at a time, in mode "
        f"{settings.mode.value}: {effect}",
        f"Rules: rotation after {thresholds.max_key_age_days} days, unused after "
        f"{thresholds.max_unused_days} days"
        + (f"; owners warned {settings.warn_days_before} days before" if settings.warn_days_before else ""),
        f"Would enter each account through the role {plan.account_role}, and record every decision in "
        f"{settings.audit_table} in the security account {plan.security_account}",
    ]
    if plan.dry_run:
        lines.append(
            "Dry run: mode report, and nothing is written: no audit record, no key lifecycle, no claim, no "
            "notification; the decisions are only shown here"
        )
    lines.extend(f"Would skip {account}: {why}" for account, why in plan.skipped)
    return lines
