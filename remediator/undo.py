"""Undo: an operator makes active again a key that this service deactivated, within the grace period.

Only such keys, only while the key exists and is still inactive, and only until the staged deletion would
have happened. The audit records name the operator. The next sweep evaluates the key afresh: a key that
still breaks a rule needs an exemption to stay active.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta

from remediator.audit import AuditRecord, Context, Outcome, Phase, Trigger, record_for_decision
from remediator.decision import Action, Decision
from remediator.errors import RemediatorError
from remediator.lifecycle import Pending, Stage, after
from remediator.policy import Policy
from remediator.ports import AccountAccess, KeyJournal, LifecycleStore


class UndoRefusedError(RemediatorError):
    """The key is not one this service deactivated within the grace period, or it is gone or active."""


class Undo:
    def __init__(
        self,
        *,
        policy: Policy,
        access: AccountAccess,
        lifecycle: LifecycleStore,
        journal: KeyJournal,
        clock: Callable[[], datetime],
    ) -> None:
        self._policy = policy
        self._access = access
        self._lifecycle = lifecycle
        self._journal = journal
        self._clock = clock

    def reactivate(self, account_id: str, access_key_id: str, *, operator: str, region: str) -> str:
        """Reactivate the key; returns its user's name. Raises UndoRefusedError with the reason."""
        now = self._clock()
        known = self._lifecycle.for_account(account_id).get(access_key_id)
        if known is None or known.stage is not Stage.DEACTIVATED or known.deactivated_at is None:
            raise UndoRefusedError(f"{access_key_id} in {account_id} was not deactivated by this service")
        if known.pending is not None:
            raise UndoRefusedError(
                f"{access_key_id} carries an open intent to {known.pending.action.value} it (since "
                f"{known.pending.since:%Y-%m-%d %H:%M} UTC); the next run on the key settles it: "
                "try again after it"
            )
        ends = known.deactivated_at + timedelta(days=self._policy.grace_days)
        if now > ends:
            raise UndoRefusedError(
                f"{access_key_id} was deactivated on {known.deactivated_at:%Y-%m-%d}; the grace period "
                f"ended on {ends:%Y-%m-%d %H:%M} UTC"
            )
        label = f"undo-{access_key_id}"
        member = self._access.open(account_id, region=region, label=label)
        facts = member.read_user(known.user_name)
        key = next((k for k in facts.keys if k.access_key_id == access_key_id), None) if facts else None
        if facts is None or key is None:
            raise UndoRefusedError(f"{access_key_id} of {known.user_name} no longer exists")
        if key.is_active:
            raise UndoRefusedError(f"{access_key_id} of {known.user_name} is already active")
        context = Context(
            account_id=account_id,
            trigger=Trigger.CLI,
            event_id=label,
            role_session_name=member.role_session_name,
            operator=operator,
            mode=self._policy.mode,
            thresholds=self._policy.thresholds,
        )
        decision = Decision(
            access_key_id=access_key_id,
            action=Action.REACTIVATE,
            rules=(),
            reason=f"undo by {operator} of the deactivation on {known.deactivated_at:%Y-%m-%d}",
            key_status=key.status,
            key_created_at=key.created_at,
            key_age_days=(now - key.created_at) // timedelta(days=1),
            last_used_at=key.last_used_at,
            due_at=None,
        )

        def record(
            phase: Phase, outcome: Outcome, error: str | None = None, intent_id: str | None = None
        ) -> AuditRecord:
            return record_for_decision(
                context,
                user_name=facts.user_name,
                user_id=facts.user_id,
                owner=None,
                decision=decision,
                phase=phase,
                outcome=outcome,
                recorded_at=self._clock(),
                error=error,
                seed=f"{label}|{operator}|{now.isoformat()}|{phase}",
                intent_id=intent_id,
            )

        intent = record(Phase.INTENT, Outcome.PENDING)
        marked = known.model_copy(
            update={
                "pending": Pending(
                    action=Action.REACTIVATE,
                    intent_id=intent.record_id,
                    owner=label,
                    since=intent.recorded_at,
                    user_id=facts.user_id,
                    reason=decision.reason,
                )
            }
        )
        if not self._journal.begin(intent, marked, owner=label, after_finished=True):
            raise UndoRefusedError(f"another run is acting on {access_key_id}; try again later")
        unmarked = marked.model_copy(update={"pending": None})
        try:
            changed = member.reactivate_key(facts.user_name, access_key_id)
        except RemediatorError as exc:
            self._journal.settle(
                record(Phase.OUTCOME, Outcome.FAILED, str(exc), intent.record_id), unmarked, owner=label
            )
            raise
        if not changed:
            gone = record(Phase.OUTCOME, Outcome.FAILED, "key no longer exists", intent.record_id)
            self._journal.settle(gone, unmarked, owner=label)
            raise UndoRefusedError(f"{access_key_id} of {known.user_name} no longer exists")
        stage, fields = after(Action.REACTIVATE, now, staged=False)
        done = record(Phase.OUTCOME, Outcome.DONE, intent_id=intent.record_id)
        self._journal.settle(done, unmarked.moved(stage, now, decision.reason, **fields), owner=label)
        return facts.user_name
