"""The remediation service: read live facts, decide per key, and carry out each decision between an audit
intent and an audit outcome. The event path, the sweep, the CLI and the demo all go through here."""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime

from remediator.audit import (
    AuditRecord,
    Context,
    Outcome,
    Phase,
    Trigger,
    record_for_decision,
    record_for_user,
)
from remediator.decision import Action, Decision, decide
from remediator.errors import PermanentError, RemediatorError, TransientError
from remediator.events import ComplianceChangeEvent
from remediator.exemptions import Exemption
from remediator.facts import UserFacts
from remediator.policy import Policy
from remediator.ports import AccountAccess, AuditLog, ExemptionSource, KeyClaims, MemberAccount, Notifier

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class RunResult:
    """The final audit record of every decision in one run (the outcome, not the intent)."""

    records: tuple[AuditRecord, ...] = ()

    def count(self, decision: Action | str, outcome: Outcome) -> int:
        return sum(1 for r in self.records if r.decision == decision and r.outcome == outcome)

    @property
    def failures(self) -> int:
        return sum(1 for r in self.records if r.outcome == Outcome.FAILED)

    def summary(self) -> dict[str, int]:
        return {
            "deactivated": self.count(Action.DEACTIVATE, Outcome.DONE),
            "deleted": self.count(Action.DELETE, Outcome.DONE),
            "exempted": self.count(Action.EXEMPT, Outcome.SKIPPED),
            "reported": self.count(Action.REPORT, Outcome.SKIPPED),
            "compliant": self.count(Action.NONE, Outcome.SKIPPED),
            "failed": self.failures,
        }


@dataclass
class _Run:
    """One run's shared state: the context of its records, and the exemptions, read at most once."""

    context: Context
    source: ExemptionSource
    owner: str
    """Who holds this run's claims on keys: the event id, or the account run's label."""
    records: list[AuditRecord] = field(default_factory=list)
    _exemptions: Sequence[Exemption] | None = None

    def exemptions(self) -> Sequence[Exemption]:
        if self._exemptions is None:
            self._exemptions = self.source.for_account(self.context.account_id)
        return self._exemptions


