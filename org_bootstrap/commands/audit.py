"""The `akr audit` command: query the central audit log, read-only, through the security account.

The options become an org_bootstrap.review.audit_query.AuditQuery; the records are shown as a rich table, the
stable JSON envelope (org_bootstrap.commands.render) or CSV with a header. org_bootstrap.commands.app
registers it.
"""

from __future__ import annotations

import csv
import sys
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING, Annotated, Any

import typer
from pydantic import ValidationError
from rich.markup import escape

from org_bootstrap.aws import Aws, CliError
from org_bootstrap.commands.options import (
    DEFAULT_ROLE,
    EndpointUrl,
    GroupSecurityAccount,
    HomeRegion,
    Output,
    Profile,
    RecordsOutput,
    RecordsOutputFormat,
    Region,
    SecurityRole,
    access_key_ids,
    account_ids,
)
from org_bootstrap.commands.render import console, emit_json, envelope, errors, fail, iso
from org_bootstrap.commands.tables import Column
from org_bootstrap.commands.tables import show as show_table
from org_bootstrap.commands.usage import MISSING_PARAMETER, one_line
from org_bootstrap.deploy.central import read_central
from org_bootstrap.deploy.deployment import Deployment
from org_bootstrap.deploy.organization import check_member, read_organization
from org_bootstrap.review.audit_query import (
    DECISIONS,
    DEFAULT_LIMIT,
    DEFAULT_PAGE_SIZE,
    AuditPage,
    AuditQuery,
    AuditReadError,
    Progress,
    QueryError,
    parse_query,
    run,
)
from org_bootstrap.review.undo import caller_identity
from remediator.audit import AuditRecord, Outcome
from remediator.composition import utc_now

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient


CSV_COLUMNS = (
    *(name for name in AuditRecord.model_fields if name != "thresholds"),
    "max_key_age_days",
    "max_unused_days",
)
"""Every field of a record, in the model's order; the thresholds as two columns."""


def audit(  # noqa: PLR0917
    ctx: typer.Context,
    security_account: GroupSecurityAccount = None,
    since: Annotated[
        str,
        typer.Option(
            help="Start of the window: a duration back from now (7d, 12h, 30m) or an ISO date/time."
        ),
    ] = "7d",
    until: Annotated[
        str | None,
        typer.Option(help="End of the window, as --since. Default: now.", show_default=False),
    ] = None,
    account: Annotated[
        str | None,
        typer.Option(
            "--account", callback=account_ids, help="Only this account's records.", show_default=False
        ),
    ] = None,
    user: Annotated[
        str | None, typer.Option("--user", help="Only this IAM user's records.", show_default=False)
    ] = None,
    access_key_id: Annotated[
        str | None,
        typer.Option(
            "--access-key-id", callback=access_key_ids, help="Only this key's records.", show_default=False
        ),
    ] = None,
    decision: Annotated[
        str | None,
        typer.Option(help=f"Only this decision: {', '.join(DECISIONS)}.", show_default=False),
    ] = None,
    outcome: Annotated[
        str | None,
        typer.Option(help=f"Only this outcome: {', '.join(o.value for o in Outcome)}.", show_default=False),
    ] = None,
    limit: Annotated[int, typer.Option(min=1, help="At most this many records.")] = DEFAULT_LIMIT,
    oldest_first: Annotated[
        bool, typer.Option("--oldest-first", help="Oldest record first (default: newest first).")
    ] = False,
    page_size: Annotated[
        int, typer.Option(min=1, max=1000, hidden=True, help="Items per DynamoDB page.")
    ] = DEFAULT_PAGE_SIZE,
    security_role: SecurityRole = DEFAULT_ROLE,
    home_region: HomeRegion = None,
    profile: Profile = None,
    region: Region = None,
    endpoint_url: EndpointUrl = None,
    output: RecordsOutputFormat = RecordsOutput.TABLE,
) -> None:
    """Query the central audit log, newest first.

    The window is --since to --until (default: the last 7 days). With --access-key-id the key's index is
    read, with --account the account's partition, otherwise the organization's records day by day; the
    other filters apply on top. Read-only: the audit table in the security account, entered through
    --security-role unless akr runs there. At most --limit records; the output says when there were more.

    Exit code: 0 when the query ran (even with no records); 1 on bad input and on errors.
    `akr audit verify` proves that the records of a window are those that were written.
    """
    if ctx.invoked_subcommand is not None:
        return  # akr audit verify: its own options
    if security_account is None:
        raise missing_option(ctx, "security_account")
    errors_as = Output.JSON if output is RecordsOutput.JSON else Output.TABLE
    try:
        query = parse_query(
            now=utc_now(),
            since=since,
            until=until,
            account_id=account,
            user_name=user,
            access_key_id=access_key_id,
            decision=decision,
            outcome=outcome,
            limit=limit,
            oldest_first=oldest_first,
        )
        aws, deployment = connect(
            security_account=security_account,
            security_role=security_role,
            home_region=home_region,
            profile=profile,
            region=region,
            endpoint_url=endpoint_url,
        )
        names = account_names(aws, query.account_id, wanted=output is RecordsOutput.TABLE)
        table = open_audit_table(aws, deployment)
        table_name = table.name
        with reading_progress(output) as tick:
            page = run(table.client, table_name, query, page_size=page_size, on_progress=tick)
    except ValidationError as exc:
        raise fail("audit", "; ".join(e["msg"] for e in exc.errors()), errors_as) from exc
    except (QueryError, CliError, AuditReadError) as exc:
        raise fail("audit", str(exc), errors_as) from exc
    show_records(query, page, table_name, output, names)


