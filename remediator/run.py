"""One remediation run's state and result: the audit records it wrote, the notices it owes, the step it is
in (for the failure record), and the central facts about the account it reads at most once (exemptions,
key lifecycles)."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime

from remediator.audit import AuditRecord, Context, Outcome, Trigger
from remediator.breaker import Hold, Scope
from remediator.decision import Action
from remediator.exemption_records import verify
from remediator.exemptions import ANY_USER, DEFAULT_MAX_EXEMPTION_DAYS, Exemption, RejectedExemption, screen
from remediator.lifecycle import KeyLifecycle
from remediator.ports import (
    AccountStateSource,
    ExemptionRecords,
    ExemptionSource,
    ExemptionsRead,
    LifecycleStore,
)

FINDING = "finding"
"""The decision of a report-only observation (root keys, several active keys per user)."""


@dataclass(frozen=True)
class RunResult:
    """The final audit record of every decision in one run (the outcome, not the intent)."""

    records: tuple[AuditRecord, ...] = ()
    unrecorded_failures: int = 0
    """Failures whose record could not be written (the audit store was down): logged and counted only."""
    exemptions_rejected: int = 0
    """Exemption items of the account that the run read and could not honour."""
    held_back: Mapping[Scope, int] = field(default_factory=dict)
    """Mutations decided but recorded as report: by the pause, or by a cap of the day (the breaker)."""

    @property
    def breaker_tripped(self) -> int:
        """Keys held back by a cap (the circuit breaker), not by the pause."""
        return sum(n for scope, n in self.held_back.items() if scope is not Scope.PAUSED)

    @property
    def paused(self) -> int:
        return self.held_back.get(Scope.PAUSED, 0)

    def count(self, decision: Action | str, outcome: Outcome) -> int:
        return sum(1 for r in self.records if r.decision == decision and r.outcome == outcome)

    @property
    def failures(self) -> int:
        return sum(1 for r in self.records if r.outcome == Outcome.FAILED) + self.unrecorded_failures

    def summary(self) -> dict[str, int]:
        return {
            "deactivated": self.count(Action.DEACTIVATE, Outcome.DONE),
            "deleted": self.count(Action.DELETE, Outcome.DONE),
            "exempted": self.count(Action.EXEMPT, Outcome.SKIPPED),
            "reported": self.count(Action.REPORT, Outcome.SKIPPED),
            "warned": self.count(Action.WARN, Outcome.SKIPPED),
            "compliant": self.count(Action.NONE, Outcome.SKIPPED),
            "findings": self.count(FINDING, Outcome.SKIPPED),
            "failed": self.failures,
        }


@dataclass
class Run:
    context: Context
    exemption_source: ExemptionSource
    lifecycle_store: LifecycleStore
    owner: str
    """Who holds this run's claims on keys: the event id, or the account run's label."""
    clock: Callable[[], datetime]
    max_exemption_days: int = DEFAULT_MAX_EXEMPTION_DAYS
    exemption_records: ExemptionRecords | None = None
    """Where the exempt-add records that prove exemptions are read; None: exemptions are not verified."""
    state_source: AccountStateSource | None = None
    """Reads the exemptions and the lifecycles together, in one request; None: each from its own source."""
    records: list[AuditRecord] = field(default_factory=list)
    notices: list[AuditRecord] = field(default_factory=list)
    """What people are told about: actions taken or failed, and first warnings."""
    step: str = "start"
    """What the run is doing now; a failure that ends the run is recorded with it."""
    subject: tuple[str | None, str | None] = (None, None)
    """The user (name, unique id) the run is looking at, for the failure record."""
    access_key_id: str | None = None
    """The key the run is acting on, for the failure record."""
    unrecorded_failures: int = 0
    hold: Hold | None = None
    """Set once the journal held a mutation back: every later mutation of the run is report."""
    held_back: Counter[Scope] = field(default_factory=Counter)
    audited: set[int] = field(default_factory=set)
    """The ids of the exceptions whose failure record is written already (never written twice)."""
    _written: int = 0
    _screened: tuple[Exemption, ...] | None = None
    _proven: dict[str, bool] = field(default_factory=dict)
    """Verification's answer per exemption item ("<user or *>#<key or *>"), once per run."""
    _rejected: tuple[RejectedExemption, ...] = ()
    _lifecycles: dict[str, KeyLifecycle] | None = None
    _state_read: ExemptionsRead | None = None

    def seed(self, *parts: str) -> str:
        """The seed of the next record's id: this run, the record's position in it, and what it is about.
        The same record keeps its id through a retried put; no two records of a run share one."""
        self._written += 1
        return "|".join((self.owner, self.context.account_id, str(self._written), *parts))

    def exemptions(self, user_name: str | None = None) -> tuple[Exemption, ...]:
        """The account's exemptions the remediator honours (read once per run; with verification, each one
        in force proven by its audit record, two reads each, once per run). `user_name`: only those that can
        cover that user's keys are wanted. An event run then verifies no others: the exemptions of other
        users cost it nothing, and the sweep verifies every one (and counts what it rejects) each day."""
        screened = self._screen()
        if self.exemption_records is None:
            return screened
        wanted = screened
        if user_name is not None and self.context.trigger is Trigger.EVENT:
            wanted = tuple(e for e in wanted if e.user_name in (ANY_USER, user_name))
        self._verify([e for e in wanted if e.item not in self._proven])
        return tuple(e for e in wanted if self._proven[e.item])

    def _screen(self) -> tuple[Exemption, ...]:
        """The exemptions that parse and stay within the horizon (no call beyond the one read)."""
        if self._screened is None:
            read = self._exemptions_read()
            self._screened, beyond = screen(read.valid, now=self.clock(), max_days=self.max_exemption_days)
            self._rejected = (*read.rejected, *beyond)
        return self._screened

    def _verify(self, unchecked: list[Exemption]) -> None:
        if not unchecked or self.exemption_records is None:
            return
        records = self.exemption_records
        kept, unproven = verify(
            unchecked, records.find, records.revoked_by, now=self.clock(), max_days=self.max_exemption_days
        )
        self._proven |= {e.item: True for e in kept} | {r.item: False for r in unproven}
        self._rejected = (*self._rejected, *unproven)

    def _exemptions_read(self) -> ExemptionsRead:
        if self.state_source is None:
            return self.exemption_source.read(self.context.account_id)
        return self._state_read or self._read_both(self.state_source)

    def _read_both(self, source: AccountStateSource) -> ExemptionsRead:
        """Once per run, before any lifecycle is known (so that none the run remembered is read over)."""
        read, lifecycles = source.read(self.context.account_id)
        self._state_read, self._lifecycles = read, lifecycles
        return read

    def rejected_exemptions(self) -> tuple[RejectedExemption, ...]:
        """What the run could not honour so far: every item that does not parse or reaches too far, and
        those verification rejected (of the users it looked at, in an event run)."""
        self._screen()
        return self._rejected

    def lifecycles(self) -> dict[str, KeyLifecycle]:
        if self._lifecycles is None:
            if self.state_source is not None:
                self._read_both(self.state_source)
            else:
                self._lifecycles = self.lifecycle_store.for_account(self.context.account_id)
        assert self._lifecycles is not None  # noqa: S101
        return self._lifecycles

    def save(self, lifecycle: KeyLifecycle) -> None:
        known = self.lifecycles().get(lifecycle.access_key_id)
        self.lifecycle_store.save(lifecycle)
        # The store leaves the pending mark as it is; so does the run's copy.
        self.remember(lifecycle.model_copy(update={"pending": known.pending if known else None}))

    def remember(self, lifecycle: KeyLifecycle) -> None:
        """The key's lifecycle as the journal has just written it."""
        self.lifecycles()[lifecycle.access_key_id] = lifecycle

    def result(self) -> RunResult:
        return RunResult(
            tuple(self.records),
            unrecorded_failures=self.unrecorded_failures,
            exemptions_rejected=len(self._rejected),
            held_back=dict(self.held_back),
        )
