"""The deployment plan: a pure function of (what the operator asks for, what the organization has).

Every mutating command prints the plan's "Would ..." lines (org_bootstrap.deploy.plan_lines) before it asks
for confirmation; running the plan of an up-to-date organization changes nothing.
"""

from __future__ import annotations

from enum import StrEnum

from pydantic import BaseModel, ConfigDict

from org_bootstrap.deploy.bucket_policy import (
    BucketPolicyError,
    bucket_repairs,
    deployed_writers,
    desired_policy,
    policy_changes,
    same_principal,
)
from org_bootstrap.deploy.code_signing import signing_parameters
from org_bootstrap.deploy.concurrency import reserved_by
from org_bootstrap.deploy.deployment import (
    SETTINGS_DIGEST,
    Deployment,
    DeploymentPolicy,
    ManagementAccount,
    PolicyError,
    central_parameters,
    member_parameters,
    resolve_policy,
    template_parameters,
)
from org_bootstrap.deploy.management import (
    ManagementChoice,
    ManagementError,
    check_protected,
    management_choice,
    management_parameters,
    widens,
)
from org_bootstrap.deploy.member_regions import Coverage, is_active, stackset_coverage
from org_bootstrap.deploy.observed import Observed, StackSetState, StackState
from org_bootstrap.deploy.regions import home_region_problem
from org_bootstrap.deploy.rights import Order, RightsChange, rights_change
from org_bootstrap.deploy.snapstart import digest_for, snapstart_parameter

EVENT_BUS_NAME = "access-key-remediation"
# Stack instances that an update of the StackSet deploys again (DetailedStatus, or Status OUTDATED).
RETRIED_INSTANCE_STATES = frozenset({"FAILED", "CANCELLED", "OUTDATED"})
VERIFY = "VerifyExemptions"
AUDIT_WRITERS = "AuditWriterRoleArns"
"""The parameter that came with the audit table's resource policy: a stack without it has none."""


class PlanError(Exception):
    """The deployment cannot go ahead; nothing has been changed."""


class Change(StrEnum):
    NONE = "none"
    CREATE = "create"
    UPDATE = "update"
    RECREATE = "recreate"
    """A stack that failed its first creation: delete it, then create it again."""
    DELETE = "delete"
    """The management account's stack under --management-account off."""


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
    """Parameters the stack has and the new template declares that akr does not set (NotificationEmail, ...):
    sent with UsePreviousValue, or CloudFormation would reset them to the template's defaults."""

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
    bucket_repairs: tuple[str, ...] = ()
    """What the existing code bucket lacks, in words (bucket_policy.bucket_repairs)."""
    code_writers: tuple[str, ...] = ()
    """The principals the code bucket's policy lets write objects."""
    bucket_policy: str = ""
    """The bucket policy akr puts in place (JSON), when bucket_policy_changes says it changes."""
    bucket_policy_changes: tuple[str, ...] = ()
    """What that changes in the deployed policy, in words; () when it stays as it is."""
    upload_code: bool
    central: Change
    stackset: Change
    missing_instances: tuple[str, ...]
    """ACTIVE target accounts without a stack instance yet (in the home region)."""
    coverage: Coverage = Coverage()  # the StackSet's regions, with and without instances
    skipped_accounts: tuple[str, ...] = ()
    """Target accounts that are not ACTIVE (suspended, closing): StackSets skip them, and so does the plan."""
    retried_instances: tuple[str, ...] = ()
    """Accounts whose failed or outdated stack instance the StackSet update deploys again."""
    management: Change | None
    """None when the command does not run in the management account and cannot reach it."""
    management_choice: ManagementChoice
    management_parameters: dict[str, str] = {}
    """The management account's stack (the member template): the member parameters in its mode."""
    management_first: bool = False
    """The management account's stack gains a key action: it is updated before the central stack."""
    central_diff: StackDiff = StackDiff()
    stackset_diff: StackDiff = StackDiff()
    management_diff: StackDiff = StackDiff()
    rights: RightsChange | None = None
    """How the member role's key actions change with the mode (None: they do not), which sets the order of
    the central and the member updates."""
    reserving: int = 0
    """Reserved concurrent executions the central stack takes from the security account's unreserved
    pool on top of what it holds now (negative: gives back)."""

    @property
    def order(self) -> Order:
        return self.rights.order if self.rights else Order.CENTRAL_FIRST

    @property
    def changes_nothing(self) -> bool:
        return (
            not (self.enable_trusted_access or self.create_bucket or self.upload_code)
            and not (self.bucket_repairs or self.bucket_policy_changes)
            and self.central is Change.NONE
            and self.stackset is Change.NONE
            and not (self.missing_instances or self.coverage.added)
            and self.management in (Change.NONE, None)
        )


