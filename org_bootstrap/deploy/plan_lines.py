"""The plan in words: its "Would ..." lines in the order the deploy carries them out, what an update changes
for a deployment made by an earlier akr, and the lines that need the operator's attention most. Pure."""

from __future__ import annotations

from org_bootstrap.deploy.bucket_policy import deployed_writers
from org_bootstrap.deploy.code_signing import CODE, PROFILE_PARAMETER, signing_lines, signing_warnings
from org_bootstrap.deploy.deployment import (
    FORWARDER_ROLE_NAME,
    SETTINGS_DIGEST,
    Deployment,
    ManagementAccount,
)
from org_bootstrap.deploy.management import describe_management
from org_bootstrap.deploy.observed import Observed
from org_bootstrap.deploy.plan import AUDIT_WRITERS, VERIFY, Change, ParameterChange, Plan, StackDiff
from org_bootstrap.deploy.rights import BOTH_RIGHTS_MODE, Order, describe_rights
from org_bootstrap.deploy.safeguards import cap_notes, cap_warnings
from org_bootstrap.deploy.snapstart import SNAPSTART, SNAPSTART_OFF, SNAPSTART_ON
from remediator.policy import Mode

# How the central template named the remediator's log group before the name carried the stack id.
OLD_LOG_GROUP_NAME = "LogGroupName: !Sub /aws/lambda/${AWS::StackName}-remediator\n"
# The central template since its bus admits only the forwarder roles, by name.
FORWARDER_ROLE_PARAMETER = "ForwarderRoleName:"
NOTHING_TO_CHANGE = "Nothing to change: the organization is up to date"
# The central template since the remediator reads an account's exemptions and lifecycles in one statement.
STATE_SELECT = "dynamodb:PartiQLSelect"
# How much a mode does to a violating key, least first: a change up this list gets a warning in the plan.
MODE_SEVERITY = {Mode.REPORT: 0, Mode.DEACTIVATE: 1, Mode.STAGED: 2, Mode.DELETE: 3}


def describe(plan: Plan, deployment: Deployment, observed: Observed) -> list[str]:
    """The plan as "Would ..." lines, in the order the deploy carries it out."""
    security = deployment.security_account_id
    lines = []
    if plan.enable_trusted_access:
        lines.append("Would enable trusted access between CloudFormation StackSets and AWS Organizations")
    bucket = f"s3://{deployment.code_bucket}"
    if plan.create_bucket:
        lines.append(f"Would create bucket {bucket} in the security account {security}")
    if plan.bucket_repairs:
        lines.append(
            f"Would repair the existing bucket {bucket} (owned by the security account): "
            f"{', '.join(plan.bucket_repairs)}"
        )
    if plan.bucket_policy_changes:
        verb = "set" if plan.create_bucket or not observed.bucket.policy else "update"
        lines.append(f"Would {verb} the policy of bucket {bucket}: {'; '.join(plan.bucket_policy_changes)}")
    if plan.upload_code:
        lines.append(f"Would upload the remediator code to s3://{deployment.code_bucket}/{plan.code_key}")
    lines += signing_lines(plan.central_parameters, observed.signing_profile, deployment.code_bucket)
    central = _stack_lines(
        plan.central,
        f"stack {deployment.central_stack_name}",
        f"the security account {security}",
        plan.central_diff,
    )
    members = _member_lines(plan, deployment, observed)
    if plan.management_first:
        # The management account's role gains a key action before the remediator may use it there.
        management = _management_lines(plan, deployment, observed)
        lines += management
        members = [line for line in members if line not in management]
    if plan.order is Order.CENTRAL_FIRST:
        lines += central + members
    elif plan.order is Order.MEMBERS_FIRST:
        lines += members + central
    else:
        lines.append(
            f"Would first update StackSet {deployment.stackset_name}"
            + (f" and stack {deployment.management_stack_name}" if _follows_members(plan) else "")
            + f" with Mode {BOTH_RIGHTS_MODE.value}, for the member role to hold both key actions meanwhile"
        )
        lines += central + members
    if plan.rights:
        lines.append(describe_rights(plan.rights))
    lines += describe_management(plan.management_choice, observed.management_account, plan.policy)
    lines += upgrade_notes(plan, deployment, observed)
    lines += snapstart_lines(plan)
    if plan.central_parameters[VERIFY] == "false":
        unlinked = observed.unlinked_exemptions
        lines.append(
            f"Exemption verification stays off: {len(unlinked)} exemption(s) in force have no exempt-add "
            f"audit record ({', '.join(unlinked)}); link them with akr exempt relink, then deploy again"
        )
    lines += warnings(plan)
    if plan.changes_nothing:
        lines.append(NOTHING_TO_CHANGE)
    return lines