class Remediator:
    def __init__(
        self,
        *,
        policy: Policy,
        access: AccountAccess,
        audit: AuditLog,
        exemptions: ExemptionSource,
        claims: KeyClaims,
        clock: Callable[[], datetime],
        notifier: Notifier | None = None,
        home_region: str | None = None,
        owner_tag_key: str = "owner",
        on_result: Callable[[RunResult], None] | None = None,
    ) -> None:
        """`on_result` sees every run's result, also one cut short by an error (metrics)."""
        self._policy = policy
        self._access = access
        self._audit = audit
        self._exemptions = exemptions
        self._claims = claims
        self._clock = clock
        self._notifier = notifier
        self._home_region = home_region
        self._owner_tag_key = owner_tag_key
        self._on_result = on_result

    def remediate_event(self, event: ComplianceChangeEvent) -> RunResult:
        """One NON_COMPLIANT user from a Config event. The event is only a trigger: which keys are bad
        is decided here from the user's current IAM state."""
        detail = event.detail
        run = self._start(
            detail.aws_account_id, Trigger.EVENT, event_id=event.id, rule=detail.config_rule_name
        )
        try:
            self._remediate_event(run, event)
        finally:
            result = self._finish(run)
        return result

    def _remediate_event(self, run: _Run, event: ComplianceChangeEvent) -> None:
        detail = event.detail
        member = self._open(run, self._home_region or detail.aws_region, event.id, user_id=detail.resource_id)
        if member is not None:
            try:
                user_name = member.resolve_user_name(detail.resource_id)
            except PermanentError as exc:
                self._user_failed(run, None, detail.resource_id, "user could not be resolved", exc)
            else:
                if user_name is None:
                    self._user_record(run, None, detail.resource_id, "user no longer exists", Outcome.SKIPPED)
                else:
                    self._remediate_user(run, member, user_name, detail.resource_id)

    def remediate_account(self, account_id: str, *, region: str, trigger: Trigger, label: str) -> RunResult:
        """Every user of one account, through the paginated listing. The cost grows with the users; the
        sweep narrows the candidates first."""
        run = self._start(account_id, trigger, event_id=label, rule=None)
        try:
            member = self._open(run, region, label, user_id=None)
            if member is not None:
                try:
                    for user_name, user_id in member.users():
                        self._remediate_user(run, member, user_name, user_id, report_keyless=False)
                except PermanentError as exc:
                    self._user_failed(run, None, None, "users could not be listed", exc)
        finally:
            result = self._finish(run)
        return result

    # -- steps -------------------------------------------------------------------------------------

    def _start(self, account_id: str, trigger: Trigger, *, event_id: str | None, rule: str | None) -> _Run:
        context = Context(
            account_id=account_id,
            trigger=trigger,
            event_id=event_id,
            config_rule_name=rule,
            mode=self._policy.mode,
            thresholds=self._policy.thresholds,
        )
        return _Run(context=context, source=self._exemptions, owner=event_id or account_id)

    def _open(self, run: _Run, region: str, label: str, *, user_id: str | None) -> MemberAccount | None:
        try:
            member = self._access.open(run.context.account_id, region=region, label=label)
        except PermanentError as exc:
            self._access.forget(run.context.account_id)
            self._user_failed(run, None, user_id, "member role could not be assumed", exc)
            return None
        except TransientError as exc:
            self._user_failed(run, None, user_id, "member role could not be assumed", exc)
            raise
        run.context = run.context.model_copy(update={"role_session_name": member.role_session_name})
        return member

    def _remediate_user(
        self, run: _Run, member: MemberAccount, user_name: str, user_id: str, *, report_keyless: bool = True
    ) -> None:
        """`report_keyless`: an event names the user, so "no keys" answers it; an account run would
        only fill the log with every user that has no keys."""
        try:
            facts = member.read_user(user_name, user_id)
        except PermanentError as exc:
            # The cached credentials may have been revoked: the next run assumes the role afresh.
            self._access.forget(run.context.account_id)
            self._user_failed(run, user_name, user_id, "user could not be read", exc)
            return
        if facts is not None and not facts.keys and not report_keyless:
            return
        if facts is None or not facts.keys:
            reason = "user no longer exists" if facts is None else "user has no access keys"
            self._user_record(run, user_name, user_id, reason, Outcome.SKIPPED)
            return
        for decision in decide(facts, self._policy, run.exemptions(), self._clock()):
            self._carry_out(run, member, facts, decision)

    def _carry_out(self, run: _Run, member: MemberAccount, facts: UserFacts, decision: Decision) -> None:
        def record(
            phase: Phase, outcome: Outcome, error: str | None = None, note: str | None = None
        ) -> AuditRecord:
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
            )

        if not decision.action.mutates:
            self._record(run, record(Phase.DECISION, Outcome.SKIPPED))
            return
        key = decision.access_key_id
        if not self._claims.claim(run.context.account_id, key, decision.action.value, owner=run.owner):
            # Both rules usually fire together: the other event's run is acting on this key.
            self._record(
                run, record(Phase.DECISION, Outcome.SKIPPED, note="another run is acting on this key")
            )
            return
        # The intent is stored before IAM is touched: if it cannot be written, nothing happens.
        self._audit.append(record(Phase.INTENT, Outcome.PENDING))
        try:
            if decision.action is Action.DELETE:
                changed = member.delete_key(facts.user_name, key)
            else:
                changed = member.deactivate_key(facts.user_name, key)
        except (PermanentError, TransientError) as exc:
            self._record(run, record(Phase.OUTCOME, Outcome.FAILED, str(exc)))
            logger.error(
                "key action failed",
                extra=_log_fields(run, facts.user_name, decision, error=str(exc)),
            )
            if isinstance(exc, TransientError):
                raise
            return
        if not changed:
            self._record(run, record(Phase.OUTCOME, Outcome.SKIPPED, note="key already gone"))
            return
        self._record(run, record(Phase.OUTCOME, Outcome.DONE))
        message = "key deleted" if decision.action is Action.DELETE else "key deactivated"
        logger.info(message, extra=_log_fields(run, facts.user_name, decision))

    def _user_failed(
        self, run: _Run, user_name: str | None, user_id: str | None, reason: str, exc: Exception
    ) -> None:
        logger.error(
            reason,
            extra={"account_id": run.context.account_id, "user_id": user_id, "error": str(exc)},
        )
        self._user_record(run, user_name, user_id, reason, Outcome.FAILED, error=str(exc))

    def _user_record(  # noqa: PLR0917
        self,
        run: _Run,
        user_name: str | None,
        user_id: str | None,
        reason: str,
        outcome: Outcome,
        error: str | None = None,
    ) -> None:
        """A record about the user as a whole, when there is no key to decide on."""
        self._record(
            run,
            record_for_user(
                run.context,
                user_name=user_name,
                user_id=user_id,
                reason=reason,
                outcome=outcome,
                recorded_at=self._clock(),
                error=error,
            ),
        )

    def _record(self, run: _Run, record: AuditRecord) -> None:
        self._audit.append(record)
        run.records.append(record)

    def _finish(self, run: _Run) -> RunResult:
        result = RunResult(tuple(run.records))
        notable = [r for r in result.records if r.phase is Phase.OUTCOME or r.outcome is Outcome.FAILED]
        if self._notifier is not None and notable:
            try:
                self._notifier.notify(notable)
            except RemediatorError as exc:
                # Best effort: the actions are done and audited; a retry would only repeat the notice.
                logger.warning("notification failed", extra={"error": str(exc)})
        if self._on_result is not None:
            self._on_result(result)
        return result


def _log_fields(run: _Run, user_name: str, decision: Decision, **more: str) -> dict[str, str]:
    return {
        "account_id": run.context.account_id,
        "user_name": user_name,
        "access_key_id": decision.access_key_id,
        "rule": ",".join(decision.rules),
        **more,
    }
