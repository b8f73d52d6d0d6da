"""The deployment plan: a pure function of (what the operator asks for, what the organization has).

Every mutating command prints the plan's "Would ..." lines before it asks for confirmation; running the
plan of an up-to-date organization changes nothing.
"""

from __future__ import annotations

from enum import StrEnum

from pydantic import BaseModel, ConfigDict

from org_bootstrap.deploy.concurrency import reserved_by
from org_bootstrap.deploy.deployment import (
    Deployment,
    DeploymentPolicy,
    PolicyError,
    central_parameters,
    member_parameters,
    resolve_policy,
    template_parameters,
)
from org_bootstrap.deploy.observed import ACTIVE, Observed, StackSetState, StackState
from org_bootstrap.deploy.regions import home_region_problem
from remediator.policy import Mode

EVENT_BUS_NAME = "access-key-remediation"
# Stack instances that an update of the StackSet deploys again (DetailedStatus, or Status OUTDATED).
RETRIED_INSTANCE_STATES = frozenset({"FAILED", "CANCELLED", "OUTDATED"})
# How the central template named the remediator's log group before the name carried the stack id.
OLD_LOG_GROUP_NAME = "LogGroupName: !Sub /aws/lambda/${AWS::StackName}-remediator\n"
VERIFY = "VerifyExemptions"
AUDIT_WRITERS = "AuditWriterRoleArns"
"""The parameter that came with the audit table's resource policy: a stack without it has none."""
# How much a mode does to a violating key, least first: a change up this list gets a warning in the plan.
MODE_SEVERITY = {Mode.REPORT: 0, Mode.DEACTIVATE: 1, Mode.STAGED: 2, Mode.DELETE: 3}


class PlanError(Exception):
    """The deployment cannot go ahead; nothing has been changed."""


class Change(StrEnum):
    NONE = "none"
    CREATE = "create"
    UPDATE = "update"
    RECREATE = "recreate"
    """A stack that failed its first creation: delete it, then create it again."""


