"""`akr audit verify --backfill`: archive the table records that never reached the archive (the stream keeps
24 hours; an archiver down for longer loses them), as BACKFILL lines (remediator.archive_format).

An operator action like any other: an intent record (operator, window, count, the records) before the
first object is written, an outcome record after. It never runs over tampering: in a window where a
record was altered or deleted it refuses, and a record whose hash differs from its archived one is never
re-archived (only records the archive does not hold at all are). What it archives is the table's word for
those records: the intent record names them, for whoever reviews the backfill.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime

from botocore.exceptions import BotoCoreError, ClientError

from org_bootstrap.aws import CliError, describe
from org_bootstrap.deploy.central import settings_from
from org_bootstrap.review.audit_evidence import Evidence, Window
from org_bootstrap.review.audit_verify import TableRecord, Verification
from remediator.adapters.audit_table import DynamoDBAuditLog
from remediator.archive_format import (
    ARCHIVE_PREFIX,
    ArchiveLine,
    backfill_object_key,
    line_from_item,
    to_json_lines,
)
from remediator.audit import AuditRecord, Outcome, Phase, Trigger, new_record_id
from remediator.errors import RemediatorError

BACKFILL = "archive-backfill"
"""The decision of a backfill's audit records."""
NAMED = 50
"""Record ids the intent record lists; the rest are counted (an item holds at most 400 KB)."""


class BackfillRefusedError(CliError):
    """The window has altered or deleted records: a backfill would archive over the evidence."""


@dataclass(frozen=True)
class Backfill:
    intent_id: str
    outcome_id: str
    archived: int
    objects: tuple[str, ...]


def to_backfill(verification: Verification, records: Sequence[TableRecord]) -> list[TableRecord]:
    """The records a backfill archives: exactly the never-archived findings. Refused (nothing to write)
    while the window holds an altered or deleted record. Pure."""
    tampered = verification.tampered
    if tampered:
        raise BackfillRefusedError(
            f"the window has {len(tampered)} altered or deleted record(s), reported above: a backfill never "
            "archives over tampering; investigate them first, then backfill a window without them "
            "(--since/--until, --account)"
        )
    missing = {(finding.account_id, finding.record_id) for finding in verification.missing}
    return sorted((r for r in records if r.key in missing), key=lambda r: (r.account_id, r.record_id))


def _scope(window: Window) -> str:
    accounts = f" of {', '.join(window.accounts)}" if window.accounts else ""
    return f"{window.since:%Y-%m-%dT%H:%M:%SZ} to {window.until:%Y-%m-%dT%H:%M:%SZ}{accounts}"


def _names(records: Sequence[TableRecord]) -> str:
    named = ", ".join(f"{r.account_id}/{r.record_id}" for r in records[:NAMED])
    rest = len(records) - NAMED
    return named + (f" and {rest} more" if rest > 0 else "")


def _record(evidence: Evidence, *, phase: Phase, outcome: Outcome, reason: str, now: datetime) -> AuditRecord:
    settings = settings_from(evidence.central.stack, account_role="unused")
    return AuditRecord(
        record_id=new_record_id(now),
        account_id=evidence.owner,
        decision=BACKFILL,
        mode=settings.mode,
        reason=reason,
        thresholds=settings.thresholds,
        operator=evidence.operator,
        trigger=Trigger.CLI,
        phase=phase,
        outcome=outcome,
        recorded_at=now,
    )


def _objects(lines: Sequence[ArchiveLine], operation_id: str) -> dict[str, list[ArchiveLine]]:
    grouped: dict[str, list[ArchiveLine]] = defaultdict(list)
    for line in lines:
        grouped[backfill_object_key(ARCHIVE_PREFIX, line.day, line.account_id, operation_id)].append(line)
    return dict(grouped)


def backfill(
    evidence: Evidence, window: Window, records: Sequence[TableRecord], *, clock: Callable[[], datetime]
) -> Backfill:
    """Archive `records` (to_backfill's) between an intent and an outcome record in the audit table."""
    log = DynamoDBAuditLog(client=evidence.dynamodb, table_name=evidence.table)
    what = f"{len(records)} record(s) missing from the archive, {_scope(window)}"
    intent = _record(
        evidence,
        phase=Phase.INTENT,
        outcome=Outcome.PENDING,
        reason=f"archive {what}: {_names(records)}",
        now=clock(),
    )
    try:
        log.append(intent)
    except RemediatorError as exc:
        raise CliError(
            f"nothing was archived: the backfill's intent record could not be written: {exc}"
        ) from exc
    objects = _objects(
        [line_from_item(r.item, read_at=intent.recorded_at, operation_id=intent.record_id) for r in records],
        intent.record_id,
    )
    written: list[str] = []

    def settle(outcome: Outcome, reason: str, error: str | None = None) -> AuditRecord:
        record = _record(evidence, phase=Phase.OUTCOME, outcome=outcome, reason=reason, now=clock())
        record = record.model_copy(update={"intent_id": intent.record_id, "error": error})
        try:
            log.append(record)
        except RemediatorError as exc:
            raise CliError(
                f"NOT AUDITED: {len(written)} archive object(s) were written for backfill "
                f"{intent.record_id}, but its outcome record could not be written: {exc}"
            ) from exc
        return record

    try:
        for key, lines in objects.items():
            # Object Lock wants a checksum on every put of an object it retains:
            # https://docs.aws.amazon.com/AmazonS3/latest/userguide/object-lock-managing.html
            evidence.s3.put_object(
                Bucket=evidence.bucket,
                Key=key,
                Body=to_json_lines(lines),
                ChecksumAlgorithm="SHA256",
                ExpectedBucketOwner=evidence.owner,
            )
            written.append(key)
    except (ClientError, BotoCoreError) as exc:
        error = f"s3:PutObject into {evidence.bucket}: {describe(exc)}"
        settle(Outcome.FAILED, f"archived {len(written)} of {len(objects)} object(s) of {what}", error)
        raise CliError(f"the backfill {intent.record_id} stopped: {error}") from exc
    done = settle(Outcome.DONE, f"archived {what} in {len(written)} object(s)")
    return Backfill(intent.record_id, done.record_id, len(records), tuple(written))