def missing_option(ctx: typer.Context, name: str) -> Exception:
    """click's own error for a required option: `akr audit` is also the group of `akr audit verify`, so
    its --security-account cannot be required before the command is known."""
    param = next(p for p in ctx.command.params if p.name == name)
    error: Exception = one_line(MISSING_PARAMETER(ctx=ctx, param=param))
    return error


def account_names(aws: Aws, account_id: str | None, *, wanted: bool) -> dict[str, str]:
    """Account id -> name, read once from Organizations (for the table), when the caller may list the
    accounts; and --account must be one of them. From elsewhere (the security account) the account list
    is not readable: no names, and no check of --account."""
    if account_id is None and not wanted:
        return {}
    try:
        view, _ = read_organization(aws)
    except CliError:
        if account_id is not None:
            raise
        return {}
    if account_id is not None and view.administers:
        check_member(view, account_id)
    return {account.id: account.name for account in view.accounts}


@contextmanager
def reading_progress(output: RecordsOutput) -> Iterator[Progress]:
    """A spinner on stderr with the days read so far, for the table output only."""
    if output is not RecordsOutput.TABLE:
        yield lambda _done, _total, _records: None
        return
    with errors.status("reading the audit log") as status:

        def tick(done: int, total: int, records: int) -> None:
            status.update(f"reading the audit log: {done} of {total} partition(s), {records} record(s)")

        yield tick


def connect(
    *,
    security_account: str,
    security_role: str,
    home_region: str | None,
    profile: str | None,
    region: str | None,
    endpoint_url: str | None,
) -> tuple[Aws, Deployment]:
    """The operator's AWS and the deployment the options name (a ValidationError on a bad account id)."""
    aws = Aws(profile=profile, region=region or home_region, endpoint_url=endpoint_url)
    deployment = Deployment(
        security_account_id=security_account,
        home_region=home_region or aws.region_name,
        security_role=security_role,
    )
    return aws, deployment


@dataclass(frozen=True)
class AuditTable:
    client: DynamoDBClient
    """DynamoDB of the security account, in the home region."""
    name: str


def open_audit_table(aws: Aws, deployment: Deployment) -> AuditTable:
    """The deployed audit table, read through the security account, or a CliError (deploy first)."""
    central = read_central(aws, deployment, caller_identity(aws).account_id)
    return AuditTable(aws.dynamodb(central.security, central.region), central.stack.outputs["AuditTableName"])


def _window(query: AuditQuery) -> dict[str, Any]:
    return {
        "since": iso(query.since),
        "until": iso(query.until),
        "account_id": query.account_id,
        "user_name": query.user_name,
        "access_key_id": query.access_key_id,
        "decision": query.decision,
        "outcome": query.outcome,
        "limit": query.limit,
        "newest_first": query.newest_first,
    }


def csv_row(record: AuditRecord) -> dict[str, str]:
    plain = record.model_dump(mode="json", exclude={"day"})
    thresholds = plain.pop("thresholds")
    plain.update(thresholds)
    return {name: "" if plain.get(name) is None else str(plain[name]) for name in CSV_COLUMNS}


def show_records(
    query: AuditQuery,
    page: AuditPage,
    table_name: str,
    output: RecordsOutput,
    names: Mapping[str, str] | None = None,
) -> None:
    if output is RecordsOutput.JSON:
        emit_json(
            envelope(
                "audit",
                "ok",
                changed=False,
                query=_window(query),
                result={
                    "audit_table": table_name,
                    "index": page.index,
                    "count": len(page.records),
                    "truncated": page.truncated,
                    "records": [r.model_dump(mode="json", exclude={"day"}) for r in page.records],
                },
            )
        )
        return
    if output is RecordsOutput.CSV:
        writer = csv.DictWriter(sys.stdout, fieldnames=CSV_COLUMNS, lineterminator="\n")
        writer.writeheader()
        writer.writerows(csv_row(record) for record in page.records)
        return
    _table(query, page, names or {})


AUDIT_COLUMNS = (
    Column("time (UTC)"),
    Column("account"),
    Column("name", "text", drop=3),
    Column("user", "text", drop=5),
    Column("key"),
    Column("decision"),
    Column("phase", drop=1),
    Column("outcome"),
    Column("trigger", drop=2),
    Column("by", "text", drop=4),
    Column("reason", "text", drop=6),
)
"""Narrow terminals drop the phase first, then the trigger, the account name, the operator, the user and
the reason; the time, the account, the key, the decision and the outcome always stay."""


def _table(query: AuditQuery, page: AuditPage, names: Mapping[str, str]) -> None:
    window = f"{query.since:%Y-%m-%d %H:%M} to {query.until:%Y-%m-%d %H:%M} UTC"
    if not page.records:
        console.print(f"No audit records from {window} match.", highlight=False)
        return
    rows = []
    for record in page.records:
        outcome = record.outcome.value
        if record.outcome is Outcome.FAILED:
            outcome = f"[red]{outcome}[/]"
        reason = record.reason if record.error is None else f"{record.reason}; error: {record.error}"
        rows.append(
            (
                f"{record.recorded_at:%Y-%m-%d %H:%M:%S}",
                record.account_id,
                escape(names.get(record.account_id, "")),
                escape(record.user_name or "-"),
                record.access_key_id or "-",
                record.decision,
                record.phase.value,
                outcome,
                record.trigger.value,
                escape(record.operator or "-"),
                escape(reason),
            )
        )
    show_table(console, AUDIT_COLUMNS, rows, title=f"Audit records, {window}")
    order = "newest" if query.newest_first else "oldest"
    line = f"{len(page.records)} record(s), {order} first (read from {page.index})"
    if page.truncated:
        line += f"; stopped at --limit {query.limit}: there are more, narrow the window or raise --limit"
    console.print(line, highlight=False)
