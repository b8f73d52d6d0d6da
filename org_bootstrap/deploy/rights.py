"""What a change of mode does to the member role's rights, and the order that keeps it safe. Pure.

The member role holds the key actions of the deployed mode only (remediator/permissions.py). The central
stack's mode decides what the remediator tries; the member stacks' mode what it may do. Between the two
updates one of them is ahead, so the order is chosen for the remediator never to hold a right its mode
does not need for longer than the update takes, and never to try an action its role does not yet hold:

- narrowing (the new rights are fewer): the central stack first, so that the remediator stops using a
  right before the member stacks take it away;
- widening (more): the member stacks first, so that every account holds the right before the remediator
  starts using it;
- trading one right for another (deactivate <-> delete): the member stacks first with both (the staged
  mode's rights), then the central stack, then the member stacks with the new mode's rights alone.
"""

from __future__ import annotations

from collections.abc import Mapping
from enum import StrEnum

from pydantic import BaseModel, ConfigDict

from remediator.permissions import member_rights
from remediator.policy import Mode

BOTH_RIGHTS_MODE = Mode.STAGED
"""The mode whose member role holds every key action: the step between two modes that trade rights."""


class Order(StrEnum):
    CENTRAL_FIRST = "central-first"
    MEMBERS_FIRST = "members-first"
    MEMBERS_WIDENED_FIRST = "members-widened-first"
    """The member stacks get BOTH_RIGHTS_MODE's rights, then the central stack, then the member stacks."""


class RightsChange(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    mode: Mode
    held: frozenset[str]
    """The key actions the deployed member role holds."""
    granted: frozenset[str]
    """The key actions the new mode's member role holds."""
    unmoded: bool = False
    """The deployed member stacks come from a template without the Mode parameter (every key action)."""

    @property
    def gained(self) -> frozenset[str]:
        return self.granted - self.held

    @property
    def lost(self) -> frozenset[str]:
        return self.held - self.granted

    @property
    def order(self) -> Order:
        if self.gained and self.lost:
            return Order.MEMBERS_WIDENED_FIRST
        return Order.MEMBERS_FIRST if self.gained else Order.CENTRAL_FIRST


def rights_change(deployed: Mapping[str, str] | None, mode: Mode) -> RightsChange | None:
    """The change from the deployed member stacks' parameters (None: none deployed) to `mode`; None when
    the rights stay the same."""
    if deployed is None:
        return None
    value = deployed.get("Mode")
    held = member_rights(Mode(value) if value in set(Mode) else None)
    change = RightsChange(mode=mode, held=held, granted=member_rights(mode), unmoded=value is None)
    return change if change.gained or change.lost else None


def describe_rights(change: RightsChange) -> str:
    """The plan's line for the change, in words."""
    before = (
        "holds every key action (its template predates the member Mode parameter)"
        if change.unmoded
        else "holds " + (_named(change.held) or "no key action")
    )
    now = f"mode {change.mode.value} needs " + (_named(change.granted) or "no key action")
    if change.order is Order.MEMBERS_WIDENED_FIRST:
        how = (
            f"the member stacks first get both ({BOTH_RIGHTS_MODE.value}), then the central stack changes "
            f"mode, then the member stacks remove {_named(change.lost)}"
        )
    elif change.order is Order.MEMBERS_FIRST:
        how = f"the member stacks add {_named(change.gained)} before the central stack is updated"
    else:
        how = f"the central stack is updated first, then the member stacks remove {_named(change.lost)}"
    return f"The member role in every account {before}; {now}: {how}"


def _named(actions: frozenset[str]) -> str:
    return " and ".join(sorted(actions))