def _member_lines(plan: Plan, deployment: Deployment, observed: Observed) -> list[str]:
    """The StackSet's lines and the management account's stack: the member stacks."""
    lines = []
    region = deployment.home_region
    if plan.stackset is not Change.NONE:
        lines.append(
            f"Would {plan.stackset.value} StackSet {deployment.stackset_name} (service-managed, automatic "
            f"deployment) for {', '.join(plan.targets)} in {', '.join(plan.coverage.regions or (region,))}"
            f"{_details(plan.stackset_diff)}"
        )
    if plan.coverage.added:
        lines.append(
            f"Would add the member stack in {', '.join(plan.coverage.added)} to every account: there it "
            "holds only the rule that forwards keys made active by the member role or akr-* sessions to the "
            "central bus (IAM's CloudTrail events reach EventBridge in us-east-1 only), for the "
            "reactivation alarm"
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
    return lines + _management_lines(plan, deployment, observed)


def _follows_members(plan: Plan) -> bool:
    """The management account's stack takes the interim step with the StackSet (enforce only)."""
    enforced = plan.management_choice.mode is ManagementAccount.ENFORCE
    return enforced and plan.management is Change.UPDATE and not plan.management_first


def _management_lines(plan: Plan, deployment: Deployment, observed: Observed) -> list[str]:
    lines: list[str] = []
    mode = plan.management_choice.mode
    if plan.management is None:
        if mode is not ManagementAccount.OFF:
            how = " with Mode report" if mode is ManagementAccount.REPORT else ""
            lines.append(
                f"Cannot reach the management account {observed.management_account} from here: deploy "
                f"stacksets/member.yaml there as a plain stack{how} (StackSets never deploy to it)"
            )
    else:
        lines += _stack_lines(
            plan.management,
            f"stack {deployment.management_stack_name}",
            f"the management account {observed.management_account}",
            plan.management_diff,
        )
    return lines


def upgrade_notes(plan: Plan, deployment: Deployment, observed: Observed) -> list[str]:
    """What an update changes for a deployment made by an earlier akr, in words."""
    notes = _bucket_notes(plan, observed) + cap_notes(plan, observed)
    central = observed.central_stack
    if plan.central is not Change.UPDATE or central is None:
        return notes
    if OLD_LOG_GROUP_NAME in central.template:
        # The groups were named after the stack alone; a retained one then blocked any later create.
        stack = deployment.central_stack_name
        notes.append(
            "The remediator's and the worker's logs move to new log groups, "
            f"/aws/lambda/{stack}-remediator-<id> and -worker-<id> (<id>: the stack id's first part); "
            f"/aws/lambda/{stack}-remediator and -worker are kept, with the logs they hold"
        )
    if FORWARDER_ROLE_PARAMETER not in central.template:
        notes.append(
            "The central bus will admit events only from the member stacks' forwarder roles, which get a "
            f"fixed name ({FORWARDER_ROLE_NAME}): until the StackSet update has replaced an "
            "account's forwarder role, that account's compliance changes are refused at the bus, and the "
            "next sweep covers them"
        )
    if STATE_SELECT not in central.template:
        notes.append(
            "The remediator reads an account's exemptions and key lifecycles in one PartiQL SELECT instead "
            "of two queries: its role trades dynamodb:Query on the state table for dynamodb:PartiQLSelect "
            "(a statement that would scan the table is denied); the table's items stay as they are. An "
            "event handled while the update is under way may fail that read: it is recorded as failed, "
            "nothing is changed, and the next sweep covers it"
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


def snapstart_lines(plan: Plan) -> list[str]:
    """What turning SnapStart on or off changes, when this deploy does (a first deploy: only on)."""
    if plan.central in (Change.CREATE, Change.RECREATE):
        return [SNAPSTART_ON] if plan.central_parameters.get(SNAPSTART) == "true" else []
    change = plan.central_diff.change(SNAPSTART)
    if change is None or plan.central is not Change.UPDATE:
        return []
    return [SNAPSTART_ON if change.new == "true" else SNAPSTART_OFF]


def _bucket_notes(plan: Plan, observed: Observed) -> list[str]:
    """A deployment whose code bucket has no akr policy yet gets one."""
    deployed = observed.central_stack is not None and observed.bucket_exists
    if not deployed or deployed_writers(observed.bucket.policy):
        return []
    return [
        "The code bucket gets a bucket policy: requests without TLS are refused, and only "
        f"{', '.join(plan.code_writers)} may write or delete its objects (the package and the central "
        "template); akr deploy run as another principal must be named with --code-writer-arn"
    ]


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
    signing = plan.central_diff.change(PROFILE_PARAMETER)
    if signing:
        found += signing_warnings(signing.old, signing.new)
    return found + cap_warnings(plan)


def _stack_lines(change: Change, what: str, where: str, diff: StackDiff) -> list[str]:
    if change is Change.NONE:
        return []
    if change is Change.RECREATE:
        return [f"Would delete the failed {what} in {where} and create it again"]
    return [f"Would {change.value} {what} in {where}{_details(diff)}"]


CODE_PARAMETERS = frozenset({*CODE, SETTINGS_DIGEST})
"""Said in words, not as values: the code's key, its version and its hash follow the package; the settings'
digest names the published version."""


def _details(diff: StackDiff) -> str:
    """The suffix ": Mode report -> delete, GraceDays 14 -> 7, new code, new template"; "" when empty."""
    parts = [_change(c) for c in diff.parameters if c.name not in CODE_PARAMETERS]
    if diff.change("CodeKey"):
        parts.append("new code")
    elif diff.change("CodeObjectVersion"):
        parts.append("the code's S3 version pinned")
    digest = diff.change(SETTINGS_DIGEST)
    if digest is not None and digest.new:
        parts.append("a new published version (SnapStart)")
    if diff.new_template:
        parts.append("new template")
    return f": {', '.join(parts)}" if parts else ""


def _change(change: ParameterChange) -> str:
    return f"{change.name} {_shown(change.old)} -> {_shown(change.new)}"


def _shown(value: str | None) -> str:
    if value is None:
        return "(not set)"
    return value or "(none)"


def _state(observed: Observed, account_id: str) -> str:
    account = observed.account(account_id)
    return account.status if account and account.status else "state unknown"
