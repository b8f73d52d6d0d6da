"""Reading and changing the guardrail SCP in AWS Organizations, from the management account: what `akr
deploy --attach-guardrails` and `akr destroy` do with it. The plan is org_bootstrap.deploy.guardrails_plan."""

from __future__ import annotations

import time
from typing import TYPE_CHECKING

from botocore.exceptions import BotoCoreError, ClientError

from org_bootstrap.aws import CliError, describe
from org_bootstrap.deploy.guardrails_plan import (
    OWNER_TAG,
    POLICY_DESCRIPTION,
    POLICY_NAME,
    SCP,
    GuardrailsPlan,
    GuardrailsState,
    policy_content,
)
from org_bootstrap.deploy.stacks import POLL_SECONDS, Progress

if TYPE_CHECKING:
    from mypy_boto3_organizations import OrganizationsClient

ENABLE_ATTEMPTS = 60


class GuardrailsError(CliError):
    """The SCPs cannot be read, or the guardrail SCP cannot be put in place or taken away; what was done
    before stays done."""


def read_guardrails(organizations: OrganizationsClient, root_id: str) -> GuardrailsState:
    """Read-only."""
    try:
        enabled = _scp_enabled(organizations, root_id)
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


def apply_guardrails(
    organizations: OrganizationsClient,
    plan: GuardrailsPlan,
    state: GuardrailsState,
    progress: Progress,
    *,
    poll_seconds: float = POLL_SECONDS,
) -> str:
    """Enable SCPs (when off), create or update the policy, attach it where it is not. The policy's id."""
    policy_id = state.policy_id
    try:
        if plan.enable_scp:
            # Asynchronous: AWS advises reading ListRoots first, which read_guardrails did. AWS then attaches
            # the default FullAWSAccess SCP to every root, OU and account, so nothing allowed is denied:
            # https://docs.aws.amazon.com/organizations/latest/APIReference/API_EnablePolicyType.html
            # https://docs.aws.amazon.com/organizations/latest/APIReference/API_AttachPolicy.html
            progress(f"enabling service control policies on {plan.root_id}")
            organizations.enable_policy_type(RootId=plan.root_id, PolicyType=SCP)
            _wait_enabled(organizations, plan.root_id, poll_seconds)
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
        raise GuardrailsError(
            f"the stacks are deployed, but the guardrail SCP is not in place: {describe(exc)}; run akr "
            "deploy --attach-guardrails again"
        ) from exc
    return policy_id


def _wait_enabled(organizations: OrganizationsClient, root_id: str, poll_seconds: float) -> None:
    """Until ListRoots shows SCPs enabled on the root: an attach before that is refused."""
    for _ in range(ENABLE_ATTEMPTS):
        if _scp_enabled(organizations, root_id):
            return
        time.sleep(poll_seconds)
    raise GuardrailsError(
        f"service control policies are still not enabled on {root_id} after "
        f"{ENABLE_ATTEMPTS * poll_seconds:g} seconds: run akr deploy --attach-guardrails again"
    )


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


def _scp_enabled(organizations: OrganizationsClient, root_id: str) -> bool:
    """Whether ListRoots shows the SCP policy type enabled on the root (False for a root it does not list)."""
    roots = (r for page in organizations.get_paginator("list_roots").paginate() for r in page["Roots"])
    types = next((r.get("PolicyTypes", []) for r in roots if r["Id"] == root_id), [])
    return any(t["Type"] == SCP and t["Status"] == "ENABLED" for t in types)