def plan_deploy(
    deployment: Deployment,
    observed: Observed,
    *,
    code_key: str,
    code_sha256: str,
    central_template: str,
    member_template: str,
) -> Plan:
    """`code_sha256`: the package's SHA-256 as Lambda reports it (base64), checked after the update."""
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
    deployed_policy = observed.bucket.policy if observed.bucket_exists else ""
    try:
        writers = code_writers(deployment, observed)
        bucket_policy = desired_policy(deployed_policy, deployment.code_bucket, observed.partition, writers)
        policy_change = policy_changes(deployed_policy, deployment.code_bucket, observed.partition, writers)
    except BucketPolicyError as exc:
        raise PlanError(f"{exc}: correct it or delete it, then run akr deploy again") from exc
    policy = _policy(deployment, observed)
    organization_id = observed.organization_id
    choice = management_choice(deployment, observed)
    try:
        check_protected(choice, deployment, policy)
    except ManagementError as exc:
        raise PlanError(str(exc)) from exc
    central = central_parameters(
        deployment,
        policy,
        organization_id=organization_id,
        code_key=code_key,
        code_sha256=code_sha256,
        code_version=observed.code_version if observed.code_uploaded else "",
        partition=observed.partition,
        verify_exemptions=verifies_exemptions(observed),
        management_account=observed.management_account,
        management_mode=choice.mode,
    )
    deployed = observed.central_stack
    central.update(
        {
            **signing_parameters(observed.signing_profile, deployed, code_key),
            **snapstart_parameter(deployment.snapstart),
        }
    )
    central[SETTINGS_DIGEST] = digest_for(
        deployed.parameters if deployed else None, central_template, central
    )
    member = member_parameters(deployment, policy, organization_id=organization_id, bus_arn=bus_arn)
    management = management_parameters(choice, member)
    instances = observed.stackset.instances if observed.stackset else ()
    coverage = stackset_coverage(deployment.home_region, observed)
    retried = tuple(sorted({i.account_id for i in instances if i.status in RETRIED_INSTANCE_STATES}))
    central_change = _stack_change(observed.central_stack, central_template, central)
    stackset_change = _stackset_change(observed.stackset, member_template, member, retried)
    management_change = _management_change(observed, choice, member_template, management)
    deployed_management = observed.management_stack
    holds = 0 if deployed is None or deployed.failed_terminally else reserved_by(deployed.parameters)
    kept = deployed.parameters if deployed else {}
    members = observed.stackset or observed.management_stack
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
        bucket_repairs=bucket_repairs(observed.bucket) if observed.bucket_exists else (),
        code_writers=writers,
        bucket_policy=bucket_policy,
        bucket_policy_changes=tuple(policy_change),
        upload_code=not observed.code_uploaded,
        central=central_change,
        stackset=stackset_change,
        missing_instances=coverage.missing,
        coverage=coverage,
        skipped_accounts=tuple(a for a in observed.target_accounts if not is_active(observed, a)),
        retried_instances=retried,
        management=management_change,
        management_choice=choice,
        management_parameters=management,
        # In enforce before and after, the management account's stack follows the members' order.
        management_first=management_change is Change.UPDATE
        and choice.deployed is not ManagementAccount.ENFORCE
        and widens(deployed_management.parameters if deployed_management else None, management),
        central_diff=_diff(central_change, observed.central_stack, central_template, central),
        stackset_diff=_diff(stackset_change, observed.stackset, member_template, member),
        management_diff=_diff(management_change, observed.management_stack, member_template, management),
        rights=rights_change(members.parameters if members else None, policy.mode),
        reserving=reserved_by({**kept, **central}) - holds,
    )


def code_writers(deployment: Deployment, observed: Observed) -> tuple[str, ...]:
    """--code-writer-arn, else the writers the deployed bucket policy names, else the deploy's own principal;
    refused unless the deploy's own principal is among them (the policy would deny it its own upload)."""
    writer, exact = observed.code_writer, observed.code_writer_exact
    given = tuple(sorted(set(deployment.code_writer_arns)))
    deployed = deployed_writers(observed.bucket.policy) if observed.bucket_exists else ()
    writers = given or deployed or ((writer,) if exact else ())
    if not writers:
        raise PlanError(
            f"cannot read the path of role {writer} (iam:GetRole was denied), and the code bucket's policy "
            "must name it exactly: give its full ARN with --code-writer-arn"
        )
    if not any(same_principal(listed, writer, exact=exact) for listed in writers):
        source = "--code-writer-arn" if given else "the code bucket's policy"
        raise PlanError(
            f"akr deploy writes the code bucket's objects as {writer}, which {source} does not list "
            f"({', '.join(writers)}): the bucket policy would deny the deploy its own upload; give "
            f"--code-writer-arn for every principal that may write the code, {writer} among them"
        )
    return writers


def verifies_exemptions(observed: Observed) -> bool:
    """On for a new deployment and once every exemption in force has its exempt-add record; never turned
    off again (an exemption written since without one is what verification exists to ignore)."""
    deployed = observed.central_stack
    if deployed is None or deployed.parameters.get(VERIFY) == "true":
        return True
    return not observed.unlinked_exemptions


def bus_arn_of(deployment: Deployment, partition: str) -> str:
    region, security = deployment.home_region, deployment.security_account_id
    return f"arn:{partition}:events:{region}:{security}:event-bus/{EVENT_BUS_NAME}"


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


def _management_change(
    observed: Observed, choice: ManagementChoice, template: str, parameters: dict[str, str]
) -> Change | None:
    """None when the command cannot reach the management account (a delegated administrator)."""
    if not observed.is_management:
        return None
    if choice.mode is ManagementAccount.OFF:
        return Change.NONE if observed.management_stack is None else Change.DELETE
    return _stack_change(observed.management_stack, template, parameters)


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
