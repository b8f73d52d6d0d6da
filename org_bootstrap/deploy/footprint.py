"""What akr has deployed in the organization, as `akr status` and `akr destroy` see it. Pure data: the
adapter in org_bootstrap.deploy.survey fills it."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict

from org_bootstrap.deploy.observed import ACTIVE, Account, StackSetState, StackState
from org_bootstrap.deploy.plan import PlanError


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class AuditTable(_Frozen):
    name: str
    deletion_protection: bool


class Footprint(_Frozen):
    caller_account: str
    management_account: str
    organization_id: str
    delegated_admin: bool
    root_id: str = ""
    accounts: tuple[Account, ...] = ()
    partition: str = "aws"
    """The caller's partition, from its ARN."""
    stackset: StackSetState | None = None
    management_stack: StackState | None = None
    """Read only from the management account itself: None elsewhere, and when there is none."""
    central_stack: StackState | None = None
    bucket_exists: bool = False
    audit_tables: tuple[AuditTable, ...] = ()
    """The central stack's audit table, or, once that stack is gone, the retained tables its naming
    gives away (<central stack>-AuditTable-<suffix>)."""

    @property
    def is_management(self) -> bool:
        return self.caller_account == self.management_account

    @property
    def call_as(self) -> str:
        return "SELF" if self.is_management else "DELEGATED_ADMIN"

    def account(self, account_id: str) -> Account | None:
        return next((a for a in self.accounts if a.id == account_id), None)

    @property
    def active_accounts(self) -> tuple[Account, ...]:
        return tuple(a for a in self.accounts if a.status == ACTIVE)

    @property
    def inactive_accounts(self) -> tuple[Account, ...]:
        """Suspended or closing accounts: nothing is deployed to them, nothing in them is checked."""
        return tuple(a for a in self.accounts if a.status != ACTIVE)


def require_administrator(footprint: Footprint, command: str, security_account: str) -> None:
    """The same refusals as deploy: only the management account or a delegated StackSets administrator
    may run `command`, and the security account must be in the organization."""
    if not (footprint.is_management or footprint.delegated_admin):
        raise PlanError(
            f"this is account {footprint.caller_account}: run akr {command} from the management account "
            f"{footprint.management_account} or from a delegated administrator for CloudFormation StackSets"
        )
    if footprint.account(security_account) is None:
        raise PlanError(
            f"security account {security_account} is not in organization {footprint.organization_id}"
        )
