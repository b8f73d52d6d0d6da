"""`akr undo`: make active again a key that this service deactivated, within the grace period.

A read-only check first (the key's lifecycle in the central state table) gives the plan line; then
remediator.undo.Undo does the work and its own checks (the key still exists and is inactive, no other run
is acting on it), and writes the audit records with the operator's ARN. The member account is entered
through --account-role, as `akr sweep --local` does.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from org_bootstrap.aws import Aws, CliError
from org_bootstrap.deploy.central import Central, central_clients, read_central
from org_bootstrap.deploy.central import settings_from as settings_from_stack
from org_bootstrap.deploy.deployment import Deployment
from remediator.adapters.lifecycle_table import DynamoDBLifecycle
from remediator.composition import build_undo
from remediator.errors import RemediatorError
from remediator.lifecycle import KeyLifecycle, Stage
from remediator.settings import Settings
from remediator.undo import UndoRefusedError


@dataclass(frozen=True)
class Caller:
    account_id: str
    arn: str


def caller_identity(aws: Aws) -> Caller:
    return Caller(account_id=aws.caller_account(), arn=aws.caller_arn())


@dataclass(frozen=True)
class UndoPlan:
    account_id: str
    access_key_id: str
    user_name: str
    deactivated_at: datetime
    grace_ends: datetime
    operator: str
    region: str
    settings: Settings

    @property
    def line(self) -> str:
        return (
            f"Would reactivate {self.access_key_id} of {self.user_name} in {self.account_id}, deactivated "
            f"on {self.deactivated_at:%Y-%m-%d}"
        )


def refusal(account_id: str, access_key_id: str, known: KeyLifecycle | None) -> str:
    """Why undo cannot apply to a key that the state table does not have as deactivated. Pure."""
    where = f"{access_key_id} in {account_id}"
    if known is not None and known.stage is Stage.DELETED:
        return f"{where} was deleted on {known.deleted_at or known.updated_at:%Y-%m-%d}; it cannot come back"
    if known is not None and known.stage is Stage.REACTIVATED:
        return f"{where} was made active again on {known.reactivated_at or known.updated_at:%Y-%m-%d}"
    return f"{where} was not deactivated by this service"


def prepare_undo(
    aws: Aws,
    deployment: Deployment,
    *,
    account_id: str,
    access_key_id: str,
    account_role: str,
    now: datetime,
) -> tuple[UndoPlan, Central]:
    """Read-only: the caller, the central stack, and the key's lifecycle. Raises UndoRefusedError."""
    caller = caller_identity(aws)
    central = read_central(aws, deployment, caller.account_id)
    settings = settings_from_stack(central.stack, account_role=account_role)
    lifecycle = DynamoDBLifecycle(
        client=aws.dynamodb(central.security, central.region), table_name=settings.state_table
    )
    try:
        known = lifecycle.for_account(account_id).get(access_key_id)
    except RemediatorError as exc:
        raise CliError(str(exc)) from exc
    if known is None or known.stage is not Stage.DEACTIVATED or known.deactivated_at is None:
        raise UndoRefusedError(refusal(account_id, access_key_id, known))
    ends = known.deactivated_at + timedelta(days=settings.grace_days)
    if now > ends:
        # The words of remediator.undo, which checks the same again before it acts.
        raise UndoRefusedError(
            f"{access_key_id} was deactivated on {known.deactivated_at:%Y-%m-%d}; the grace period ended on "
            f"{ends:%Y-%m-%d %H:%M} UTC"
        )
    plan = UndoPlan(
        account_id=account_id,
        access_key_id=access_key_id,
        user_name=known.user_name,
        deactivated_at=known.deactivated_at,
        grace_ends=ends,
        operator=caller.arn,
        region=settings.home_region or deployment.home_region,
        settings=settings,
    )
    return plan, central


def carry_out_undo(aws: Aws, central: Central, plan: UndoPlan) -> str:
    """Undo.reactivate through the composition of the deployed adapters; returns the user's name."""
    clients = central_clients(aws, central)
    undo = build_undo(
        plan.settings, aws.base, dynamodb=clients.dynamodb, sts=clients.sts, endpoint_url=aws.endpoint_url
    )
    return undo.reactivate(plan.account_id, plan.access_key_id, operator=plan.operator, region=plan.region)
