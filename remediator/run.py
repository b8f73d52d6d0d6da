"""One remediation run's state and result: the audit records it wrote, the notices it owes, and the
central facts about the account it reads at most once (exemptions, key lifecycles)."""

from __future__ import annotations

from dataclasses import dataclass, field

from remediator.audit import AuditRecord, Context, Outcome
from remediator.decision import Action
from remediator.exemptions import Exemption
from remediator.lifecycle import KeyLifecycle
from remediator.ports import ExemptionSource, LifecycleStore

FINDING = "finding"
"""The decision of a report-only observation (root keys, several active keys per user)."""


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
    records: list[AuditRecord] = field(default_factory=list)
    notices: list[AuditRecord] = field(default_factory=list)
    """What people are told about: actions taken or failed, and first warnings."""
    _exemptions: tuple[Exemption, ...] | None = None
    _lifecycles: dict[str, KeyLifecycle] | None = None

    def exemptions(self) -> tuple[Exemption, ...]:
        if self._exemptions is None:
            self._exemptions = tuple(self.exemption_source.for_account(self.context.account_id))
        return self._exemptions

    def lifecycles(self) -> dict[str, KeyLifecycle]:
        if self._lifecycles is None:
            self._lifecycles = self.lifecycle_store.for_account(self.context.account_id)
        return self._lifecycles

    def save(self, lifecycle: KeyLifecycle) -> None:
        self.lifecycle_store.save(lifecycle)
        self.lifecycles()[lifecycle.access_key_id] = lifecycle

    def result(self) -> RunResult:
        return RunResult(tuple(self.records))