class ParameterChange(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    name: str
    old: str | None
    """None when the deployed stack does not have the parameter."""
    new: str


class StackDiff(BaseModel):
    """What an UPDATE changes in a deployed stack or StackSet (empty for any other change)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    parameters: tuple[ParameterChange, ...] = ()
    """The parameters akr sets whose value changes, in the order akr sets them."""
    new_template: bool = False
    kept: tuple[str, ...] = ()
    """Parameters the stack has, and the new template declares, that akr does not set (NotificationEmail,
    LogLevel, ...): the update sends them with UsePreviousValue, or CloudFormation would reset them to the
    template's defaults."""

    def change(self, name: str) -> ParameterChange | None:
        return next((c for c in self.parameters if c.name == name), None)


class Plan(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    call_as: str
    """SELF from the management account, DELEGATED_ADMIN from a delegated StackSets administrator."""
    organization_id: str
    targets: tuple[str, ...]
    bus_arn: str
    code_key: str
    policy: DeploymentPolicy
    """The options given, else what is deployed, else a first deploy's defaults."""
    central_parameters: dict[str, str]
    member_parameters: dict[str, str]
    enable_trusted_access: bool
    create_bucket: bool
    upload_code: bool
    central: Change
    stackset: Change
    missing_instances: tuple[str, ...]
    """ACTIVE target accounts without a stack instance yet."""
    skipped_accounts: tuple[str, ...] = ()
    """Target accounts that are not ACTIVE (suspended, closing): StackSets skip them, and so does the plan."""
    retried_instances: tuple[str, ...] = ()
    """Accounts whose stack instance failed or is outdated: the StackSet update deploys them again."""
    management: Change | None
    """None when the command does not run in the management account and cannot reach it."""
    central_diff: StackDiff = StackDiff()
    stackset_diff: StackDiff = StackDiff()
    management_diff: StackDiff = StackDiff()
    reserving: int = 0
    """Reserved concurrent executions the central stack takes from the security account's unreserved
    pool on top of what it holds now (negative: gives back)."""

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
    region_problem = home_region_problem(deployment.home_region)
    if region_problem:
        raise PlanError(region_problem)
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
    bus_arn = bus_arn_of(deployment, observed.partition)
    policy = _policy(deployment, observed)
    organization_id = observed.organization_id
    central = central_parameters(
        deployment,
        policy,
        organization_id=organization_id,
        code_key=code_key,
        partition=observed.partition,
        verify_exemptions=verifies_exemptions(observed),
    )
    member = member_parameters(deployment, policy, organization_id=organization_id, bus_arn=bus_arn)
    instances = observed.stackset.instances if observed.stackset else ()
    covered = {i.account_id for i in instances}
    retried = tuple(sorted({i.account_id for i in instances if i.status in RETRIED_INSTANCE_STATES}))
    central_change = _stack_change(observed.central_stack, central_template, central)
    stackset_change = _stackset_change(observed.stackset, member_template, member, retried)
    management_change = (
        _stack_change(observed.management_stack, member_template, member) if observed.is_management else None
    )
    deployed = observed.central_stack
    holds = 0 if deployed is None or deployed.failed_terminally else reserved_by(deployed.parameters)
    kept = deployed.parameters if deployed else {}
    return Plan(
        call_as=call_as,
        organization_id=observed.organization_id,
        targets=targets,
        bus_arn=bus_arn,
        code_key=code_key,
        policy=policy,
        central_parameters=central,
        member_parameters=member,
        enable_trusted_access=not observed.trusted_access,
        create_bucket=not observed.bucket_exists,
        upload_code=not observed.code_uploaded,
        central=central_change,
        stackset=stackset_change,
        missing_instances=tuple(
            a for a in observed.target_accounts if a not in covered and _active(observed, a)
        ),
        skipped_accounts=tuple(a for a in observed.target_accounts if not _active(observed, a)),
        retried_instances=retried,
        management=management_change,
        central_diff=_diff(central_change, observed.central_stack, central_template, central),
        stackset_diff=_diff(stackset_change, observed.stackset, member_template, member),
        management_diff=_diff(management_change, observed.management_stack, member_template, member),
        reserving=reserved_by({**kept, **central}) - holds,
    )


def verifies_exemptions(observed: Observed) -> bool:
    """On for a new deployment and once every exemption in force has its exempt-add record; never turned
    off again (an exemption written since without one is what verification exists to ignore)."""
    deployed = observed.central_stack
    if deployed is None or deployed.parameters.get(VERIFY) == "true":
        return True
    return not observed.unlinked_exemptions


def _active(observed: Observed, account_id: str) -> bool:
    account = observed.account(account_id)
    return account is None or account.status == ACTIVE


def bus_arn_of(deployment: Deployment, partition: str) -> str:
    region, security = deployment.home_region, deployment.security_account_id
    return f"arn:{partition}:events:{region}:{security}:event-bus/{EVENT_BUS_NAME}"


def _state(observed: Observed, account_id: str) -> str:
    account = observed.account(account_id)
    return account.status if account and account.status else "state unknown"


def _policy(deployment: Deployment, observed: Observed) -> DeploymentPolicy:
    """The operator's options over the deployed values: the central stack's, and the member stack's (the
    StackSet's, else the management account's) for the member-only Config recorder."""
    central = observed.central_stack
    member = observed.stackset or observed.management_stack
    try:
        return resolve_policy(
            deployment,
            central=central.parameters if central else None,
            member=member.parameters if member else None,
        )
    except PolicyError as exc:
        raise PlanError(str(exc)) from exc


def _diff(
    change: Change | None,
    deployed: StackState | StackSetState | None,
    template: str,
    parameters: dict[str, str],
) -> StackDiff:
    if change is not Change.UPDATE or deployed is None:
        return StackDiff()
    declared = template_parameters(template)
    return StackDiff(
        parameters=tuple(
            ParameterChange(name=name, old=deployed.parameters.get(name), new=value)
            for name, value in parameters.items()
            if deployed.parameters.get(name) != value
        ),
        new_template=deployed.template.strip() != template.strip(),
        kept=tuple(
            sorted(name for name in deployed.parameters if name in declared and name not in parameters)
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
        plan.central,
        f"stack {deployment.central_stack_name}",
        f"the security account {security}",
        plan.central_diff,
    )
    region = deployment.home_region
    if plan.stackset is not Change.NONE:
        lines.append(
            f"Would {plan.stackset.value} StackSet {deployment.stackset_name} (service-managed, automatic "
            f"deployment) for {', '.join(plan.targets)} in {region}{_details(plan.stackset_diff)}"
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
    if plan.skipped_accounts:
        states = ", ".join(f"{a} ({_state(observed, a)})" for a in plan.skipped_accounts)
        lines.append(f"Would skip {len(plan.skipped_accounts)} account(s) that are not ACTIVE: {states}")
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
            plan.management_diff,
        )
    lines += upgrade_notes(plan, deployment, observed)
    if plan.central_parameters[VERIFY] == "false":
        unlinked = observed.unlinked_exemptions
        lines.append(
            f"Exemption verification stays off: {len(unlinked)} exemption(s) in force have no exempt-add "
            f"audit record ({', '.join(unlinked)}); link them with akr exempt relink, then deploy again"
        )
    lines += warnings(plan)
    if plan.changes_nothing:
        lines.append("Nothing to change: the organization is up to date")
    return lines


def upgrade_notes(plan: Plan, deployment: Deployment, observed: Observed) -> list[str]:
    """What an update changes for a deployment made by an earlier akr, in words."""
    central = observed.central_stack
    if plan.central is not Change.UPDATE or central is None:
        return []
    notes = []
    if OLD_LOG_GROUP_NAME in central.template:
        # The groups were named after the stack alone; a retained one then blocked any later create.
        stack = deployment.central_stack_name
        notes.append(
            "The remediator's and the worker's logs move to new log groups, "
            f"/aws/lambda/{stack}-remediator-<id> and -worker-<id> (<id>: the stack id's first part); "
            f"/aws/lambda/{stack}-remediator and -worker are kept, with the logs they hold"
        )
    verify = plan.central_diff.change(VERIFY)
    if verify and verify.new == "true":
        notes.append(
            "From now on the remediator honours an exemption only with its matching exempt-add audit record "
            "(every exemption in force has one)"
        )
    if AUDIT_WRITERS not in central.parameters:
        writers = plan.central_parameters[AUDIT_WRITERS]
        notes.append(
            "The audit table gets a resource policy: no principal may update or delete a record any more, "
            f"and only the remediator's role and {writers} may append one (akr run as another role in the "
            "security account can no longer write audit records); the state table gets deletion protection"
        )
    return notes


def warnings(plan: Plan) -> list[str]:
    """The plan's lines that need the operator's attention most: from now on keys are treated harder."""
    found = []
    mode = plan.central_diff.change("Mode")
    if mode and mode.old in MODE_SEVERITY and MODE_SEVERITY[plan.policy.mode] > MODE_SEVERITY[Mode(mode.old)]:
        effect = {
            Mode.DEACTIVATE: "deactivated",
            Mode.STAGED: f"deactivated, and deleted {plan.policy.grace_days} day(s) later,",
            Mode.DELETE: "deleted",
        }[plan.policy.mode]
        found.append(f"Keys will be {effect} from now on: {_change(mode)}")
    grace = plan.central_diff.change("GraceDays")
    if grace and grace.old and grace.old.isdigit() and plan.policy.grace_days < int(grace.old):
        effect = (
            "Deactivated keys will be deleted sooner"
            if plan.policy.mode is Mode.STAGED
            else "Deactivated keys can be reactivated (akr undo) for less time"
        )
        found.append(f"{effect}: {_change(grace)}")
    return found


def _stack_lines(change: Change, what: str, where: str, diff: StackDiff) -> list[str]:
    if change is Change.NONE:
        return []
    if change is Change.RECREATE:
        return [f"Would delete the failed {what} in {where} and create it again"]
    return [f"Would {change.value} {what} in {where}{_details(diff)}"]


def _details(diff: StackDiff) -> str:
    """The suffix ": Mode report -> delete, GraceDays 14 -> 7, new code, new template"; "" when empty."""
    parts = [_change(c) for c in diff.parameters if c.name != "CodeKey"]
    if diff.change("CodeKey"):
        parts.append("new code")
    if diff.new_template:
        parts.append("new template")
    return f": {', '.join(parts)}" if parts else ""


def _change(change: ParameterChange) -> str:
    return f"{change.name} {_shown(change.old)} -> {_shown(change.new)}"


def _shown(value: str | None) -> str:
    if value is None:
        return "(not set)"
    return value or "(none)"
