"""The `akr report` command: the central audit log and the exemptions as one self-contained HTML page.

The options are checked first (the window, the durations, the file's directory), before any AWS call.
Then, read-only through the security account: the organization and the exemptions
(org_bootstrap.review.exemptions), the audit records of the window (org_bootstrap.review.audit_query, the
audit table found as `akr audit` finds it); org_bootstrap.review.report.html renders the page.
org_bootstrap.commands.app registers the command.
"""

from __future__ import annotations

import sys
from dataclasses import asdict
from datetime import timedelta
from pathlib import Path
from typing import Annotated, Any

import typer
from pydantic import ValidationError

from org_bootstrap.aws import Aws, CliError
from org_bootstrap.commands.audit import connect, open_audit_table
from org_bootstrap.commands.options import (
    DEFAULT_ROLE,
    EndpointUrl,
    HomeRegion,
    Output,
    OutputFormat,
    Profile,
    Region,
    SecurityAccount,
    SecurityRole,
    account_ids,
)
from org_bootstrap.commands.render import console, emit_json, envelope, errors, fail, iso
from org_bootstrap.deploy.deployment import Deployment
from org_bootstrap.deploy.organization import check_member
from org_bootstrap.review import exemptions
from org_bootstrap.review.audit_evidence import VerifyError, Window, open_evidence, verify_window
from org_bootstrap.review.audit_query import (
    AuditQuery,
    AuditReadError,
    QueryError,
    parse_query,
    parse_within,
    run,
)
from org_bootstrap.review.report.header import ArchiveCheck
from org_bootstrap.review.report.html import ReportData, render_html, write_report
from org_bootstrap.review.report.summary import Summary
from remediator.composition import utc_now

COMMAND = "report"
DEFAULT_SINCE = "30d"
DEFAULT_EXPIRING_WITHIN = "14d"
DEFAULT_LIMIT = 10_000


def show(written: Path | None, summary: Summary, within: timedelta, *, truncated: bool, limit: int) -> None:
    """The terminal's lines: the path and the totals (decision names come from the records) as plain
    text, never markup. With the page on stdout (written None), on stderr."""
    out = console if written is not None else errors
    out.print(f"Wrote {written or 'the page to stdout'}", markup=False, highlight=False, soft_wrap=True)
    out.print(totals_line(summary, within), markup=False, highlight=False, soft_wrap=True)
    if truncated:
        out.print(
            f"[yellow]Stopped at --limit {limit}:[/] there are more records; narrow the window or raise "
            "--limit.",
            highlight=False,
        )


STDOUT = Path("-")


def check_target(path: Path, *, stdout_for: str | None = None) -> Path | None:
    """The file must be creatable: its directory exists, and the path is not a directory. None for "-":
    the page goes to stdout, unless `stdout_for` (an option, "--output json") wants it. Checked before
    any work."""
    if path == STDOUT:
        if stdout_for is not None:
            raise CliError(f"--html - and {stdout_for} both want stdout: name a file, or drop one")
        return None
    target = path.expanduser().absolute()
    if target.is_dir():
        raise CliError(f"--html {path} is a directory: name the file to write")
    if not target.parent.is_dir():
        raise CliError(f"--html {path}: the directory {target.parent} does not exist")
    return target


def title(query: AuditQuery) -> str:
    base = "Access key remediation: audit report"
    return base if query.account_id is None else f"{base}, account {query.account_id}"


def totals_line(summary: Summary, within: timedelta) -> str:
    totals = summary.totals()
    line = f"{totals.decisions} decision(s) in {totals.accounts} account(s)"
    if totals.decisions:
        by_decision = ", ".join(f"{count} {name}" for name, count in totals.by_decision.items())
        by_outcome = ", ".join(f"{count} {name}" for name, count in totals.by_outcome.items() if count)
        line += f": {by_decision} ({by_outcome})"
    return (
        f"{line}; {totals.failures} failed, {totals.unfinished} without an outcome; "
        f"{totals.exemptions_in_force} exemption(s) in force, {totals.exemptions_expiring} expiring within "
        f"{within / timedelta(days=1):g} day(s), {totals.exemptions_expired} expired."
    )


def check_archive(aws: Aws, deployment: Deployment, query: AuditQuery) -> ArchiveCheck:
    """The report's window verified against the audit archive, as `akr audit verify` does it, or why it
    could not be (no archive yet, access refused, a malformed line): the page says which."""
    window = Window(query.since, query.until, () if query.account_id is None else (query.account_id,))
    try:
        verification, _ = verify_window(open_evidence(aws, deployment), window, clock=utc_now)
    except VerifyError as exc:
        return ArchiveCheck(reason=str(exc))
    return ArchiveCheck(verification)


