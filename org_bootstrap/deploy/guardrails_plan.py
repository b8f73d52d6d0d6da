"""The guardrail SCP (stacksets/guardrails-scp.json) as data: what the organization has, and what `akr
deploy --attach-guardrails` would change, in words. Pure: org_bootstrap.deploy.guardrails reads and
changes AWS Organizations.

The SCP denies every principal of the member accounts but the StackSet execution role any change to the
member role, the forwarder role, the forwarding rule, the member stack and that execution role itself.
SCPs never apply to the management account, so its own member stack stays as unprotected as before:
https://docs.aws.amazon.com/organizations/latest/userguide/orgs_manage_policies_scps.html

akr recognises the policy it created by name and by its owner tag, and never changes or deletes a policy
that lacks the tag (someone else's policy that happens to have the name)."""

from __future__ import annotations

import json
from typing import Final, Literal

from pydantic import BaseModel, ConfigDict

from org_bootstrap.deploy.deployment import TEMPLATES
from org_bootstrap.deploy.plan import PlanError

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

    @property
    def current(self) -> bool:
        """The policy of akr's name holds what stacksets/guardrails-scp.json says."""
        return bool(self.content) and json.loads(self.content) == json.loads(policy_content())


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


def plan_guardrails(
    state: GuardrailsState, *, asked: bool, targets: tuple[str, ...], root_id: str
) -> GuardrailsPlan:
    if state.policy_id and not state.ours:
        if not asked:
            return GuardrailsPlan(asked=False, root_id=root_id)  # not akr's: nothing to say or do
        raise PlanError(
            f"an SCP named {POLICY_NAME} ({state.policy_id}) exists without the tag "
            f"{OWNER_TAG['Key']}={OWNER_TAG['Value']}: akr did not create it and will not change it; rename "
            "it, or tag it if it is akr's"
        )
    attached = tuple(t for t in targets if t in state.attached_to)
    elsewhere = tuple(t for t in state.attached_to if t not in targets)
    if not asked:
        return GuardrailsPlan(asked=False, attached=attached, elsewhere=elsewhere, root_id=root_id)
    same = state.current
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


def describe_guardrails(state: GuardrailsState) -> str:
    """Where the guardrail SCP stands, in one sentence (akr status)."""
    if not state.policy_id:
        return f"No guardrail SCP {POLICY_NAME}: akr deploy --attach-guardrails attaches one"
    if not state.ours:
        return f"The SCP {POLICY_NAME} ({state.policy_id}) lacks akr's tag: not akr's"
    where = ", ".join(state.attached_to) or "nothing"
    current = state.current
    drifted = (
        "" if current else "; it differs from stacksets/guardrails-scp.json (--attach-guardrails updates it)"
    )
    return f"Guardrail SCP {POLICY_NAME} ({state.policy_id}) attached to {where}{drifted}"
