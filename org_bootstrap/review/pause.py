"""`akr pause` / `akr resume`: the emergency stop, without a deploy.

The pause is one item in the central state table (remediator.adapters.breaker_table); the remediator's
intent transaction checks that it is absent, so every run's next key action becomes `report` at once.
Each change is audited like the other operator actions: an intent record, the change, an outcome record,
all naming the operator, under the security account in the audit table.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from org_bootstrap.aws import Aws, CliError
from org_bootstrap.deploy.central import central_clients, read_central, settings_from
from org_bootstrap.deploy.deployment import Deployment
from org_bootstrap.review.undo import caller_identity
from remediator.adapters.audit_table import DynamoDBAuditLog
from remediator.adapters.breaker_table import DynamoDBControl
from remediator.audit import AuditRecord, Outcome, Phase, Trigger, new_record_id
from remediator.breaker import Pause
from remediator.errors import RemediatorError
from remediator.settings import Settings

PAUSE = "pause"
RESUME = "resume"


@dataclass(frozen=True)
class Control:
    """The pause and the audit log through the security account, and who is asking."""

    control: DynamoDBControl
    audit: DynamoDBAuditLog
    settings: Settings
    operator: str
    security_account: str


def open_control(aws: Aws, deployment: Deployment) -> Control:
    caller = caller_identity(aws)
    central = read_central(aws, deployment, caller.account_id)
    settings = settings_from(central.stack, account_role="unused")
    dynamodb = central_clients(aws, central).dynamodb
    return Control(
        control=DynamoDBControl(client=dynamodb, table_name=settings.state_table),
        audit=DynamoDBAuditLog(client=dynamodb, table_name=settings.audit_table),
        settings=settings,
        operator=caller.arn,
        security_account=deployment.security_account_id,
    )


def current(control: Control) -> Pause | None:
    try:
        return control.control.pause()
    except RemediatorError as exc:
        raise CliError(str(exc)) from exc


def _record(  # noqa: PLR0917
    control: Control, decision: str, phase: Phase, outcome: Outcome, reason: str, now: datetime
) -> AuditRecord:
    return AuditRecord(
        record_id=new_record_id(now),
        account_id=control.security_account,
        decision=decision,
        mode=control.settings.mode,
        reason=reason,
        thresholds=control.settings.thresholds,
        operator=control.operator,
        trigger=Trigger.CLI,
        phase=phase,
        outcome=outcome,
        recorded_at=now,
    )


def _append(control: Control, record: AuditRecord, nothing: str) -> None:
    try:
        control.audit.append(record)
    except RemediatorError as exc:
        raise CliError(f"{nothing}: its audit record could not be written: {exc}") from exc


def pause(control: Control, reason: str, *, now: datetime) -> AuditRecord:
    """Intent, the pause item (naming the intent), outcome; returns the outcome."""
    if not reason.strip():
        raise CliError("--reason is required: say why every key action stops")
    held = current(control)
    if held is not None:
        raise CliError(
            f"already paused by {held.operator} since {held.since:%Y-%m-%d %H:%M} UTC ({held.reason})"
        )
    why = f"every key action of the remediator and the sweep becomes report: {reason}"
    intent = _record(control, PAUSE, Phase.INTENT, Outcome.PENDING, why, now)
    _append(control, intent, "nothing was paused")
    item = Pause(operator=control.operator, reason=reason, since=now, record_id=intent.record_id)
    try:
        placed = control.control.put_pause(item)
    except RemediatorError as exc:
        raise CliError(f"nothing was paused (intent {intent.record_id} stays open): {exc}") from exc
    outcome = Outcome.DONE if placed else Outcome.SKIPPED
    note = why if placed else f"{why}; another operator paused meanwhile"
    done = _record(control, PAUSE, Phase.OUTCOME, outcome, note, now).model_copy(
        update={"intent_id": intent.record_id}
    )
    _append(control, done, f"paused, but not audited (intent {intent.record_id})")
    return done


def resume(control: Control, reason: str, *, now: datetime) -> AuditRecord:
    """Intent, the pause item deleted, outcome; returns the outcome."""
    held = current(control)
    if held is None:
        raise CliError("not paused: nothing to resume")
    why = f"key actions resume in the deployed mode {control.settings.mode.value} (paused by {held.operator}"
    why += f" since {held.since:%Y-%m-%d %H:%M} UTC, record {held.record_id}): {reason or 'no reason given'}"
    intent = _record(control, RESUME, Phase.INTENT, Outcome.PENDING, why, now)
    _append(control, intent, "nothing was resumed")
    try:
        removed = control.control.delete_pause()
    except RemediatorError as exc:
        raise CliError(f"nothing was resumed (intent {intent.record_id} stays open): {exc}") from exc
    outcome = Outcome.DONE if removed else Outcome.SKIPPED
    done = _record(control, RESUME, Phase.OUTCOME, outcome, why, now).model_copy(
        update={"intent_id": intent.record_id}
    )
    _append(control, done, f"resumed, but not audited (intent {intent.record_id})")
    return done
