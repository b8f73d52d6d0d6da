"""The circuit breaker and the emergency stop: what holds a mutation back, and the decision it becomes.

A mutation is counted in the same transaction that writes its intent (remediator.adapters.journal), so a
counted action always has its intent, concurrent runs cannot both take the last slot of a day, and a
retried transaction whose first reply was lost finds its intent and is not counted twice. Past a cap, or
while an operator's pause is in force, the key is decided as `report` for the rest of the day (or until
`akr resume`), and the record names why. Pure: the adapters read and write the items.

Operator actions (`akr undo`) are never held back: an undo is how people recover from a mass action.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from pydantic import BaseModel, ConfigDict

from remediator.decision import Action, Decision
from remediator.errors import RemediatorError

ORGANIZATION = "organization"
"""The scope of the organization-wide counter (an account's counter is named by its id)."""


class Scope(StrEnum):
    PAUSED = "paused"
    ACCOUNT = "account"
    ORGANIZATION = "organization"


class Caps(BaseModel):
    """Mutations allowed per UTC day: per member account, and in the whole organization."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    per_account: int
    per_day: int


class Pause(BaseModel):
    """The emergency stop, as `akr pause` writes it."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    operator: str
    reason: str
    since: datetime
    record_id: str
    """The pause's audit record."""


class Hold(BaseModel):
    """Why a mutation is held back: the pause, or a cap reached today."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    scope: Scope
    reason: str

    @property
    def tripped(self) -> bool:
        """A cap (the circuit breaker), not the operator's pause."""
        return self.scope is not Scope.PAUSED


class HeldBackError(RemediatorError):
    """The journal refused to begin a mutation: the pause or a cap. Nothing was written."""

    def __init__(self, hold: Hold) -> None:
        super().__init__(hold.reason)
        self.hold = hold


def paused(pause: Pause | None) -> Hold:
    if pause is None:
        # The flag was there when the transaction was checked, and gone when its content was read.
        return Hold(scope=Scope.PAUSED, reason="paused (akr pause): reported, not changed")
    return Hold(
        scope=Scope.PAUSED,
        reason=(
            f"paused by {pause.operator} since {pause.since:%Y-%m-%d %H:%M} UTC ({pause.reason}; "
            f"akr pause, record {pause.record_id}): reported, not changed"
        ),
    )


def capped(scope: Scope, *, account_id: str, day: str, count: int, cap: int) -> Hold:
    if scope is Scope.ACCOUNT:
        where, setting = f"in account {account_id}", "AKR_MAX_ACTIONS_PER_ACCOUNT"
    else:
        where, setting = "in the organization", "AKR_MAX_ACTIONS_PER_DAY"
    return Hold(
        scope=scope,
        reason=(
            f"circuit breaker: {count} actions {where} on {day}, the cap {setting} is {cap}; the rest of "
            "the day runs as report: reported, not changed"
        ),
    )


def held(decision: Decision, hold: Hold) -> Decision:
    """The decision as the run records it instead: `report`, with the key's reason and the hold's."""
    return decision.model_copy(
        update={
            "action": Action.REPORT,
            "reason": f"{decision.reason}; {decision.action.value} held back: {hold.reason}",
        }
    )
