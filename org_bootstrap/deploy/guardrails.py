"""The optional guardrail SCP (stacksets/guardrails-scp.json): what is in place, what `akr deploy
--attach-guardrails` changes, and how `akr destroy` takes it away.

The SCP denies every principal of the member accounts but the StackSet execution role any change to the
member role, the forwarder role, the forwarding rule, the member stack and that execution role itself.
SCPs never apply to the management account, so its own member stack stays as unprotected as before:
https://docs.aws.amazon.com/organizations/latest/userguide/orgs_manage_policies_scps.html

akr recognises the policy it created by name and by its owner tag, and never changes or deletes a policy
that lacks the tag (someone else's policy that happens to have the name)."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Final, Literal

from botocore.exceptions import BotoCoreError, ClientError
from pydantic import BaseModel, ConfigDict

from org_bootstrap.aws import CliError, describe
from org_bootstrap.deploy.deployment import TEMPLATES
from org_bootstrap.deploy.stacks import Progress

if TYPE_CHECKING:
    from mypy_boto3_organizations import OrganizationsClient

POLICY_FILE = TEMPLATES / "guardrails-scp.json"
POLICY_NAME = "access-key-remediation-guardrails"
POLICY_DESCRIPTION = (
    "access-key-remediation: only the StackSet execution role may change the member role, the forwarder, "
    "the forwarding rule and the member stack"
)
OWNER_TAG = {"Key": "managed-by", "Value": "access-key-remediation"}
SCP: Final[Literal["SERVICE_CONTROL_POLICY"]] = "SERVICE_CONTROL_POLICY"
MAX_SCP_CHARACTERS = 5120
"""The size limit of an SCP document, white space included:
https://docs.aws.amazon.com/organizations/latest/userguide/orgs_reference_limits.html"""


class GuardrailsError(CliError):
    """The guardrails cannot be put in place or taken away; what was done before stays done."""


def policy_content() -> str:
    """The SCP as akr sends it: the file without its white space (the limit counts every character)."""
    return json.dumps(json.loads(POLICY_FILE.read_text()), separators=(",", ":"), sort_keys=True)


class GuardrailsState(BaseModel):
    """What the organization has: the SCP policy type on the root, and a policy of akr's name."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    scp_enabled: bool
    policy_id: str = ""
    """"" when no policy has akr's name."""
    ours: bool = False
    """The policy of that name carries akr's owner tag."""
    content: str = ""
    attached_to: tuple[str, ...] = ()


