"""`akr audit verify`: the audit table compared with its Object-Locked archive, for one window. Pure.

The table is the working copy; the archive (remediator.archive_format) holds every record as it was
written, hashed. A record of the window is:
- altered: its archived hashes disagree with the table's (or with one another), or the archive holds a
  MODIFY of it: the table is append-only, so any rewrite is tampering;
- deleted: the archive has it and the table does not, or the archive holds a REMOVE of it;
- never archived: the table has it and the archive does not, although it is older than ARCHIVER_LAG.
Lines for one record that agree (a retried batch, a backfill of a record the stream also delivered)
are no finding. Records younger than ARCHIVER_LAG that are not archived yet are counted, not reported.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from enum import StrEnum

from remediator.archive_format import ArchiveLine, AttributeMap, record_sha256

ARCHIVER_LAG = timedelta(minutes=15)
"""How long a record may take to reach the archive before its absence is a finding. The stream delivers
within seconds; the archiver's event source mapping may gather records for up to 300 s before it invokes
(MaximumBatchingWindowInSeconds, https://docs.aws.amazon.com/lambda/latest/dg/services-ddb-params.html),
and a failed batch is retried with backoff: 15 minutes covers the window and a few retries, while a
stream outage (24 hours of retention) still shows within the hour."""


class FindingKind(StrEnum):
    ALTERED = "altered"
    DELETED = "deleted"
    NOT_ARCHIVED = "not-archived"


@dataclass(frozen=True)
class TableRecord:
    """A record as the table holds it now, in attribute-value form, with its hash."""

    account_id: str
    record_id: str
    recorded_at: datetime
    sha256: str
    item: AttributeMap

    @property
    def key(self) -> tuple[str, str]:
        return (self.account_id, self.record_id)


def table_record(item: AttributeMap) -> TableRecord:
    """A low-level Query's item. Its time is its `recorded_at`, else its record id's time part."""
    record_id = str(item["record_id"]["S"])
    stamp = str(item.get("recorded_at", {}).get("S") or record_id.split("#", 1)[0])
    recorded_at = datetime.fromisoformat(stamp.replace("Z", "+00:00"))
    return TableRecord(
        account_id=str(item["account_id"]["S"]),
        record_id=record_id,
        recorded_at=recorded_at if recorded_at.tzinfo else recorded_at.replace(tzinfo=UTC),
        sha256=record_sha256(item),
        item=item,
    )


@dataclass(frozen=True)
class Finding:
    kind: FindingKind
    account_id: str
    record_id: str
    detail: str
    """What shows it, in words: which hashes, which stream events."""
    table_sha256: str | None = None
    archive_sha256: str | None = None


@dataclass(frozen=True)
class Verification:
    since: datetime
    until: datetime
    checked_at: datetime
    records: int
    """Records in the table, in the window."""
    lines: int
    """Archive lines read for the window."""
    findings: tuple[Finding, ...] = ()
    recent: int = 0
    """Records younger than ARCHIVER_LAG that are not archived yet: not findings."""
    archived: int = 0
    """Records of the table that the archive holds unchanged."""

    @property
    def clean(self) -> bool:
        return not self.findings

    def of_kind(self, *kinds: FindingKind) -> list[Finding]:
        return [finding for finding in self.findings if finding.kind in kinds]

    @property
    def tampered(self) -> list[Finding]:
        """What a backfill must never paper over."""
        return self.of_kind(FindingKind.ALTERED, FindingKind.DELETED)

    @property
    def missing(self) -> list[Finding]:
        return self.of_kind(FindingKind.NOT_ARCHIVED)


def _order(line: ArchiveLine) -> tuple[datetime, int, str]:
    # Stream sequence numbers are decimal strings that grow within a shard; a backfill line has none.
    sequence = int(line.sequence_number) if line.sequence_number.isdigit() else -1
    return (line.approximate_time, sequence, line.event_id)


def _short(sha256: str | None) -> str:
    return "none" if sha256 is None else sha256[:12]


def _judge(record: TableRecord | None, lines: Sequence[ArchiveLine]) -> Finding | None:
    """The finding about one record that the archive holds, or None when all agrees."""
    account_id, record_id = lines[0].account_id, lines[0].record_id
    ordered = sorted(lines, key=_order)
    latest = next((line.sha256 for line in reversed(ordered) if line.sha256 is not None), None)
    table_hash = None if record is None else record.sha256

    def finding(kind: FindingKind, detail: str) -> Finding:
        return Finding(kind, account_id, record_id, detail, table_sha256=table_hash, archive_sha256=latest)

    removes = [line for line in ordered if line.event == "REMOVE"]
    if record is None or removes:
        when = f"; removed at {removes[-1].approximate_time:%Y-%m-%d %H:%M:%S} UTC" if removes else ""
        where = "not in the table" if record is None else "in the table again"
        return finding(FindingKind.DELETED, f"archived, {where}{when}")
    modifies = [line for line in ordered if line.event == "MODIFY"]
    if modifies:
        last = modifies[-1]
        return finding(
            FindingKind.ALTERED,
            f"rewritten at {last.approximate_time:%Y-%m-%d %H:%M:%S} UTC: {_short(last.old_sha256)} -> "
            f"{_short(last.sha256)} ({len(modifies)} MODIFY event(s) archived)",
        )
    if latest != record.sha256:
        return finding(
            FindingKind.ALTERED,
            f"the table's hash {_short(record.sha256)} is not the archived {_short(latest)}",
        )
    written = {line.sha256 for line in ordered if line.sha256 is not None}
    if len(written) > 1:
        return finding(
            FindingKind.ALTERED,
            f"archived with {len(written)} different hashes: {', '.join(sorted(map(_short, written)))}",
        )
    return None


@dataclass
class _Tally:
    findings: list[Finding] = field(default_factory=list)
    recent: int = 0
    archived: int = 0


def verify(
    records: Iterable[TableRecord],
    lines: Iterable[ArchiveLine],
    *,
    since: datetime,
    until: datetime,
    now: datetime,
    lag: timedelta = ARCHIVER_LAG,
) -> Verification:
    """Compare the window's table records with the window's archive lines (both already limited to the
    window by the reader). Findings sorted by account, then record id (time)."""
    in_table = {record.key: record for record in records}
    archived: dict[tuple[str, str], list[ArchiveLine]] = defaultdict(list)
    count = 0
    for line in lines:
        archived[(line.account_id, line.record_id)].append(line)
        count += 1
    tally = _Tally()
    for key, its_lines in archived.items():
        judged = _judge(in_table.get(key), its_lines)
        if judged is None:
            tally.archived += 1
        else:
            tally.findings.append(judged)
    for key, record in in_table.items():
        if key in archived:
            continue
        if now - record.recorded_at < lag:
            tally.recent += 1
            continue
        tally.findings.append(
            Finding(
                FindingKind.NOT_ARCHIVED,
                record.account_id,
                record.record_id,
                f"in the table, not in the archive, {_age(now - record.recorded_at)} old",
                table_sha256=record.sha256,
            )
        )
    tally.findings.sort(key=lambda finding: (finding.account_id, finding.record_id))
    return Verification(
        since=since,
        until=until,
        checked_at=now,
        records=len(in_table),
        lines=count,
        findings=tuple(tally.findings),
        recent=tally.recent,
        archived=tally.archived,
    )


def _age(delta: timedelta) -> str:
    if delta >= timedelta(days=1):
        return f"{delta.days} day(s)"
    minutes = int(delta.total_seconds()) // 60
    return f"{minutes // 60}h {minutes % 60}m" if minutes >= 60 else f"{minutes} minute(s)"


def summary_line(verification: Verification) -> str:
    """One line: clean, or the findings per kind."""
    head = f"{verification.records} record(s) in the table, {verification.lines} archive line(s)"
    if verification.clean:
        recent = f"; {verification.recent} too recent to be archived yet" if verification.recent else ""
        return f"clean: {head}, every record archived unchanged{recent}"
    counts = ", ".join(
        f"{len(verification.of_kind(kind))} {kind.value}"
        for kind in FindingKind
        if verification.of_kind(kind)
    )
    return f"{len(verification.findings)} finding(s): {counts} ({head})"
