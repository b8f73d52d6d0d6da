"""The IAM and Config permissions the remediator uses in a member account, declared next to their purpose.

The member role in stacksets/member.yaml must grant exactly the union of these, and an integration test
checks that the adapters call nothing else. Pure data: no boto3.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from remediator.decision import Action


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


def member_role_permissions() -> frozenset[Permission]:
    """Everything the member role must grant: the reads plus what every mutating action declares."""
    granted = set(READS)
    for needed in ACTIONS.values():
        granted.update(needed)
    return frozenset(granted)
