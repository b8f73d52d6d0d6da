"""What the HTML report of the audit log shows, computed from the records: one row per decision, the
totals, the counts per account and per day, the failures, and the exemptions that are expiring. Pure.

A decision that changes nothing is one record (phase `decision`). A mutation is two: an intent (pending)
written before IAM is touched and an outcome (done, failed, skipped) after. A row is the final record of a
decision: the outcome, or the intent alone when no outcome followed it (a run that stopped between the
two), which the report flags.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

from remediator.audit import AuditRecord, Outcome, Phase
from remediator.exemptions import Exemption

DEFAULT_EXPIRING_WITHIN = timedelta(days=14)
LONG_WINDOW = 92
OUTCOMES = tuple(outcome.value for outcome in Outcome)
"""pending, done, failed, skipped, abandoned: the order of the totals."""
NO_ACTION = "no action"
ALREADY_GONE = "already gone"
RESULTS = ("pending", "done", "failed", NO_ACTION, ALREADY_GONE, Outcome.ABANDONED.value)
"""What became of each decision, as the page counts it: "skipped" is two things, a decision that needed
no change (a record of phase decision) and a change the key was gone for (the outcome of an intent); an
intent left open and settled later without acting is "abandoned"."""


def result_of(record: AuditRecord) -> str:
    if record.outcome is Outcome.SKIPPED:
        return ALREADY_GONE if record.phase is Phase.OUTCOME else NO_ACTION
    return record.outcome.value


_Pairing = tuple[str, str | None, str, str, str | None, str | None, str | None]


@dataclass(frozen=True)
class DecisionRow:
    record: AuditRecord
    """The final record of the decision."""
    unfinished: bool = False
    """An intent that no outcome followed in the records read."""

    @property
    def day(self) -> str:
        return self.record.recorded_at.astimezone(UTC).strftime("%Y-%m-%d")


def _pairing(record: AuditRecord) -> _Pairing:
    """What an intent and its outcome share: the same run acting on the same key."""
    return (
        record.account_id,
        record.access_key_id,
        record.decision,
        record.trigger.value,
        record.event_id,
        record.role_session_name,
        record.operator,
    )


def _order(record: AuditRecord) -> tuple[datetime, int, str]:
    """Time, then an intent before anything else at the same instant. Not record_id alone: it holds
    milliseconds and then a random suffix, so an intent and its outcome in one millisecond would sort
    either way round."""
    return (record.recorded_at, 0 if record.phase is Phase.INTENT else 1, record.record_id)


def decision_rows(records: Iterable[AuditRecord]) -> list[DecisionRow]:
    """One row per decision, newest first. An intent is closed by the first later outcome of the same
    run and key (at the same instant counts as later); intents still open at the end are rows of their
    own, marked unfinished."""
    rows: list[DecisionRow] = []
    open_intents: dict[_Pairing, list[AuditRecord]] = {}
    for record in sorted(records, key=_order):
        if record.phase is Phase.INTENT:
            open_intents.setdefault(_pairing(record), []).append(record)
            continue
        if record.phase is Phase.OUTCOME:
            waiting = open_intents.get(_pairing(record))
            if waiting:
                waiting.pop(0)
        rows.append(DecisionRow(record))
    unfinished = (intent for waiting in open_intents.values() for intent in waiting)
    rows.extend(DecisionRow(intent, unfinished=True) for intent in unfinished)
    rows.sort(key=lambda row: _order(row.record), reverse=True)
    return rows


@dataclass(frozen=True)
class ExemptionView:
    in_force: int
    expiring: list[Exemption]
    """In force, and expiring within the window; soonest first."""
    expired: list[Exemption]
    """Expired and still stored; most recently expired first."""


def exemption_view(exemptions: Iterable[Exemption], *, now: datetime, within: timedelta) -> ExemptionView:
    listed = list(exemptions)
    in_force = [e for e in listed if now < e.expires_at]
    return ExemptionView(
        in_force=len(in_force),
        expiring=sorted((e for e in in_force if e.expires_at <= now + within), key=lambda e: e.expires_at),
        expired=sorted((e for e in listed if e.expires_at <= now), key=lambda e: e.expires_at, reverse=True),
    )


@dataclass(frozen=True)
class Summary:
    rows: list[DecisionRow]
    decisions: Counter[str]
    """Rows per decision."""
    outcomes: Counter[str]
    """Rows per outcome; `pending` counts the unfinished intents."""
    results: Counter[str]
    """Rows per RESULTS label: the outcomes, with "skipped" told apart."""
    per_account: dict[str, Counter[str]]
    """Account id -> rows per decision, accounts in id order."""
    per_day: dict[str, Counter[str]]
    """Day (UTC, YYYY-MM-DD) -> rows per decision, for the days that have rows, oldest first."""
    days: list[str]
    """The per-day chart's axis, oldest first (axis_days)."""
    failures: list[DecisionRow]
    unfinished: int
    exemptions: ExemptionView

    @property
    def decision_names(self) -> list[str]:
        """The decisions present, most frequent first (then by name): the legend's order."""
        return sorted(self.decisions, key=lambda name: (-self.decisions[name], name))

    def totals(self) -> Totals:
        return Totals(
            decisions=len(self.rows),
            by_decision=dict(sorted(self.decisions.items())),
            by_outcome={name: self.outcomes.get(name, 0) for name in OUTCOMES},
            by_result={name: self.results.get(name, 0) for name in RESULTS},
            accounts=len(self.per_account),
            failures=len(self.failures),
            unfinished=self.unfinished,
            exemptions_in_force=self.exemptions.in_force,
            exemptions_expiring=len(self.exemptions.expiring),
            exemptions_expired=len(self.exemptions.expired),
        )


