"""Per-key lifecycle, kept centrally so that the sweep can finish what an earlier run started: a key
deactivated in staged mode is deleted after the grace period, a warning is sent once. Pure."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from pydantic import AwareDatetime, BaseModel, ConfigDict

from remediator.decision import Action, Decision


class Stage(StrEnum):
    DETECTED = "detected"
    WARNED = "warned"
    DEACTIVATED = "deactivated"
    DELETED = "deleted"
    REACTIVATED = "reactivated"
    """Someone made a key this service deactivated active again: it is evaluated afresh, never deleted
    on the strength of the old deactivation."""


class Pending(BaseModel):
    """The write-ahead mark of a mutation: written with its intent record, before IAM is called, and cleared
    with its outcome record. Whoever holds the key later and still finds it reconciles it from IAM."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    action: Action
    intent_id: str
    """The record id of the intent this mark stands for."""
    owner: str
    """The run that wrote it (its claims' owner)."""
    since: AwareDatetime
    user_id: str
    rules: str = ""
    reason: str
    staged: bool = False
    """A deactivation in staged mode: once done, the key is deleted after the grace period."""


class KeyLifecycle(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    account_id: str
    access_key_id: str
    user_name: str
    stage: Stage
    reason: str = ""
    detected_at: AwareDatetime | None = None
    warned_at: AwareDatetime | None = None
    warned_due_at: AwareDatetime | None = None
    """The due date the warning announced; a new due date (the key was used again) is a new stage."""
    deactivated_at: AwareDatetime | None = None
    staged: bool = False
    """Deactivated in staged mode: only such a key is deleted after the grace period (a key deactivated
    in deactivate mode stays inactive when the mode later becomes staged)."""
    deleted_at: AwareDatetime | None = None
    reactivated_at: AwareDatetime | None = None
    updated_at: AwareDatetime
    pending: Pending | None = None
    """An intent without its outcome (see Pending); None once settled."""

    def moved(
        self, stage: Stage, now: datetime, reason: str, **fields: datetime | bool | None
    ) -> KeyLifecycle:
        return self.model_copy(update={"stage": stage, "reason": reason, "updated_at": now, **fields})


def deactivated_by_us(lifecycles: dict[str, KeyLifecycle]) -> dict[str, datetime]:
    """AccessKeyId -> when this service deactivated it in staged mode, for keys still in that stage."""
    return {
        key: lc.deactivated_at
        for key, lc in lifecycles.items()
        if lc.stage is Stage.DEACTIVATED and lc.staged and lc.deactivated_at is not None
    }


def next_stage(
    known: KeyLifecycle | None, decision: Decision, *, done: bool, now: datetime, staged: bool = False
) -> tuple[Stage | None, dict[str, datetime | bool | None]]:
    """The stage a decision moves a key to, with the fields to set; (None, {}) when it stays.
    `staged`: the run is in staged mode (a deactivation it makes is followed by a deletion)."""
    action = decision.action
    if done and action.mutates:
        return after(action, now, staged=staged)
    if known is not None and known.stage is Stage.DEACTIVATED and _reactivated(known, decision):
        return Stage.REACTIVATED, {"reactivated_at": now}
    if action is Action.WARN and (known is None or known.warned_due_at != decision.due_at):
        return Stage.WARNED, {"warned_at": now, "warned_due_at": decision.due_at}
    if decision.rules and (known is None or known.stage in (Stage.WARNED, Stage.REACTIVATED)):
        return Stage.DETECTED, {"detected_at": now}
    return None, {}


def after(action: Action, now: datetime, *, staged: bool) -> tuple[Stage, dict[str, datetime | bool | None]]:
    """The stage a key reaches once a mutation is done, with the fields to set."""
    if action is Action.DELETE:
        return Stage.DELETED, {"deleted_at": now}
    if action is Action.DEACTIVATE:
        return Stage.DEACTIVATED, {"deactivated_at": now, "staged": staged}
    if action is Action.REACTIVATE:
        return Stage.REACTIVATED, {"reactivated_at": now}
    raise ValueError(f"{action.value} changes nothing in IAM")


def _reactivated(known: KeyLifecycle, decision: Decision) -> bool:
    """Active now, or used since this service deactivated it (reactivated and deactivated again between
    two sweeps)."""
    if decision.key_status == "Active":
        return True
    used, since = decision.last_used_at, known.deactivated_at
    return used is not None and since is not None and used > since