def report(  # noqa: PLR0917
    security_account: SecurityAccount,
    html: Annotated[
        Path,
        typer.Option(
            "--html",
            metavar="FILE",
            help='Write the report to this file (replaced if it exists); "-" writes it to stdout.',
        ),
    ],
    since: Annotated[
        str,
        typer.Option(help="Start of the window: a duration back from now (30d, 12h) or an ISO date/time."),
    ] = DEFAULT_SINCE,
    until: Annotated[
        str | None,
        typer.Option(help="End of the window, as --since. Default: now.", show_default=False),
    ] = None,
    account: Annotated[
        str | None,
        typer.Option(
            "--account",
            callback=account_ids,
            help="Only this account's records and exemptions.",
            show_default=False,
        ),
    ] = None,
    expiring_within: Annotated[
        str, typer.Option(help="Flag exemptions that expire within this duration (14d, 2w, 36h).")
    ] = DEFAULT_EXPIRING_WITHIN,
    limit: Annotated[int, typer.Option(min=1, help="At most this many audit records.")] = DEFAULT_LIMIT,
    security_role: SecurityRole = DEFAULT_ROLE,
    home_region: HomeRegion = None,
    profile: Profile = None,
    region: Region = None,
    endpoint_url: EndpointUrl = None,
    output: OutputFormat = Output.TABLE,
) -> None:
    """Write the audit log of a window as one self-contained HTML file. Read-only.

    The page has the totals, decisions per account and per day (charts), the failures, the exemptions
    expiring within --expiring-within (and the expired ones), and every decision in a table that filters
    (text, decision, account, outcome; also from the URL fragment, e.g. #decision=delete) and sorts. Its
    header says whether the window matches the audit archive (as akr audit verify finds it): clean, the
    findings, or not verified and why. It loads nothing from the network. Run from the management account
    or a delegated administrator.

    Exit code: 0 when the file is written (even with no records); 1 on bad input and on errors, with no
    file written.
    """
    now = utc_now()
    try:
        query = parse_query(now=now, since=since, until=until, account_id=account, limit=limit)
        within = parse_within(expiring_within, option="--expiring-within", examples="14d, 2w, 36h")
        target = check_target(html, stdout_for="--output json" if output is Output.JSON else None)
        aws, deployment = connect(
            security_account=security_account,
            security_role=security_role,
            home_region=home_region,
            profile=profile,
            region=region,
            endpoint_url=endpoint_url,
        )
        store = exemptions.open_store(aws, deployment)
        if account is not None:
            check_member(store.organization, account)
        table = open_audit_table(aws, deployment)
        page = run(table.client, table.name, query)
        found = exemptions.list_all(store, account_id=account, include_expired=True, now=now)
        archive = check_archive(aws, deployment, query)
    except ValidationError as exc:
        raise fail(COMMAND, "; ".join(e["msg"] for e in exc.errors()), output) from exc
    except (QueryError, CliError, AuditReadError) as exc:
        raise fail(COMMAND, str(exc), output) from exc
    data = ReportData(
        title=title(query),
        generated_at=now,
        since=query.since,
        until=query.until,
        records=page.records,
        exemptions=found,
        expiring_within=within,
        truncated=page.truncated,
        notes=(
            f"Organization {store.organization.organization_id}; audit table {table.name} in the "
            f"security account {security_account}.",
        ),
        account_names={account.id: account.name for account in store.organization.accounts},
        archive=archive,
    )
    if target is None:
        sys.stdout.write(render_html(data))
        show(None, data.summary(), within, truncated=page.truncated, limit=limit)
        return
    try:
        written = write_report(target, data)
    except OSError as exc:
        raise fail(COMMAND, f"cannot write {target}: {exc.strerror or exc}", output) from exc
    summary = data.summary()
    if output is Output.JSON:
        result: dict[str, Any] = {
            "path": str(written),
            "audit_table": table.name,
            "records": len(page.records),
            "truncated": page.truncated,
            "totals": asdict(summary.totals()),
            "verification": {"state": archive.state, "line": archive.line},
        }
        window = {
            "since": iso(query.since),
            "until": iso(query.until),
            "account_id": query.account_id,
            "limit": query.limit,
            "expiring_within_seconds": int(within.total_seconds()),
        }
        emit_json(envelope(COMMAND, "ok", changed=False, query=window, result=result))
        return
    show(written, summary, within, truncated=page.truncated, limit=limit)
    console.print(archive.line, markup=False, highlight=False, soft_wrap=True)
