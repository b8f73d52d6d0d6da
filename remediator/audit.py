"""The audit record: one per decision, and two (intent, then outcome) around every mutation. Pure."""

from __future__ import annotations

import hashlib
import uuid
from datetime import datetime
from enum import StrEnum

from pydantic import AwareDatetime, BaseModel, ConfigDict, computed_field

from remediator.decision import Decision
from remediator.policy import Mode, Thresholds


class Trigger(StrEnum):
    EVENT = "event"
    SWEEP = "sweep"
    CLI = "cli"


class Phase(StrEnum):
    DECISION = "decision"
    """A decision that changes nothing: within policy, exempt, report mode, user gone."""
    INTENT = "intent"
    """Written before a mutation; a mutation without it cannot happen."""
    OUTCOME = "outcome"
    """Written after the mutation, whatever happened."""


class Outcome(StrEnum):
    PENDING = "pending"
    DONE = "done"
    FAILED = "failed"
    SKIPPED = "skipped"
    ABANDONED = "abandoned"
    """An intent closed without acting: decided afresh later, the key no longer called for that action
    (exempted, undone, protected, the mode changed, the key gone)."""


class Context(BaseModel):
    """What every record of one remediation run shares."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    account_id: str
    trigger: Trigger
    event_id: str | None = None
    config_rule_name: str | None = None
    role_session_name: str | None = None
    operator: str | None = None
    """Who asked, for actions an operator starts from the command line (the caller's ARN)."""
    mode: Mode
    thresholds: Thresholds


class AuditRecord(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    record_id: str
    """Sorts by time: "<recorded_at>#<random>"; the table's sort key and every index's."""
    account_id: str
    user_name: str | None = None
    user_id: str | None = None
    owner: str | None = None
    """The user's owner tag (AKR_OWNER_TAG_KEY), for the people who review and get notified."""
    access_key_id: str | None = None
    rule: str = ""
    """The rules the key breaks, comma-separated ("rotation", "unused", "rotation,unused") or empty."""
    key_status: str | None = None
    key_created_at: AwareDatetime | None = None
    key_age_days: int | None = None
    last_used_at: AwareDatetime | None = None
    due_at: AwareDatetime | None = None
    """For an active key: the last instant it is within policy."""
    planned_action: str | None = None
    """For a warning: what happens after `due_at`."""
    decision: str
    mode: Mode
    reason: str
    thresholds: Thresholds
    event_id: str | None = None
    config_rule_name: str | None = None
    role_session_name: str | None = None
    operator: str | None = None
    trigger: Trigger
    phase: Phase
    outcome: Outcome
    error: str | None = None
    step: str | None = None
    """For a failure: the step that failed ("assume-role", "read-user", "claim", "iam-action", ...)."""
    intent_id: str | None = None
    """For an outcome: the record id of its intent."""
    reconciled: bool | None = None
    """True on an outcome written by a later run than its intent's (a replay, the sweep), from IAM."""
    expires_at: AwareDatetime | None = None
    """For an exemption's record (exempt-add, exempt-remove): when the exemption expires."""
    revokes: str | None = None
    """For an exempt-remove: the id of the exempt-add record of the exemption it removed, which then proves
    nothing any more (an item put back with that id is not honoured)."""
    recorded_at: AwareDatetime

    @computed_field  # type: ignore[prop-decorator]
    @property
    def day(self) -> str:
        """The partition of the organization-wide by-time index."""
        return self.recorded_at.strftime("%Y-%m-%d")


def id_stamp(recorded_at: datetime) -> str:
    """The time part of a record id: what a range of record ids is bounded by."""
    return recorded_at.strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


def new_record_id(recorded_at: datetime, seed: str | None = None) -> str:
    """ "<recorded_at>#<16 hex>". With `seed` (the run, its record's position, the key and the phase) the
    suffix is derived from it, so the same record always has the same id: a put retried after a lost
    reply then finds its own record, not a collision. Without, it is random (records made outside a run)."""
    stamp = id_stamp(recorded_at)
    suffix = uuid.uuid4().hex if seed is None else hashlib.sha256(seed.encode()).hexdigest()
    return f"{stamp}#{suffix[:16]}"


def record_for_decision(
    context: Context,
    *,
    user_name: str,
    user_id: str,
    owner: str | None,
    decision: Decision,
    phase: Phase,
    outcome: Outcome,
    recorded_at: datetime,
    error: str | None = None,
    note: str | None = None,
    seed: str | None = None,
    intent_id: str | None = None,
    reconciled: bool | None = None,
    step: str | None = None,
) -> AuditRecord:
    return AuditRecord(
        record_id=new_record_id(recorded_at, seed),
        **context.model_dump(),
        user_name=user_name,
        user_id=user_id,
        owner=owner,
        access_key_id=decision.access_key_id,
        rule=",".join(decision.rules),
        key_status=decision.key_status,
        key_created_at=decision.key_created_at,
        key_age_days=decision.key_age_days,
        last_used_at=decision.last_used_at,
        due_at=decision.due_at,
        planned_action=decision.planned_action.value if decision.planned_action else None,
        decision=decision.action.value,
        reason=f"{decision.reason}; {note}" if note else decision.reason,
        phase=phase,
        outcome=outcome,
        error=error,
        step=step,
        intent_id=intent_id,
        reconciled=reconciled,
        recorded_at=recorded_at,
    )


def record_for_user(
    context: Context,
    *,
    user_name: str | None,
    user_id: str | None,
    reason: str,
    outcome: Outcome,
    recorded_at: datetime,
    error: str | None = None,
    decision: str = "none",
    seed: str | None = None,
    step: str | None = None,
    access_key_id: str | None = None,
) -> AuditRecord:
    """A record about the user as a whole, when no key could be decided (gone, unreachable), or a
    report-only finding; with `access_key_id`, a failure before one key's decision could be carried out."""
    return AuditRecord(
        record_id=new_record_id(recorded_at, seed),
        **context.model_dump(),
        user_name=user_name,
        user_id=user_id,
        access_key_id=access_key_id,
        decision=decision,
        reason=reason,
        phase=Phase.DECISION,
        outcome=outcome,
        error=error,
        step=step,
        recorded_at=recorded_at,
    )