class GuardrailsPlan(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    asked: bool
    """--attach-guardrails was given."""
    enable_scp: bool = False
    create: bool = False
    update: bool = False
    attach: tuple[str, ...] = ()
    attached: tuple[str, ...] = ()
    """Targets the policy is attached to already (and stays attached to)."""
    elsewhere: tuple[str, ...] = ()
    """Roots, OUs or accounts the policy is attached to that are not targets now: left as they are."""
    root_id: str = ""

    @property
    def changes_nothing(self) -> bool:
        return not (self.enable_scp or self.create or self.update or self.attach)

    def lines(self) -> list[str]:
        """The plan in words."""
        lines: list[str] = []
        if not self.asked:
            if self.attached or self.elsewhere:
                where = ", ".join((*self.attached, *self.elsewhere))
                lines.append(
                    f"The guardrail SCP {POLICY_NAME} stays attached to {where} (unchanged; akr destroy "
                    "detaches and deletes it)"
                )
            return lines
        if self.enable_scp:
            lines.append(
                f"Would enable service control policies on root {self.root_id}: AWS attaches FullAWSAccess "
                "to the root and to every OU and account, which denies nothing that is allowed now"
            )
        if self.create:
            lines.append(
                f"Would create the guardrail SCP {POLICY_NAME} (stacksets/guardrails-scp.json): only the "
                "StackSet execution role may change the member role, the forwarder role, the forwarding "
                "rule and the member stack in the member accounts"
            )
        elif self.update:
            lines.append(f"Would update the guardrail SCP {POLICY_NAME} to stacksets/guardrails-scp.json")
        if self.attach:
            lines.append(
                f"Would attach the guardrail SCP to {', '.join(self.attach)}: member-account administrators "
                "can no longer edit or delete those resources (the management account is not affected: "
                "SCPs do not apply there)"
            )
        if self.attached:
            changed = " (its new content applies at once)" if self.update else " (unchanged)"
            lines.append(f"The guardrail SCP stays attached to {', '.join(self.attached)}{changed}")
        if self.elsewhere:
            lines.append(
                f"The guardrail SCP is also attached to {', '.join(self.elsewhere)}, not a target now: left "
                "as it is"
            )
        return lines


def read_guardrails(organizations: OrganizationsClient, root_id: str) -> GuardrailsState:
    """Read-only."""
    try:
        root = next(
            r
            for page in organizations.get_paginator("list_roots").paginate()
            for r in page["Roots"]
            if r["Id"] == root_id
        )
        enabled = any(t["Type"] == SCP and t["Status"] == "ENABLED" for t in root.get("PolicyTypes", []))
        policy_id = next(
            (
                p["Id"]
                for page in organizations.get_paginator("list_policies").paginate(Filter=SCP)
                for p in page["Policies"]
                if p["Name"] == POLICY_NAME and not p.get("AwsManaged", False)
            ),
            "",
        )
        if not policy_id:
            return GuardrailsState(scp_enabled=enabled)
        tags = [
            tag
            for page in organizations.get_paginator("list_tags_for_resource").paginate(ResourceId=policy_id)
            for tag in page["Tags"]
        ]
        content = organizations.describe_policy(PolicyId=policy_id)["Policy"].get("Content", "")
        targets = tuple(
            t["TargetId"]
            for page in organizations.get_paginator("list_targets_for_policy").paginate(PolicyId=policy_id)
            for t in page["Targets"]
        )
    except (ClientError, BotoCoreError) as exc:
        raise GuardrailsError(f"cannot read the service control policies: {describe(exc)}") from exc
    return GuardrailsState(
        scp_enabled=enabled,
        policy_id=policy_id,
        ours=OWNER_TAG in tags,
        content=content,
        attached_to=targets,
    )


def plan_guardrails(
    state: GuardrailsState, *, asked: bool, targets: tuple[str, ...], root_id: str
) -> GuardrailsPlan:
    if state.policy_id and not state.ours:
        raise GuardrailsError(
            f"an SCP named {POLICY_NAME} ({state.policy_id}) exists without the tag "
            f"{OWNER_TAG['Key']}={OWNER_TAG['Value']}: akr did not create it and will not change it; rename "
            "it, or tag it if it is akr's"
        )
    attached = tuple(t for t in targets if t in state.attached_to)
    elsewhere = tuple(t for t in state.attached_to if t not in targets)
    if not asked:
        return GuardrailsPlan(asked=False, attached=attached, elsewhere=elsewhere, root_id=root_id)
    same = bool(state.content) and json.loads(state.content) == json.loads(policy_content())
    return GuardrailsPlan(
        asked=True,
        enable_scp=not state.scp_enabled,
        create=not state.policy_id,
        update=bool(state.policy_id) and not same,
        attach=tuple(t for t in targets if t not in state.attached_to),
        attached=attached,
        elsewhere=elsewhere,
        root_id=root_id,
    )


def apply_guardrails(
    organizations: OrganizationsClient, plan: GuardrailsPlan, state: GuardrailsState, progress: Progress
) -> str:
    """Enable SCPs (when off), create or update the policy, attach it where it is not. The policy's id."""
    policy_id = state.policy_id
    try:
        if plan.enable_scp:
            # Asynchronous: AWS advises reading ListRoots first, which read_guardrails did.
            # https://docs.aws.amazon.com/organizations/latest/APIReference/API_EnablePolicyType.html
            progress(f"enabling service control policies on {plan.root_id}")
            organizations.enable_policy_type(RootId=plan.root_id, PolicyType=SCP)
        if plan.create:
            progress(f"creating the SCP {POLICY_NAME}")
            policy_id = organizations.create_policy(
                Content=policy_content(),
                Description=POLICY_DESCRIPTION,
                Name=POLICY_NAME,
                Type=SCP,
                Tags=[{"Key": OWNER_TAG["Key"], "Value": OWNER_TAG["Value"]}],
            )["Policy"]["PolicySummary"]["Id"]
        elif plan.update:
            progress(f"updating the SCP {POLICY_NAME}")
            organizations.update_policy(PolicyId=policy_id, Content=policy_content())
        for target in plan.attach:
            progress(f"attaching the SCP {POLICY_NAME} to {target}")
            organizations.attach_policy(PolicyId=policy_id, TargetId=target)
    except (ClientError, BotoCoreError) as exc:
        raise GuardrailsError(f"cannot put the guardrail SCP in place: {describe(exc)}") from exc
    return policy_id


def remove_guardrails(organizations: OrganizationsClient, state: GuardrailsState, progress: Progress) -> None:
    """Detach akr's policy from everything it is attached to, then delete it. Never a policy without
    akr's tag; the SCP policy type stays enabled (other policies may rely on it)."""
    if not (state.policy_id and state.ours):
        return
    try:
        for target in state.attached_to:
            progress(f"detaching the SCP {POLICY_NAME} from {target}")
            organizations.detach_policy(PolicyId=state.policy_id, TargetId=target)
        progress(f"deleting the SCP {POLICY_NAME}")
        organizations.delete_policy(PolicyId=state.policy_id)
    except (ClientError, BotoCoreError) as exc:
        raise GuardrailsError(f"cannot remove the guardrail SCP {state.policy_id}: {describe(exc)}") from exc
