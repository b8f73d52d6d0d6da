"""The remediation service: read live facts, decide per key, and carry out each decision between an audit
intent and an audit outcome. The event path, the sweep, the CLI and the demo all go through here."""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable
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
from remediator.credential_report import CredentialReport, candidates, users_with_several_active_keys
from remediator.decision import Action, Decision, decide
from remediator.errors import PermanentError, RemediatorError, TransientError
from remediator.events import ComplianceChangeEvent
from remediator.facts import UserFacts
from remediator.lifecycle import Stage, deactivated_by_us
from remediator.lifecycle_updates import (
    advance,
    first_warning,
    forget_vanished_keys,
    gone,
    record_warnings,
)
from remediator.policy import Mode, Policy
from remediator.ports import (
    AccountAccess,
    AuditLog,
    ExemptionSource,
    KeyClaims,
    LifecycleStore,
    MemberAccount,
    Notifier,
)
from remediator.run import FINDING, Run, RunResult

logger = logging.getLogger(__name__)
ROOT_USER = "<root_account>"


class Remediator:
    def __init__(
        self,
        *,
        policy: Policy,
        access: AccountAccess,
        audit: AuditLog,
        exemptions: ExemptionSource,
        claims: KeyClaims,
        lifecycle: LifecycleStore,
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
        self._lifecycle = lifecycle
        self._clock = clock
        self._notifier = notifier
        self._home_region = home_region
        self._owner_tag_key = owner_tag_key
        self._on_result = on_result
        self._staged = policy.mode is Mode.STAGED

    # -- entry points ------------------------------------------------------------------------------

    def remediate_event(self, event: ComplianceChangeEvent) -> RunResult:
        """One NON_COMPLIANT user from a Config event. The event is only a trigger: which keys are bad
        is decided here from the user's current IAM state."""
        detail = event.detail
        run = self._start(detail.aws_account_id, Trigger.EVENT, label=event.id, rule=detail.config_rule_name)
        try:
            member = self._open(
                run, self._home_region or detail.aws_region, event.id, user_id=detail.resource_id
            )
            if member is not None:
                self._remediate_event_user(run, member, detail.resource_id)
        finally:
            result = self._finish(run)
        return result

    def sweep_account(self, account_id: str, *, region: str, label: str) -> RunResult:
        """Reconcile one account: the credential report nominates the users worth a live look (those
        whose keys break a rule or soon will), plus those whose keys this service deactivated; the
        paginated listing stands in when no report can be had. Findings are reported, not acted on."""
        run = self._start(account_id, Trigger.SWEEP, label=label, rule=None)
        try:
            member = self._open(run, region, label, user_id=None)
            if member is not None:
                self._sweep(run, member)
        finally:
            result = self._finish(run)
        return result

    def remediate_account(self, account_id: str, *, region: str, trigger: Trigger, label: str) -> RunResult:
        """Every user of one account, through the paginated listing: what the sweep falls back to."""
        run = self._start(account_id, trigger, label=label, rule=None)
        try:
            member = self._open(run, region, label, user_id=None)
            if member is not None:
                self._every_user(run, member)
        finally:
            result = self._finish(run)
        return result

    # -- steps -------------------------------------------------------------------------------------

    def _start(self, account_id: str, trigger: Trigger, *, label: str, rule: str | None) -> Run:
        """The claims' owner: an event's id, which a retry of the same event shares; for other runs a
        fresh one, so that a message delivered twice does not act twice."""
        context = Context(
            account_id=account_id,
            trigger=trigger,
            event_id=label,
            config_rule_name=rule,
            mode=self._policy.mode,
            thresholds=self._policy.thresholds,
        )
        return Run(
            context=context,
            exemption_source=self._exemptions,
            lifecycle_store=self._lifecycle,
            owner=label if trigger is Trigger.EVENT else f"{label}:{uuid.uuid4().hex[:12]}",
        )

    def _open(self, run: Run, region: str, label: str, *, user_id: str | None) -> MemberAccount | None:
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

    def _remediate_event_user(self, run: Run, member: MemberAccount, user_id: str) -> None:
        try:
            user_name = member.resolve_user_name(user_id)
        except PermanentError as exc:
            self._user_failed(run, None, user_id, "user could not be resolved", exc)
            return
        if user_name is None:
            self._user_record(run, None, user_id, "user no longer exists", Outcome.SKIPPED)
            return
        self._remediate_user(run, member, user_name, user_id)

    def _sweep(self, run: Run, member: MemberAccount) -> None:
        try:
            report = member.credential_report()
        except TransientError as exc:
            # Throttled or not ready: the account is retried later rather than scanned user by user.
            self._user_failed(run, None, None, "credential report unavailable", exc)
            raise
        if report is None:
            self._every_user(run, member)
            return
        nominated = set(
            candidates(
                report, self._policy.thresholds, self._clock(), warn_days=self._policy.warn_days_before
            )
        )
        # Keys this service deactivated are followed up whatever the report says: staged deletion, or a
        # key someone made active again.
        if self._policy.mode is Mode.STAGED:
            nominated |= {lc.user_name for lc in run.lifecycles().values() if lc.stage is Stage.DEACTIVATED}
        for user_name in sorted(nominated):
            self._remediate_user(run, member, user_name, None, report_keyless=False)
        self._report_findings(run, report, checked=nominated)

    def _every_user(self, run: Run, member: MemberAccount) -> None:
        try:
            for user_name, user_id in member.users():
                self._remediate_user(run, member, user_name, user_id, report_keyless=False)
        except PermanentError as exc:
            self._user_failed(run, None, None, "users could not be listed", exc)

    def _report_findings(self, run: Run, report: CredentialReport, *, checked: set[str]) -> None:
        """Report-only findings. Users read live in this run were judged on their live keys already."""
        root = report.root
        if root is not None and root.active_keys:
            self._finding(
                run,
                ROOT_USER,
                None,
                f"the root user has {root.active_keys} active access key(s); only the root user can delete "
                "them (CIS 1.4)",
            )
        for user_name in users_with_several_active_keys(report.users):
            if user_name not in checked:
                self._finding(run, user_name, None, "several active access keys; CIS 1.13 allows one")

    def _remediate_user(
        self,
        run: Run,
        member: MemberAccount,
        user_name: str,
        user_id: str | None,
        *,
        report_keyless: bool = True,
    ) -> UserFacts | None:
        """`report_keyless`: an event names the user, so "no keys" answers it; an account run would
        only fill the log with every user that has no keys."""
        try:
            facts = member.read_user(user_name, user_id)
        except PermanentError as exc:
            # The cached credentials may have been revoked: the next run assumes the role afresh.
            self._access.forget(run.context.account_id)
            self._user_failed(run, user_name, user_id, "user could not be read", exc)
            return None
        forget_vanished_keys(run, user_name, facts, self._clock())
        if facts is None or not facts.keys:
            if facts is None or report_keyless:
                reason = "user no longer exists" if facts is None else "user has no access keys"
                self._user_record(run, user_name, user_id, reason, Outcome.SKIPPED)
            return facts
        now = self._clock()
        deactivated = deactivated_by_us(run.lifecycles())
        first = len(run.records)
        for decision in decide(facts, self._policy, run.exemptions(), now, deactivated):
            self._carry_out(run, member, facts, decision)
        acted = {
            r.access_key_id
            for r in run.records[first:]
            if r.outcome is Outcome.DONE and r.decision in (Action.DELETE, Action.DEACTIVATE)
        }
        active = [key for key in facts.keys if key.is_active and key.access_key_id not in acted]
        if len(active) > 1 and run.context.trigger is not Trigger.EVENT:
            self._finding(
                run, user_name, facts.user_id, f"{len(active)} active access keys; CIS 1.13 allows one"
            )
        return facts

    def _carry_out(self, run: Run, member: MemberAccount, facts: UserFacts, decision: Decision) -> None:
        owner = facts.tags.get(self._owner_tag_key)

        def record(phase: Phase, outcome: Outcome, error: str | None = None, note: str | None = None) -> None:
            written = record_for_decision(
                run.context,
                user_name=facts.user_name,
                user_id=facts.user_id,
                owner=owner,
                decision=decision,
                phase=phase,
                outcome=outcome,
                recorded_at=self._clock(),
                error=error,
                note=note,
            )
            if phase is Phase.INTENT:
                self._audit.append(written)  # before IAM is touched: if it fails, nothing happens
                return
            self._record(run, written)
            if phase is Phase.OUTCOME or (decision.action is Action.WARN and first_warning(run, decision)):
                run.notices.append(written)

        if not decision.action.mutates:
            record(Phase.DECISION, Outcome.SKIPPED)
            advance(run, facts, decision, done=False, now=self._clock(), staged=self._staged)
            return
        key = decision.access_key_id
        if not self._claims.claim(run.context.account_id, key, decision.action.value, owner=run.owner):
            # Both rules usually fire together: the other event's run is acting on this key.
            record(Phase.DECISION, Outcome.SKIPPED, note="another run is acting on this key")
            return
        record(Phase.INTENT, Outcome.PENDING)
        try:
            try:
                if decision.action is Action.DELETE:
                    changed = member.delete_key(facts.user_name, key)
                else:
                    changed = member.deactivate_key(facts.user_name, key)
            except (PermanentError, TransientError) as exc:
                record(Phase.OUTCOME, Outcome.FAILED, error=str(exc))
                logger.error(
                    "key action failed", extra=_log_fields(run, facts.user_name, decision, error=str(exc))
                )
                if isinstance(exc, TransientError):
                    raise
                return
            if not changed:
                record(Phase.OUTCOME, Outcome.SKIPPED, note="key already gone")
                gone(run, key, self._clock())
                return
            record(Phase.OUTCOME, Outcome.DONE)
            message = "key deleted" if decision.action is Action.DELETE else "key deactivated"
            logger.info(message, extra=_log_fields(run, facts.user_name, decision))
            advance(run, facts, decision, done=True, now=self._clock(), staged=self._staged)
        finally:
            self._claims.finish(run.context.account_id, key, owner=run.owner)

    # -- records -----------------------------------------------------------------------------------

    def _finding(self, run: Run, user_name: str, user_id: str | None, reason: str) -> None:
        self._user_record(run, user_name, user_id, reason, Outcome.SKIPPED, decision=FINDING)

    def _user_failed(
        self, run: Run, user_name: str | None, user_id: str | None, reason: str, exc: Exception
    ) -> None:
        logger.error(
            reason, extra={"account_id": run.context.account_id, "user_id": user_id, "error": str(exc)}
        )
        self._user_record(run, user_name, user_id, reason, Outcome.FAILED, error=str(exc))
        run.notices.append(run.records[-1])

    def _user_record(  # noqa: PLR0917
        self,
        run: Run,
        user_name: str | None,
        user_id: str | None,
        reason: str,
        outcome: Outcome,
        error: str | None = None,
        decision: str = "none",
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
                decision=decision,
            ),
        )

    def _record(self, run: Run, record: AuditRecord) -> None:
        self._audit.append(record)
        run.records.append(record)

    def _finish(self, run: Run) -> RunResult:
        result = run.result()
        if self._notifier is not None and run.notices:
            try:
                self._notifier.notify(run.notices)
            except RemediatorError as exc:
                # Best effort: the actions are done and audited; a retry would only repeat the notice.
                # Warnings stay unrecorded, so the next sweep sends them again.
                logger.warning("notification failed", extra={"error": str(exc)})
            else:
                record_warnings(run, self._clock())
        if self._on_result is not None:
            self._on_result(result)
        return result


def _log_fields(run: Run, user_name: str, decision: Decision, **more: str) -> dict[str, str]:
    return {
        "account_id": run.context.account_id,
        "user_name": user_name,
        "access_key_id": decision.access_key_id,
        "rule": ",".join(decision.rules),
        **more,
    }
