"""Carrying out a mutation between its intent and its outcome, and settling an intent left open.

A mutation begins with one atomic write (remediator.ports.KeyJournal.begin): the claim on the key, the
pending mark on the key's lifecycle and the intent record. Only then is IAM called. It ends with one
atomic write (settle): the outcome record, the lifecycle moved on, the mark cleared. So a mark is there
exactly while an intent has no outcome, whatever fails in between (a lost reply, a throttled table, a
crash), and whoever holds the key next settles it from IAM before deciding anything else.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime

from remediator.audit import AuditRecord, Outcome, Phase, new_record_id
from remediator.decision import Action, Decision
from remediator.errors import PermanentError
from remediator.facts import KeyFacts, UserFacts
from remediator.lifecycle import KeyLifecycle, Pending, Stage, after
from remediator.ports import KeyClaims, KeyJournal, MemberAccount
from remediator.recording import Recorder
from remediator.run import Run

logger = logging.getLogger(__name__)

GONE_AFTER_DELETE = (
    "IAM answered NoSuchEntity: the key is gone, by this deletion (a retried call whose first reply was "
    "lost) or by someone else meanwhile"
)


def applied(action: Action, key: KeyFacts | None) -> bool:
    """Whether IAM shows the effect of `action` on the key now."""
    if action is Action.DELETE:
        return key is None
    if action is Action.DEACTIVATE:
        return key is not None and not key.is_active
    if action is Action.REACTIVATE:
        return key is not None and key.is_active
    return False


class Mutations:
    def __init__(
        self,
        *,
        journal: KeyJournal,
        claims: KeyClaims,
        recorder: Recorder,
        clock: Callable[[], datetime],
        staged: bool,
        owner_tag_key: str = "owner",
    ) -> None:
        self._journal = journal
        self._claims = claims
        self._recorder = recorder
        self._clock = clock
        self._staged = staged
        self._owner_tag_key = owner_tag_key

    def carry_out(self, run: Run, member: MemberAccount, facts: UserFacts, decision: Decision) -> None:
        """Claim the key, write the intent with the key's mark, act, write the outcome."""
        key = decision.access_key_id
        now = self._clock()
        intent = self._recorder.decision(run, facts, decision, Phase.INTENT, Outcome.PENDING)
        known = run.lifecycles().get(key) or KeyLifecycle(
            account_id=run.context.account_id,
            access_key_id=key,
            user_name=facts.user_name,
            stage=Stage.DETECTED,
            detected_at=now if decision.rules else None,
            updated_at=now,
        )
        marked = known.model_copy(
            update={
                "pending": Pending(
                    action=decision.action,
                    intent_id=intent.record_id,
                    owner=run.owner,
                    since=intent.recorded_at,
                    user_id=facts.user_id,
                    rules=intent.rule,
                    reason=decision.reason,
                    staged=self._staged and decision.action is Action.DEACTIVATE,
                )
            }
        )
        run.step = "claim"
        if not self._journal.begin(intent, marked, owner=run.owner):
            # Both rules usually fire together: the other event's run is acting on this key.
            record = self._recorder.decision(
                run,
                facts,
                decision,
                Phase.DECISION,
                Outcome.SKIPPED,
                note="another run is acting on this key",
            )
            self._recorder.write(run, record)
            return
        run.remember(marked)
        self._act(run, member, facts, decision, marked, reconciled=None)

    def settle_open(
        self,
        run: Run,
        member: MemberAccount,
        facts: UserFacts | None,
        marked: KeyLifecycle,
        fresh: Decision | None,
    ) -> bool:
        """Settle the open intent that `marked` carries, from IAM now. True when the key needs nothing more
        in this run; False when its fresh decision is still to be carried out (or another run holds it).

        The effect is there: the outcome is `done`, reconciled. It is not: the key is decided afresh
        (`fresh`, from the current facts, mode and exemptions), and acted on under the old intent only when
        the fresh decision is the same action; otherwise the intent is `abandoned`, with the reason."""
        pending = marked.pending
        assert pending is not None  # noqa: S101  # the caller picks marked lifecycles
        key_id = marked.access_key_id
        run.step = "reconcile"
        if not self._claims.claim(run.context.account_id, key_id, pending.action.value, owner=run.owner):
            return False  # another run holds the key: the mark is its to settle
        key = next((k for k in facts.keys if k.access_key_id == key_id), None) if facts else None
        if applied(pending.action, key):
            state = "gone" if key is None else key.status
            outcome = self._pending_outcome(
                run,
                marked,
                facts,
                key,
                Outcome.DONE,
                f"{pending.reason}; settled from IAM: the key is {state}",
            )
            self._settle(run, outcome, self._moved(marked, pending.action, pending.staged, pending.reason))
            return True
        if key is None:
            outcome = self._pending_outcome(
                run, marked, facts, None, Outcome.ABANDONED, f"{pending.reason}; the key no longer exists"
            )
            self._settle(
                run,
                outcome,
                marked.moved(
                    Stage.DELETED,
                    self._clock(),
                    "key no longer exists",
                    pending=None,
                    deleted_at=self._clock(),
                ),
            )
            return True
        if fresh is not None and fresh.action is pending.action and facts is not None:
            self._act(run, member, facts, fresh, marked, reconciled=True)
            return True
        why = f"{fresh.action.value}: {fresh.reason}" if fresh else "no action"
        outcome = self._pending_outcome(run, marked, facts, key, Outcome.ABANDONED, f"decided afresh: {why}")
        self._settle(run, outcome, marked.model_copy(update={"pending": None}))
        return False

    # -- steps -------------------------------------------------------------------------------------

    def _act(
        self,
        run: Run,
        member: MemberAccount,
        facts: UserFacts,
        decision: Decision,
        marked: KeyLifecycle,
        *,
        reconciled: bool | None,
    ) -> None:
        pending = marked.pending
        assert pending is not None  # noqa: S101
        key = decision.access_key_id

        def outcome(result: Outcome, error: str | None = None, note: str | None = None) -> AuditRecord:
            return self._recorder.decision(
                run,
                facts,
                decision,
                Phase.OUTCOME,
                result,
                error=error,
                note=note,
                intent_id=pending.intent_id,
                reconciled=reconciled,
                step="iam-action" if result is Outcome.FAILED else None,
            )

        run.step = "iam-action"
        # A refusal (access denied) means IAM did not act: the intent is closed as failed. Anything else
        # (throttled, unavailable, a reply lost after IAM acted) leaves IAM's state unknown: the error goes
        # on, the intent stays open, the run records the failure, and the next holder of the key settles it.
        try:
            if decision.action is Action.DELETE:
                changed = member.delete_key(facts.user_name, key)
            else:
                changed = member.deactivate_key(facts.user_name, key)
        except PermanentError as exc:
            logger.error(
                "key action failed", extra=_log_fields(run, facts.user_name, decision, error=str(exc))
            )
            unmarked = marked.model_copy(update={"pending": None})
            self._settle(run, outcome(Outcome.FAILED, error=str(exc)), unmarked)
            return
        if not changed and decision.action is not Action.DELETE:
            gone = marked.moved(
                Stage.DELETED, self._clock(), "key no longer exists", pending=None, deleted_at=self._clock()
            )
            self._settle(run, outcome(Outcome.SKIPPED, note="key already gone"), gone)
            return
        note = None if changed else GONE_AFTER_DELETE
        self._settle(
            run,
            outcome(Outcome.DONE, note=note),
            self._moved(marked, decision.action, pending.staged, decision.reason),
        )
        message = "key deleted" if decision.action is Action.DELETE else "key deactivated"
        logger.info(message, extra=_log_fields(run, facts.user_name, decision))

    def _settle(self, run: Run, outcome: AuditRecord, settled: KeyLifecycle) -> None:
        run.step = "outcome"
        self._journal.settle(outcome, settled, owner=run.owner)
        run.remember(settled)
        self._recorder.keep(run, outcome)
        run.notices.append(outcome)

    def _moved(self, marked: KeyLifecycle, action: Action, staged: bool, reason: str) -> KeyLifecycle:
        """The lifecycle once `action` is done, its mark cleared."""
        now = self._clock()
        stage, fields = after(action, now, staged=staged)
        return marked.moved(stage, now, reason, pending=None, **fields)

    def _pending_outcome(  # noqa: PLR0917
        self,
        run: Run,
        marked: KeyLifecycle,
        facts: UserFacts | None,
        key: KeyFacts | None,
        outcome: Outcome,
        reason: str,
    ) -> AuditRecord:
        """The outcome of an intent settled by a later run, from what the mark and IAM say now."""
        pending = marked.pending
        assert pending is not None  # noqa: S101
        now = self._clock()
        return AuditRecord(
            record_id=new_record_id(now, run.seed(marked.access_key_id, Phase.OUTCOME)),
            **run.context.model_dump(),
            user_name=marked.user_name,
            user_id=pending.user_id,
            owner=facts.tags.get(self._owner_tag_key) if facts else None,
            access_key_id=marked.access_key_id,
            rule=pending.rules,
            key_status=key.status if key else None,
            key_created_at=key.created_at if key else None,
            last_used_at=key.last_used_at if key else None,
            decision=pending.action.value,
            reason=reason,
            phase=Phase.OUTCOME,
            outcome=outcome,
            intent_id=pending.intent_id,
            reconciled=True,
            recorded_at=now,
        )


def _log_fields(run: Run, user_name: str, decision: Decision, **more: str) -> dict[str, str]:
    return {
        "account_id": run.context.account_id,
        "user_name": user_name,
        "access_key_id": decision.access_key_id,
        "rule": ",".join(decision.rules),
        **more,
    }
