"""The deployment plan: a pure function of (what the operator asks for, what the organization has).

Every mutating command prints the plan's "Would ..." lines before it asks for confirmation; running the
plan of an up-to-date organization changes nothing.
"""

from __future__ import annotations

from enum import StrEnum

from pydantic import BaseModel, ConfigDict

from org_bootstrap.deployment import Deployment, central_parameters, member_parameters
from org_bootstrap.observed import Observed, StackSetState, StackState

EVENT_BUS_NAME = "access-key-remediation"
# Stack instances that an update of the StackSet deploys again (DetailedStatus, or Status OUTDATED).
RETRIED_INSTANCE_STATES = frozenset({"FAILED", "CANCELLED", "OUTDATED"})


class PlanError(Exception):
    """The deployment cannot go ahead; nothing has been changed."""


class Change(StrEnum):
    NONE = "none"
    CREATE = "create"
    UPDATE = "update"
    RECREATE = "recreate"
    """A stack that failed its first creation: delete it, then create it again."""


class Plan(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    call_as: str
    """SELF from the management account, DELEGATED_ADMIN from a delegated StackSets administrator."""
    organization_id: str
    targets: tuple[str, ...]
    bus_arn: str
    code_key: str
    central_parameters: dict[str, str]
    member_parameters: dict[str, str]
    enable_trusted_access: bool
    create_bucket: bool
    upload_code: bool
    central: Change
    stackset: Change
    missing_instances: tuple[str, ...]
    """Target accounts without a stack instance yet."""
    retried_instances: tuple[str, ...] = ()
    """Accounts whose stack instance failed or is outdated: the StackSet update deploys them again."""
    management: Change | None
    """None when the command does not run in the management account and cannot reach it."""

    @property
    def changes_nothing(self) -> bool:
        return (
            not (self.enable_trusted_access or self.create_bucket or self.upload_code)
            and self.central is Change.NONE
            and self.stackset is Change.NONE
            and not self.missing_instances
            and self.management in (Change.NONE, None)
        )


def plan_deploy(
    deployment: Deployment,
    observed: Observed,
    *,
    code_key: str,
    central_template: str,
    member_template: str,
) -> Plan:
    if observed.is_management:
        call_as = "SELF"
    elif observed.delegated_admin:
        call_as = "DELEGATED_ADMIN"
    else:
        raise PlanError(
            f"this is account {observed.caller_account}: run akr deploy from the management account "
            f"{observed.management_account} or from a delegated administrator for CloudFormation StackSets"
        )
    security = observed.account(deployment.security_account_id)
    if security is None:
        raise PlanError(
            f"security account {deployment.security_account_id} is not in organization "
            f"{observed.organization_id}"
        )
    if security.status != "ACTIVE":
        raise PlanError(f"security account {security.id} is {security.status}, not ACTIVE")
    if not observed.trusted_access and not observed.is_management:
        raise PlanError(
            "trusted access between CloudFormation StackSets and Organizations is off; "
            "only the management account can turn it on"
        )
    targets = deployment.targets or (observed.root_id,)
    bus_arn = (
        f"arn:aws:events:{deployment.home_region}:{deployment.security_account_id}:event-bus/{EVENT_BUS_NAME}"
    )
    central = central_parameters(deployment, organization_id=observed.organization_id, code_key=code_key)
    member = member_parameters(deployment, organization_id=observed.organization_id, bus_arn=bus_arn)
    instances = observed.stackset.instances if observed.stackset else ()
    covered = {i.account_id for i in instances}
    retried = tuple(sorted({i.account_id for i in instances if i.status in RETRIED_INSTANCE_STATES}))
    return Plan(
        call_as=call_as,
        organization_id=observed.organization_id,
        targets=targets,
        bus_arn=bus_arn,
        code_key=code_key,
        central_parameters=central,
        member_parameters=member,
        enable_trusted_access=not observed.trusted_access,
        create_bucket=not observed.bucket_exists,
        upload_code=not observed.code_uploaded,
        central=_stack_change(observed.central_stack, central_template, central),
        stackset=_stackset_change(observed.stackset, member_template, member, retried),
        missing_instances=tuple(a for a in observed.target_accounts if a not in covered),
        retried_instances=retried,
        management=(
            _stack_change(observed.management_stack, member_template, member)
            if observed.is_management
            else None
        ),
    )


def _stack_change(stack: StackState | None, template: str, parameters: dict[str, str]) -> Change:
    if stack is None:
        return Change.CREATE
    if stack.failed_terminally:
        return Change.RECREATE
    if stack.template.strip() != template.strip() or _differs(stack.parameters, parameters):
        return Change.UPDATE
    return Change.NONE


def _stackset_change(
    stackset: StackSetState | None, template: str, parameters: dict[str, str], retried: tuple[str, ...]
) -> Change:
    if stackset is None:
        return Change.CREATE
    drifted = stackset.template.strip() != template.strip() or _differs(stackset.parameters, parameters)
    # AutoDeployment is always reported by AWS for a service-managed StackSet; None means "not reported"
    # (moto does not store it), which is not evidence of drift.
    if drifted or stackset.auto_deployment is False or retried:
        return Change.UPDATE
    return Change.NONE


def _differs(observed: dict[str, str], desired: dict[str, str]) -> bool:
    return any(observed.get(name) != value for name, value in desired.items())


def describe(plan: Plan, deployment: Deployment, observed: Observed) -> list[str]:
    """The plan as "Would ..." lines, in the order the deploy carries it out."""
    security = deployment.security_account_id
    lines = []
    if plan.enable_trusted_access:
        lines.append("Would enable trusted access between CloudFormation StackSets and AWS Organizations")
    if plan.create_bucket:
        lines.append(f"Would create bucket s3://{deployment.code_bucket} in the security account {security}")
    if plan.upload_code:
        lines.append(f"Would upload the remediator code to s3://{deployment.code_bucket}/{plan.code_key}")
    lines += _stack_lines(
        plan.central, f"stack {deployment.central_stack_name}", f"the security account {security}"
    )
    region = deployment.home_region
    if plan.stackset is not Change.NONE:
        lines.append(
            f"Would {plan.stackset.value} StackSet {deployment.stackset_name} (service-managed, automatic "
            f"deployment) for {', '.join(plan.targets)} in {region}"
        )
    if plan.retried_instances:
        lines.append(
            f"Would deploy the member stack again where it failed or is outdated: "
            f"{', '.join(plan.retried_instances)}"
        )
    if plan.missing_instances:
        lines.append(
            f"Would deploy the member stack to {len(plan.missing_instances)} account(s): "
            f"{', '.join(plan.missing_instances)}"
        )
    if plan.management is None:
        lines.append(
            f"Cannot reach the management account {observed.management_account} from here: deploy "
            "stacksets/member.yaml there as a plain stack (StackSets never deploy to it)"
        )
    else:
        lines += _stack_lines(
            plan.management,
            f"stack {deployment.management_stack_name}",
            f"the management account {observed.management_account}",
        )
    if plan.changes_nothing:
        lines.append("Nothing to change: the organization is up to date")
    return lines


def _stack_lines(change: Change, what: str, where: str) -> list[str]:
    if change is Change.NONE:
        return []
    if change is Change.RECREATE:
        return [f"Would delete the failed {what} in {where} and create it again"]
    return [f"Would {change.value} {what} in {where}"]
