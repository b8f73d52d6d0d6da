"""The `akr audit verify` command: the audit table against its Object-Locked archive, for one window
(org_bootstrap.review.audit_verify), and with --backfill the records the archive never got
(org_bootstrap.review.archive_backfill).

Exit codes are for scripts and schedulers: 0 clean, 1 at least one finding (or a backfill refused over
them), 2 could not verify (bad input, no archive, access refused, a malformed line): never 0 or 1 for a
verification that did not happen.
"""

from __future__ import annotations

import csv
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime, timedelta
from typing import Annotated, Any

import typer
from rich.markup import escape
from rich.progress import BarColumn, MofNCompleteColumn, Progress, SpinnerColumn, TextColumn
from rich.text import Text

from org_bootstrap.commands.audit import connect
from org_bootstrap.commands.errors import HANDLED, describe_failure
from org_bootstrap.commands.options import (
    DEFAULT_ROLE,
    EndpointUrl,
    HomeRegion,
    Output,
    Profile,
    RecordsOutput,
    RecordsOutputFormat,
    Region,
    SecurityAccount,
    SecurityRole,
    Yes,
    account_ids,
)
from org_bootstrap.commands.render import confirm, console, emit_json, envelope, errors, iso
from org_bootstrap.commands.tables import Column
from org_bootstrap.commands.tables import show as show_table
from org_bootstrap.review.archive_backfill import Backfill, BackfillRefusedError, backfill, to_backfill
from org_bootstrap.review.audit_evidence import (
    Evidence,
    VerifyError,
    Window,
    open_evidence,
    verify_window,
)
from org_bootstrap.review.audit_evidence import Progress as ReadProgress
from org_bootstrap.review.audit_query import MAX_DAYS, QueryError, parse_instant
from org_bootstrap.review.audit_verify import (
    ARCHIVER_LAG,
    Finding,
    FindingKind,
    Verification,
    summary_line,
)
from remediator.composition import utc_now

COMMAND = "audit verify"
DEFAULT_SINCE = "7d"
CLEAN, FOUND, CANNOT = 0, 1, 2
CSV_COLUMNS = ("kind", "account_id", "record_id", "detail", "table_sha256", "archive_sha256")


def parse_window(*, now: datetime, since: str, until: str | None, accounts: list[str] | None) -> Window:
    """The window, its ends read as `akr audit` reads them. The archive is read one day at a time, so
    MAX_DAYS at most, with --account too."""
    start = parse_instant(since, now=now, option="--since")
    end = now if until is None else parse_instant(until, now=now, option="--until")
    if start > end:
        raise QueryError(
            f"--since {since} ({start:%Y-%m-%d %H:%M:%S} UTC) is after --until {until or 'now'} "
            f"({end:%Y-%m-%d %H:%M:%S} UTC)"
        )
    spanned = (end.date() - start.date()).days + 1
    if spanned > MAX_DAYS:
        raise QueryError(
            f"--since {since} spans {spanned} days: the archive is read one day at a time, {MAX_DAYS} days "
            "at most; verify a longer history window by window"
        )
    return Window(start, end, tuple(dict.fromkeys(accounts or ())))


def cannot_verify(message: str, output: RecordsOutput) -> typer.Exit:
    """The error in the chosen format, and exit code 2: nothing was verified."""
    if output is RecordsOutput.JSON:
        emit_json(envelope(COMMAND, "error", error=message))
    else:
        errors.print(Text.assemble(("error:", "bold red"), " ", message), highlight=False, soft_wrap=True)
    return typer.Exit(code=CANNOT)


@contextmanager
def reading_bar(output: RecordsOutput) -> Iterator[ReadProgress]:
    """A progress bar on stderr per side read (the table's partitions, the archive's objects), with the
    table output on a terminal only."""
    if output is not RecordsOutput.TABLE or not errors.is_terminal:
        yield lambda _what, _done, _total: None
        return
    columns = (SpinnerColumn(), TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn())
    with Progress(*columns, console=errors, transient=True) as bar:
        tasks: dict[str, Any] = {}

        def tick(what: str, done: int, total: int) -> None:
            if what not in tasks:
                tasks[what] = bar.add_task(what, total=total)
            bar.update(tasks[what], completed=done, total=total)

        yield tick