@dataclass(frozen=True)
class Totals:
    """The numbers `akr report` prints and puts in its JSON envelope."""

    decisions: int
    by_decision: dict[str, int]
    by_outcome: dict[str, int]
    """Every outcome, zeros included, in OUTCOMES order."""
    by_result: dict[str, int]
    """Every RESULTS label, zeros included: skipped told apart into no action and already gone."""
    accounts: int
    failures: int
    unfinished: int
    """Intents without an outcome (counted in by_outcome as pending)."""
    exemptions_in_force: int
    exemptions_expiring: int
    exemptions_expired: int


def axis_days(since: datetime, until: datetime, row_days: Iterable[str]) -> list[str]:
    """Every day from `since` to `until` (UTC), widened to take in the rows' days. A window longer than
    LONG_WINDOW days starts at the first day with rows instead, so that the bars stay readable."""
    seen = sorted(row_days)
    first, last = since.astimezone(UTC).date(), until.astimezone(UTC).date()
    if seen:
        first_seen, last_seen = date.fromisoformat(seen[0]), date.fromisoformat(seen[-1])
        last = max(last, last_seen)
        first = min(first, first_seen) if (last - first).days < LONG_WINDOW else first_seen
    return [(first + timedelta(days=n)).isoformat() for n in range((last - first).days + 1)]


def _grouped(rows: Sequence[DecisionRow], key: str) -> dict[str, Counter[str]]:
    grouped: dict[str, Counter[str]] = {}
    for row in rows:
        name = row.record.account_id if key == "account" else row.day
        grouped.setdefault(name, Counter())[row.record.decision] += 1
    return dict(sorted(grouped.items()))


def summarize(
    records: Iterable[AuditRecord],
    exemptions: Iterable[Exemption],
    *,
    now: datetime,
    since: datetime,
    until: datetime,
    expiring_within: timedelta = DEFAULT_EXPIRING_WITHIN,
) -> Summary:
    rows = decision_rows(records)
    per_day = _grouped(rows, "day")
    return Summary(
        rows=rows,
        decisions=Counter(row.record.decision for row in rows),
        outcomes=Counter(row.record.outcome.value for row in rows),
        results=Counter(result_of(row.record) for row in rows),
        per_account=_grouped(rows, "account"),
        per_day=per_day,
        days=axis_days(since, until, per_day),
        failures=[row for row in rows if row.record.outcome is Outcome.FAILED],
        unfinished=sum(1 for row in rows if row.unfinished),
        exemptions=exemption_view(exemptions, now=now, within=expiring_within),
    )
