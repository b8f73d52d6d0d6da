"""The destroy plan: a pure function of (the deployment's names, what akr has deployed, the operator's
choices). It undoes a deploy in the reverse order, and keeps the audit log unless asked otherwise.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict

from org_bootstrap.deploy.deployment import Deployment
from org_bootstrap.deploy.footprint import Footprint, require_administrator
from org_bootstrap.deploy.guardrails_plan import POLICY_NAME, GuardrailsState
from org_bootstrap.deploy.plan import PlanError


class DestroyPlan(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    call_as: str
    targets: tuple[str, ...]
    """Root or OU ids the stack instances are deleted by (service-managed StackSets take no accounts)."""
    regions: tuple[str, ...]
    instance_accounts: tuple[str, ...]
    """Accounts that have a stack instance now."""
    stackset: bool
    management_stack: bool | None
    """None when the command does not run in the management account and cannot see that stack."""
    central_stack: bool
    bucket: bool
    audit_table: str | None
    """The audit table to delete (only with --delete-audit-log)."""
    retained_audit_tables: tuple[str, ...]
    guardrails: GuardrailsState | None = None
    """akr's guardrail SCP, to detach and delete; None when there is none (or it is not akr's)."""
    foreign_guardrails: str = ""
    """The id of a policy with akr's SCP name but without its tag: left alone."""
    guardrails_unread: str = ""
    """Why the SCPs could not be read (from the management account): the plan says to look by hand."""

    @property
    def deletes_nothing(self) -> bool:
        return not (
            self.guardrails
            or self.instance_accounts
            or self.stackset
            or self.management_stack
            or self.central_stack
            or self.bucket
            or self.audit_table
        )


def plan_destroy(
    deployment: Deployment,
    footprint: Footprint,
    *,
    delete_audit_log: bool,
    guardrails: GuardrailsState | None = None,
    guardrails_unread: str = "",
) -> DestroyPlan:
    """`guardrails`: the SCPs as the management account sees them (None from anywhere else);
    `guardrails_unread`: why they could not be read."""
    require_administrator(footprint, "destroy", deployment.security_account_id)
    stackset = footprint.stackset
    instances = stackset.instances if stackset else ()
    tables = tuple(t.name for t in footprint.audit_tables)
    if delete_audit_log and len(tables) > 1:
        raise PlanError(
            f"several audit tables match: {', '.join(tables)}; delete the one you mean with "
            "aws dynamodb delete-table, or keep them all (leave out --delete-audit-log)"
        )
    audit_table = tables[0] if delete_audit_log and tables else None
    return DestroyPlan(
        call_as=footprint.call_as,
        targets=deployment.targets or (footprint.root_id,),
        regions=tuple(sorted({i.region for i in instances})) or (deployment.home_region,),
        instance_accounts=tuple(sorted({i.account_id for i in instances})),
        stackset=stackset is not None,
        management_stack=(footprint.management_stack is not None) if footprint.is_management else None,
        central_stack=footprint.central_stack is not None,
        bucket=footprint.bucket_exists,
        audit_table=audit_table,
        retained_audit_tables=tuple(t for t in tables if t != audit_table),
        guardrails=guardrails if guardrails and guardrails.policy_id and guardrails.ours else None,
        foreign_guardrails=guardrails.policy_id if guardrails and not guardrails.ours else "",
        guardrails_unread=guardrails_unread,
    )


def describe_destroy(plan: DestroyPlan, deployment: Deployment, footprint: Footprint) -> list[str]:
    """The plan as "Would ..." lines, in the order destroy carries it out."""
    security = deployment.security_account_id
    lines = []
    if plan.guardrails:
        where = ", ".join(plan.guardrails.attached_to) or "nothing"
        lines.append(
            f"Would detach the guardrail SCP {POLICY_NAME} ({plan.guardrails.policy_id}) from {where} and "
            "delete it (service control policies stay enabled on the root)"
        )
    if plan.guardrails_unread:
        lines.append(
            f"Would leave the guardrail SCP {POLICY_NAME}, if there is one: {plan.guardrails_unread}; "
            "detach and delete it by hand (aws organizations detach-policy, delete-policy)"
        )
    if plan.foreign_guardrails:
        lines.append(
            f"Would leave the SCP {POLICY_NAME} ({plan.foreign_guardrails}) alone: it lacks akr's tag, so "
            "akr did not create it"
        )
    if plan.instance_accounts:
        lines.append(
            f"Would delete the stack instances of StackSet {deployment.stackset_name} in "
            f"{len(plan.instance_accounts)} account(s): {', '.join(plan.instance_accounts)} "
            f"(targets {', '.join(plan.targets)}; {', '.join(plan.regions)}; stacks not retained)"
        )
    if plan.stackset:
        lines.append(f"Would delete StackSet {deployment.stackset_name}")
    management = f"the management account {footprint.management_account}"
    if plan.management_stack is None:
        lines.append(
            f"Cannot see {management} from here: delete stack {deployment.management_stack_name} "
            "there yourself"
        )
    elif plan.management_stack:
        lines.append(f"Would delete stack {deployment.management_stack_name} in {management}")
    if plan.central_stack:
        lines.append(f"Would delete stack {deployment.central_stack_name} in the security account {security}")
        lines.append(
            "Would keep the central stack's state table (exemptions), log group and KMS key "
            "(the template retains them)"
        )
    if plan.bucket:
        lines.append(f"Would empty and delete bucket s3://{deployment.code_bucket} in the security account")
    if plan.audit_table:
        lines.append(
            f"Would turn off deletion protection on the audit table {plan.audit_table} in the security "
            f"account {security} and delete it, with every audit record in it"
        )
    lines += [
        f"Would keep the audit table {name} (the template retains it; --delete-audit-log deletes it)"
        for name in plan.retained_audit_tables
    ]
    if plan.deletes_nothing:
        lines.append("Nothing to delete: akr is not deployed in this organization")
    return lines
