"""The IAM and Config permissions the remediator uses in a member account, declared next to their purpose.

The member role in stacksets/member.yaml grants, for each mode, exactly `member_role_permissions(mode)`:
the reads, and the key actions that mode can take (tests/stacksets/test_member_template.py, per mode); an
integration test checks that the adapters call nothing else. Pure data: no boto3.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from remediator.decision import Action
from remediator.policy import Mode


class Scope(StrEnum):
    USER = "user"
    """arn:aws:iam::<account>:user/* (IAM accepts a user resource for this action)."""
    ANY = "*"
    """The action takes no resource; IAM requires "*"."""


@dataclass(frozen=True, order=True)
class Permission:
    action: str
    scope: Scope


READS: tuple[Permission, ...] = (
    # Resolve the user from the event's unique id in one call (MemberAccount.resolve_user_name).
    Permission("config:ListDiscoveredResources", Scope.ANY),
    # Fallback resolution and whole-account reconciliation (MemberAccount.users).
    Permission("iam:ListUsers", Scope.ANY),
    # The sweep's account scan: candidates in a few calls (MemberAccount.credential_report).
    Permission("iam:GenerateCredentialReport", Scope.ANY),
    Permission("iam:GetCredentialReport", Scope.ANY),
    # The facts decide() needs (MemberAccount.read_user).
    Permission("iam:ListAccessKeys", Scope.USER),
    Permission("iam:GetAccessKeyLastUsed", Scope.USER),
    Permission("iam:GetUser", Scope.USER),
)

ACTIONS: dict[Action, tuple[Permission, ...]] = {
    Action.DEACTIVATE: (Permission("iam:UpdateAccessKey", Scope.USER),),
    Action.DELETE: (Permission("iam:DeleteAccessKey", Scope.USER),),
    Action.REACTIVATE: (Permission("iam:UpdateAccessKey", Scope.USER),),
}


MODE_ACTIONS: dict[Mode, tuple[Action, ...]] = {
    # Records only: a report-only pilot places a role that can read keys and nothing more.
    Mode.REPORT: (),
    Mode.DEACTIVATE: (Action.DEACTIVATE,),
    # No UpdateAccessKey: it would also let a compromised remediator make active again a key that incident
    # response disabled.
    Mode.DELETE: (Action.DELETE,),
    # Deactivates now; the sweep deletes after the grace period.
    Mode.STAGED: (Action.DEACTIVATE, Action.DELETE),
}
"""The key actions the remediator takes in each mode: what the member role is granted beyond the reads.

REACTIVATE is in no mode: `akr undo` is an operator's action and enters the account through the operator's
--account-role, never through the member role, so the remediator never needs to make a key active."""


def member_role_permissions(mode: Mode | None = None) -> frozenset[Permission]:
    """What the member role grants in `mode`: the reads plus what that mode's actions declare. Without a
    mode, the union over every action (what the remediator's code can call in a member account at all)."""
    granted = set(READS)
    for action in MODE_ACTIONS[mode] if mode else ACTIONS:
        granted.update(ACTIONS[action])
    return frozenset(granted)


def member_rights(mode: Mode | None) -> frozenset[str]:
    """The key actions (IAM action names) the member role holds in `mode`; None: a member stack of a
    template without the Mode parameter, whose role held every key action."""
    return frozenset(p.action for p in member_role_permissions(mode) - set(READS))