def verify_command(  # noqa: PLR0917
    security_account: SecurityAccount,
    since: Annotated[
        str,
        typer.Option(
            help="Start of the window: a duration back from now (7d, 12h, 30m) or an ISO date/time."
        ),
    ] = DEFAULT_SINCE,
    until: Annotated[
        str | None,
        typer.Option(help="End of the window, as --since. Default: now.", show_default=False),
    ] = None,
    account: Annotated[
        list[str] | None,
        typer.Option(
            "--account",
            callback=account_ids,
            help="Only this account's records (repeat for several).",
            show_default=False,
        ),
    ] = None,
    backfill_missing: Annotated[
        bool,
        typer.Option(
            "--backfill",
            help="Archive the records the archive never got (audited: an intent and an outcome record). "
            "Refused in a window with an altered or deleted record.",
        ),
    ] = False,
    yes: Yes = False,
    security_role: SecurityRole = DEFAULT_ROLE,
    home_region: HomeRegion = None,
    profile: Profile = None,
    region: Region = None,
    endpoint_url: EndpointUrl = None,
    output: RecordsOutputFormat = RecordsOutput.TABLE,
) -> None:
    """Prove that the audit log of a window is what was written: compare the audit table with its archive.

    Reads the window's records from the audit table and every archived line of the window's days from the
    archive bucket (the central stack's AuditArchiveBucketName, Object Lock), and reports each record
    that was altered (its hash differs from the archived one, or the archive holds a rewrite of it),
    deleted (archived, not in the table, or the archive holds its removal) or never archived (in the
    table, not in the archive, and older than 15 minutes, the archiver's normal lag). Read-only, unless
    --backfill: then the never-archived records are archived as they stand in the table, between an
    intent and an outcome audit record naming the operator; never over an altered or deleted record.

    Exit code: 0 clean (or every finding backfilled); 1 at least one finding; 2 could not verify (bad
    input, no archive, access refused, a malformed archive line).
    """
    try:
        now = utc_now()
        window = parse_window(now=now, since=since, until=until, accounts=account)
        aws, deployment = connect(
            security_account=security_account,
            security_role=security_role,
            home_region=home_region,
            profile=profile,
            region=region,
            endpoint_url=endpoint_url,
        )
        evidence = open_evidence(aws, deployment)
        with reading_bar(output) as tick:
            verification, records = verify_window(evidence, window, clock=utc_now, on_progress=tick)
    except HANDLED as exc:
        raise cannot_verify(describe_failure(exc), output) from exc
    except VerifyError as exc:
        raise cannot_verify(str(exc), output) from exc
    if not (backfill_missing and verification.findings):
        show(verification, evidence, window, output)
        raise typer.Exit(code=CLEAN if verification.clean else FOUND)
    if output is not RecordsOutput.JSON:
        show(verification, evidence, window, output)
    try:
        wanted = to_backfill(verification, records)
        confirm(
            COMMAND,
            f"Archive {len(wanted)} record(s) that the archive does not hold, as the table has them now?",
            yes=yes,
            output=Output.JSON if output is RecordsOutput.JSON else Output.TABLE,
        )
        done = backfill(evidence, window, wanted, clock=utc_now)
    except BackfillRefusedError as exc:
        if output is RecordsOutput.JSON:
            show(verification, evidence, window, output, refused=str(exc))
        else:
            errors.print(Text.assemble(("refused:", "bold red"), " ", str(exc)), highlight=False)
        raise typer.Exit(code=FOUND) from exc
    except HANDLED as exc:
        raise cannot_verify(describe_failure(exc), output) from exc
    if output is RecordsOutput.JSON:
        show(verification, evidence, window, output, done=done)
    else:
        show_backfill(done, output)
    raise typer.Exit(code=CLEAN)


def finding_json(finding: Finding) -> dict[str, Any]:
    return {
        "kind": finding.kind.value,
        "account_id": finding.account_id,
        "record_id": finding.record_id,
        "detail": finding.detail,
        "table_sha256": finding.table_sha256,
        "archive_sha256": finding.archive_sha256,
    }


def result_json(verification: Verification, evidence: Evidence) -> dict[str, Any]:
    return {
        "audit_table": evidence.table,
        "archive_bucket": evidence.bucket,
        "clean": verification.clean,
        "records": verification.records,
        "archive_lines": verification.lines,
        "archived": verification.archived,
        "too_recent": verification.recent,
        "lag_seconds": int(ARCHIVER_LAG / timedelta(seconds=1)),
        "counts": {kind.value: len(verification.of_kind(kind)) for kind in FindingKind},
        "findings": [finding_json(finding) for finding in verification.findings],
    }


FINDING_COLUMNS = (
    Column("finding"),
    Column("account"),
    Column("record (time#id)"),
    Column("what shows it", "text", drop=1),
)


def backfill_json(done: Backfill) -> dict[str, Any]:
    return {
        "intent_id": done.intent_id,
        "outcome_id": done.outcome_id,
        "archived": done.archived,
        "objects": list(done.objects),
    }


def show(
    verification: Verification,
    evidence: Evidence,
    window: Window,
    output: RecordsOutput,
    *,
    done: Backfill | None = None,
    refused: str | None = None,
) -> None:
    """The findings, as a table with the summary line, the JSON envelope (with the backfill, or why it was
    refused) or CSV (one row per finding, with a header)."""
    if output is RecordsOutput.JSON:
        query = {"since": iso(window.since), "until": iso(window.until), "account_ids": list(window.accounts)}
        result = result_json(verification, evidence)
        result["backfill"] = None if done is None else backfill_json(done)
        fields: dict[str, Any] = {"changed": done is not None, "query": query, "result": result}
        if refused is not None:
            fields["reason"] = refused
        emit_json(envelope(COMMAND, "aborted" if refused else "ok", **fields))
        return
    if output is RecordsOutput.CSV:
        writer = csv.DictWriter(sys.stdout, fieldnames=CSV_COLUMNS, lineterminator="\n")
        writer.writeheader()
        writer.writerows(
            {name: "" if value is None else str(value) for name, value in finding_json(f).items()}
            for f in verification.findings
        )
        return
    span = f"{window.since:%Y-%m-%d %H:%M} to {window.until:%Y-%m-%d %H:%M} UTC"
    if verification.findings:
        rows = [(_kind(f.kind), f.account_id, f.record_id, escape(f.detail)) for f in verification.findings]
        show_table(console, FINDING_COLUMNS, rows, title=f"Audit log findings, {span}")
    console.print(
        f"{summary_line(verification)}. Table {evidence.table}, archive s3://{evidence.bucket}.",
        highlight=False,
        markup=False,
    )


def _kind(kind: FindingKind) -> str:
    return f"[yellow]{kind.value}[/]" if kind is FindingKind.NOT_ARCHIVED else f"[bold red]{kind.value}[/]"


def show_backfill(done: Backfill, output: RecordsOutput) -> None:
    line = (
        f"Backfilled {done.archived} record(s) in {len(done.objects)} archive object(s); audit records "
        f"{done.intent_id} (intent) and {done.outcome_id} (outcome)."
    )
    (errors if output is not RecordsOutput.TABLE else console).print(line, highlight=False, markup=False)
