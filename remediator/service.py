"""The remediation service: read live facts, settle what an earlier run left open, decide per key, and
carry out each decision between an audit intent and an audit outcome (remediator.mutations). The event
path, the sweep, the CLI and the demo all go through here.

Any error that ends a run, in any step, is recorded (remediator.recording) before it goes on: a permanent
one ends the run quietly (a retry cannot help), anything else is raised for the retry and the DLQ.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable, Iterable
from datetime import datetime

from remediator.audit import Context, Outcome, Phase, Trigger
from remediator.breaker import HeldBackError, held
from remediator.credential_report import candidates
from remediator.deadline import Deadline
from remediator.decision import Action, Decision, decide
from remediator.errors import PermanentError, RemediatorError
from remediator.events import ComplianceChangeEvent
from remediator.exemptions import DEFAULT_MAX_EXEMPTION_DAYS
from remediator.facts import UserFacts
from remediator.lifecycle import KeyLifecycle, Stage, deactivated_by_us
from remediator.lifecycle_updates import advance, first_warning, forget_vanished_keys, record_warnings
from remediator.mutations import Mutations
from remediator.policy import Mode, Policy
from remediator.ports import (
    AccountAccess,
    AccountStateSource,
    AuditLog,
    ExemptionRecords,
    ExemptionSource,
    KeyClaims,
    KeyJournal,
    LifecycleStore,
    MemberAccount,
    Notifier,
)
from remediator.recording import Recorder
from remediator.report_findings import record_findings, record_user_findings
from remediator.run import Run, RunResult

logger = logging.getLogger(__name__)


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
        journal: KeyJournal,
        clock: Callable[[], datetime],
        notifier: Notifier | None = None,
        home_region: str | None = None,
        owner_tag_key: str = "owner",
        on_result: Callable[[RunResult], None] | None = None,
        deadline: Deadline | None = None,
        max_exemption_days: int = DEFAULT_MAX_EXEMPTION_DAYS,
        exemption_records: ExemptionRecords | None = None,
        report_only_accounts: frozenset[str] = frozenset(),
        account_state: AccountStateSource | None = None,
    ) -> None:
        """`on_result` sees every run's result, also one cut short by an error (metrics). `deadline`: the
        invocation's, so that an account sweep stops in time to record why. `exemption_records`: verify
        each exemption against its exempt-add audit record (None: honour the state table's word).
        `report_only_accounts`: accounts whose keys are decided in report mode whatever the policy's mode
        (the management account under --management-account report: its member role may not act).
        `account_state`: reads an account's exemptions and key lifecycles in one request (None: one read
        from each of `exemptions` and `lifecycle`)."""
        self._policy = policy
        self._report_policy = policy.model_copy(update={"mode": Mode.REPORT})
        self._report_only = report_only_accounts
        self._access = access
        self._exemptions = exemptions
        self._lifecycle = lifecycle
        self._clock = clock
        self._notifier = notifier
        self._home_region = home_region
        self._on_result = on_result
        self._deadline = deadline or Deadline()
        self._max_exemption_days = max_exemption_days
        self._exemption_records = exemption_records
        self._account_state = account_state
        self._staged = policy.mode is Mode.STAGED
        self._recorder = Recorder(audit=audit, clock=clock, owner_tag_key=owner_tag_key)
        self._mutations = Mutations(
            journal=journal,
            claims=claims,
            recorder=self._recorder,
            clock=clock,
            staged=self._staged,
            owner_tag_key=owner_tag_key,
        )

    # -- entry points ------------------------------------------------------------------------------

    def remediate_event(self, event: ComplianceChangeEvent) -> RunResult:
        """One NON_COMPLIANT user from a Config event. The event is only a trigger: which keys are bad
        is decided here from the user's current IAM state."""
        detail = event.detail
        run = self._start(detail.aws_account_id, Trigger.EVENT, label=event.id, rule=detail.config_rule_name)
        run.subject = (None, detail.resource_id)
        try:
            member = self._open(run, self._home_region or detail.aws_region, event.id)
            self._remediate_event_user(run, member, detail.resource_id)
        except Exception as exc:
            if self._ends(run, exc):
                raise
        finally:
            result = self._finish(run)
        return result

    def sweep_account(self, account_id: str, *, region: str, label: str) -> RunResult:
        """Reconcile one account: the credential report nominates the users worth a live look (those
        whose keys break a rule or soon will), plus those whose keys this service deactivated or holds
        an open intent on; the paginated listing stands in when no report can be had. Findings are
        reported, not acted on."""
        run = self._start(account_id, Trigger.SWEEP, label=label, rule=None)
        try:
            self._deadline.check(f"sweep of {account_id}")
            self._sweep(run, self._open(run, region, label))
        except Exception as exc:
            if self._ends(run, exc):
                raise
        finally:
            result = self._finish(run)
        return result

    def remediate_account(self, account_id: str, *, region: str, trigger: Trigger, label: str) -> RunResult:
        """Every user of one account, through the paginated listing: what the sweep falls back to."""
        run = self._start(account_id, trigger, label=label, rule=None)
        try:
            self._every_user(run, self._open(run, region, label))
        except Exception as exc:
            if self._ends(run, exc):
                raise
        finally:
            result = self._finish(run)
        return result

    def record_failure(
        self, account_id: str, *, label: str, step: str, error: Exception, user_id: str | None = None
    ) -> bool:
        """The failure record of an error outside a run (the handler's idempotency store); False when the
        audit log could not take it either (then it is only logged)."""
        run = self._start(account_id, Trigger.EVENT, label=label, rule=None)
        with self._deadline.finishing():
            self._recorder.failed(run, error, step=step, user_id=user_id)
        return run.unrecorded_failures == 0

    # -- steps -------------------------------------------------------------------------------------

    def _policy_of(self, account_id: str) -> Policy:
        return self._report_policy if account_id in self._report_only else self._policy

    def _start(self, account_id: str, trigger: Trigger, *, label: str, rule: str | None) -> Run:
        """The claims' owner: an event's id, which a retry of the same event shares; for other runs a
        fresh one, so that a message delivered twice does not act twice."""
        context = Context(
            account_id=account_id,
            trigger=trigger,
            event_id=label,
            config_rule_name=rule,
            mode=self._policy_of(account_id).mode,
            thresholds=self._policy.thresholds,
        )
        return Run(
            context=context,
            exemption_source=self._exemptions,
            lifecycle_store=self._lifecycle,
            owner=label if trigger is Trigger.EVENT else f"{label}:{uuid.uuid4().hex[:12]}",
            clock=self._clock,
            max_exemption_days=self._max_exemption_days,
            exemption_records=self._exemption_records,
            state_source=self._account_state,
        )

    def _ends(self, run: Run, exc: Exception) -> bool:
        """Record the error that ends the run; True when it is raised on (for the retry)."""
        user_name, user_id = run.subject
        with self._deadline.finishing():
            self._recorder.failed(
                run, exc, user_name=user_name, user_id=user_id, access_key_id=run.access_key_id
            )
        if isinstance(exc, PermanentError):
            if run.step == "assume-role":
                self._access.forget(run.context.account_id)
            return False  # retrying cannot help: recorded, counted, not retried
        return True

    def _open(self, run: Run, region: str, label: str) -> MemberAccount:
        run.step = "assume-role"
        member = self._access.open(run.context.account_id, region=region, label=label)
        run.context = run.context.model_copy(update={"role_session_name": member.role_session_name})
        return member

    def _remediate_event_user(self, run: Run, member: MemberAccount, user_id: str) -> None:
        run.step = "resolve-user"
        user_name = member.resolve_user_name(user_id)
        if user_name is None:
            self._recorder.user(run, None, user_id, "user no longer exists", Outcome.SKIPPED)
            return
        self._remediate_user(run, member, user_name, user_id)

    def _sweep(self, run: Run, member: MemberAccount) -> None:
        run.step = "credential-report"
        # Throttled or not ready: raised, and the account is retried later rather than scanned user by
        # user when IAM is already busy.
        report = member.credential_report()
        if report is None:
            self._every_user(run, member)
            return
        nominated = set(
            candidates(
                report, self._policy.thresholds, self._clock(), warn_days=self._policy.warn_days_before
            )
        )
        # Rows the report could not be read for are read live (and reported below).
        nominated |= {problem.user for problem in report.problems}
        run.step = "central-state"
        lifecycles = run.lifecycles()
        # Keys this service deactivated are followed up whatever the report says: staged deletion, or a
        # key someone made active again. Intents left open are settled, so none stays open past a sweep.
        if self._policy.mode is Mode.STAGED:
            nominated |= {lc.user_name for lc in lifecycles.values() if lc.stage is Stage.DEACTIVATED}
        nominated |= {lc.user_name for lc in lifecycles.values() if lc.pending}
        for user_name in sorted(nominated):
            self._deadline.check(f"sweep of {run.context.account_id}")
            self._remediate_user(run, member, user_name, None, report_keyless=False)
        protected = self._policy_of(run.context.account_id).protected_user_path
        record_findings(self._recorder, run, report, checked=nominated, protected_path=protected)

    def _every_user(self, run: Run, member: MemberAccount) -> None:
        run.step = "list-users"
        seen = set()
        try:
            for user_name, user_id in member.users():
                self._deadline.check(f"listing of {run.context.account_id}")
                seen.add(user_name)
                self._remediate_user(run, member, user_name, user_id, report_keyless=False)
                run.step = "list-users"
        except PermanentError as exc:
            self._recorder.failed(run, exc)  # run.step says where: listing, or the user being read
            return
        # Intents left open on the keys of users who no longer exist.
        for user_name in sorted({lc.user_name for lc in run.lifecycles().values() if lc.pending} - seen):
            self._remediate_user(run, member, user_name, None, report_keyless=False)

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
        run.subject, run.access_key_id = (user_name, user_id), None
        run.step = "read-user"
        try:
            facts = member.read_user(user_name, user_id)
        except PermanentError as exc:
            # The cached credentials may have been revoked: the next run assumes the role afresh.
            self._access.forget(run.context.account_id)
            self._recorder.failed(run, exc, user_name=user_name, user_id=user_id)
            return None
        run.step = "central-state"
        open_marks = sorted(
            (lc for lc in run.lifecycles().values() if lc.pending and lc.user_name == user_name),
            key=lambda lc: lc.access_key_id,
        )
        settled = self._settle_open(run, member, facts, open_marks)
        run.step = "lifecycle"
        forget_vanished_keys(run, user_name, facts, self._clock())
        if facts is None or not facts.keys:
            if facts is None or report_keyless:
                reason = "user no longer exists" if facts is None else "user has no access keys"
                self._recorder.user(run, user_name, user_id, reason, Outcome.SKIPPED)
            return facts
        first = len(run.records)
        for decision in self._decide(run, facts):
            if decision.access_key_id not in settled:
                run.access_key_id = decision.access_key_id
                self._carry_out(run, member, facts, decision)
        run.access_key_id = None
        acted = {
            r.access_key_id
            for r in run.records[first:]
            if r.outcome is Outcome.DONE and r.decision in (Action.DELETE, Action.DEACTIVATE)
        }
        active = [key for key in facts.keys if key.is_active and key.access_key_id not in acted]
        if run.context.trigger is not Trigger.EVENT:
            protected = self._policy_of(run.context.account_id).protected_user_path
            record_user_findings(
                self._recorder, run, facts, active_keys=len(active), protected_path=protected
            )
        return facts

    def _settle_open(
        self, run: Run, member: MemberAccount, facts: UserFacts | None, marks: Iterable[KeyLifecycle]
    ) -> set[str]:
        """Settle the user's open intents first; the keys that need nothing more in this run."""
        marks = list(marks)
        if not marks:
            return set()
        fresh = {d.access_key_id: d for d in self._decide(run, facts)} if facts and facts.keys else {}
        done = set()
        for marked in marks:
            run.access_key_id = marked.access_key_id
            if self._mutations.settle_open(run, member, facts, marked, fresh.get(marked.access_key_id)):
                done.add(marked.access_key_id)
        run.access_key_id = None
        return done

    def _decide(self, run: Run, facts: UserFacts) -> tuple[Decision, ...]:
        """decide() with the run's exemptions; a decision on a key that a rejected exemption names says so
        (the exemption is never silently dropped)."""
        run.step = "central-state"
        policy = self._policy_of(run.context.account_id)
        decisions = decide(
            facts, policy, run.exemptions(facts.user_name), self._clock(), deactivated_by_us(run.lifecycles())
        )
        rejected = run.rejected_exemptions()
        if not rejected:
            return decisions
        noted = []
        for decision in decisions:
            notes = [
                r.note()
                for r in rejected
                if r.names(user_name=facts.user_name, access_key_id=decision.access_key_id)
            ]
            noted.append(
                decision.model_copy(update={"reason": "; ".join((decision.reason, *notes))})
                if notes
                else decision
            )
        return tuple(noted)

    def _carry_out(self, run: Run, member: MemberAccount, facts: UserFacts, decision: Decision) -> None:
        if decision.action.mutates:
            if run.hold is None:
                try:
                    self._mutations.carry_out(run, member, facts, decision)
                    return
                except HeldBackError as exc:
                    # The pause or a cap of the day: the rest of this run is report, without asking again.
                    run.hold = exc.hold
                    logger.warning(
                        "mutations held back",
                        extra={"account_id": run.context.account_id, "scope": exc.hold.scope.value},
                    )
            decision = held(decision, run.hold)
            run.held_back[run.hold.scope] += 1
        record = self._recorder.decision(run, facts, decision, Phase.DECISION, Outcome.SKIPPED)
        self._recorder.write(run, record)
        if decision.action is Action.WARN and first_warning(run, decision):
            run.notices.append(record)
        run.step = "lifecycle"
        advance(run, facts, decision, done=False, now=self._clock(), staged=self._staged)

    def _finish(self, run: Run) -> RunResult:
        if self._notifier is not None and run.notices:
            try:
                self._notifier.notify(run.notices)
            except RemediatorError as exc:
                # Best effort: the actions are done and audited; a retry would only repeat the notice.
                # Warnings stay unrecorded, so the next sweep sends them again.
                logger.warning("notification failed", extra={"error": str(exc)})
            else:
                try:
                    record_warnings(run, self._clock())
                except RemediatorError as exc:
                    # Sent but not noted: the next sweep warns once more. Not retried, which would too.
                    with self._deadline.finishing():
                        self._recorder.failed(run, exc, step="lifecycle")
        result = run.result()
        if self._on_result is not None:
            self._on_result(result)
        return result
