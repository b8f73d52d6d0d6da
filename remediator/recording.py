"""How a run writes its audit records: decision records, records about a user as a whole, and the failure
record of any error that ends a step, written once, before the error goes on."""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime

from remediator.audit import AuditRecord, Outcome, Phase, record_for_decision, record_for_user
from remediator.deadline import DeadlineExceededError
from remediator.decision import Decision
from remediator.errors import RemediatorError
from remediator.facts import UserFacts
from remediator.ports import AuditLog
from remediator.run import FINDING, Run

logger = logging.getLogger(__name__)

STEPS = {
    "start": "the run could not start",
    "assume-role": "member role could not be assumed",
    "resolve-user": "user could not be resolved",
    "list-users": "users could not be listed",
    "credential-report": "credential report unavailable",
    "read-user": "user could not be read",
    "central-state": "exemptions or key lifecycles could not be read",
    "reconcile": "an open intent could not be settled",
    "claim": "the key could not be claimed, or its intent not written",
    "record": "a decision could not be recorded",
    "iam-action": "the key action failed",
    "outcome": "the outcome could not be written: the intent stays open until the next run settles it",
    "lifecycle": "the key's lifecycle could not be written",
    "deadline": "the invocation ran out of time",
    "idempotency": "the record of handled events failed, or holds the event as in progress",
}
"""Each step a run may fail in, and what its failure record says."""


class Recorder:
    def __init__(self, *, audit: AuditLog, clock: Callable[[], datetime], owner_tag_key: str) -> None:
        self._audit = audit
        self._clock = clock
        self._owner_tag_key = owner_tag_key

    def decision(
        self,
        run: Run,
        facts: UserFacts,
        decision: Decision,
        phase: Phase,
        outcome: Outcome,
        *,
        error: str | None = None,
        note: str | None = None,
        intent_id: str | None = None,
        reconciled: bool | None = None,
        step: str | None = None,
    ) -> AuditRecord:
        """A record of `decision`, not yet written (the journal writes intents and outcomes)."""
        return record_for_decision(
            run.context,
            user_name=facts.user_name,
            user_id=facts.user_id,
            owner=facts.tags.get(self._owner_tag_key),
            decision=decision,
            phase=phase,
            outcome=outcome,
            recorded_at=self._clock(),
            error=error,
            note=note,
            seed=run.seed(decision.access_key_id, phase),
            intent_id=intent_id,
            reconciled=reconciled,
            step=step,
        )

    def write(self, run: Run, record: AuditRecord) -> None:
        """Append a decision-phase record and count it in the run's result."""
        run.step = "record"
        self._audit.append(record)
        run.records.append(record)

    def keep(self, run: Run, record: AuditRecord) -> None:
        """Count a record the journal has written (an outcome) in the run's result."""
        run.records.append(record)

    def user(
        self,
        run: Run,
        user_name: str | None,
        user_id: str | None,
        reason: str,
        outcome: Outcome,
        *,
        decision: str = "none",
    ) -> None:
        """A record about the user as a whole, when there is no key to decide on."""
        self.write(
            run,
            record_for_user(
                run.context,
                user_name=user_name,
                user_id=user_id,
                reason=reason,
                outcome=outcome,
                recorded_at=self._clock(),
                decision=decision,
                seed=run.seed(user_name or "", user_id or "", reason),
            ),
        )

    def finding(self, run: Run, user_name: str, user_id: str | None, reason: str) -> None:
        self.user(run, user_name, user_id, reason, Outcome.SKIPPED, decision=FINDING)

    def failed(
        self,
        run: Run,
        exc: BaseException,
        *,
        step: str | None = None,
        user_name: str | None = None,
        user_id: str | None = None,
        access_key_id: str | None = None,
    ) -> None:
        """The failure record of `exc`, once: a step that records its failure and lets the error go on is
        not recorded again by the run. When the audit store itself fails, the failure is logged and still
        counted (RemediationFailures); the retry and the dead-letter queue keep the work."""
        if id(exc) in run.audited:
            return
        run.audited.add(id(exc))
        step = "deadline" if isinstance(exc, DeadlineExceededError) else step or run.step
        fields = {
            "account_id": run.context.account_id,
            "user_name": user_name,
            "access_key_id": access_key_id,
            "step": step,
            "error": str(exc),
        }
        logger.error(STEPS.get(step, step), extra=fields)
        record = record_for_user(
            run.context,
            user_name=user_name,
            user_id=user_id,
            reason=STEPS.get(step, step),
            outcome=Outcome.FAILED,
            recorded_at=self._clock(),
            error=f"{type(exc).__name__}: {exc}" if not isinstance(exc, RemediatorError) else str(exc),
            seed=run.seed(user_name or "", access_key_id or "", step),
            step=step,
            access_key_id=access_key_id,
        )
        try:
            self._audit.append(record)
        except RemediatorError as audit_error:
            run.unrecorded_failures += 1
            logger.error(
                "failure not recorded: the audit log is unavailable",
                extra={**fields, "audit_error": str(audit_error)},
            )
            return
        run.records.append(record)
        run.notices.append(record)
