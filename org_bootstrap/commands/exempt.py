"""`akr exempt add|list|remove`: options, the plan line, the confirmation, then
org_bootstrap.review.exemptions and the views. org_bootstrap.commands.app registers them under the
sub-command `exempt`."""

from __future__ import annotations

import csv
import sys
from collections.abc import Callable
from datetime import datetime
from typing import Annotated, Any

import typer
from pydantic import ValidationError
from rich.markup import escape

from org_bootstrap.aws import Aws, CliError
from org_bootstrap.commands.audit import connect
from org_bootstrap.commands.options import (
    DEFAULT_ROLE,
    AccountRole,
    EndpointUrl,
    HomeRegion,
    Output,
    OutputFormat,
    Profile,
    RecordsOutput,
    RecordsOutputFormat,
    Region,
    SecurityAccount,
    SecurityRole,
    Yes,
    access_key_ids,
    account_ids,
)
from org_bootstrap.commands.render import confirm, console, emit_json, envelope, fail, iso, plan_lines
from org_bootstrap.commands.tables import Column
from org_bootstrap.commands.tables import show as show_table
from org_bootstrap.review import exemption_checks, exemptions
from remediator.audit import AuditRecord
from remediator.composition import utc_now
from remediator.exemptions import Exemption

Account = Annotated[
    str, typer.Option("--account", callback=account_ids, help="The account id of the exempt user.")
]
User = Annotated[str, typer.Option("--user", help='The IAM user name, or "*" for every user of the account.')]
AccessKeyId = Annotated[
    str | None,
    typer.Option(
        "--access-key-id", callback=access_key_ids, help="One key of the user. Default: all of its keys."
    ),
]


MAX_HORIZON_DAYS = 365
"""No exemption outlives a yearly review, whatever --max-days says."""


def open_exemptions(
    command: str,
    *,
    security_account: str,
    security_role: str,
    home_region: str | None,
    profile: str | None,
    region: str | None,
    endpoint_url: str | None,
    output: Output,
) -> tuple[Aws, exemptions.Store]:
    try:
        aws, deployment = connect(
            security_account=security_account,
            security_role=security_role,
            home_region=home_region,
            profile=profile,
            region=region,
            endpoint_url=endpoint_url,
        )
        return aws, exemptions.open_store(aws, deployment)
    except ValidationError as exc:
        raise fail(command, "; ".join(e["msg"] for e in exc.errors()), output) from exc
    except CliError as exc:
        raise fail(command, str(exc), output) from exc


def row(exemption: Exemption, now: datetime) -> dict[str, str | None]:
    return {
        "account_id": exemption.account_id,
        "user_name": exemption.user_name,
        "access_key_id": exemption.access_key_id,
        "owner": exemption.owner,
        "reason": exemption.reason,
        "expires_at": iso(exemption.expires_at),
        "state": exemptions.state(exemption, now),
    }


def _confirmed(  # noqa: PLR0917
    command: str, line: str, question: str, change: Callable[[], AuditRecord], yes: bool, output: Output
) -> AuditRecord:
    """Show the plan line, ask unless --yes, then make the change; its audit record."""
    if output is Output.TABLE:
        plan_lines([line])
    confirm(command, question, yes=yes, output=output)
    return change()


def _done(command: str, line: str, exemption: Exemption, record: AuditRecord, output: Output) -> None:
    result: dict[str, Any] = {
        "exemption": row(exemption, record.recorded_at),
        "operator": record.operator,
        "audit_record_id": record.record_id,
    }
    if output is Output.JSON:
        emit_json(envelope(command, "ok", plan=[line], changed=True, result=result))
        return
    verb = "Exempted" if record.decision == exemptions.ADD else "Removed the exemption of"
    console.print(
        f"[green]{verb}[/] {exemptions.describe(exemption)}; the audit record names {record.operator}.",
        highlight=False,
    )


def add(  # noqa: PLR0917
    security_account: SecurityAccount,
    account: Account,
    user: User,
    reason: Annotated[str, typer.Option("--reason", help="Why the key may break the policy.")],
    owner: Annotated[str, typer.Option("--owner", help="Who answers for the exemption.")],
    expires: Annotated[
        str,
        typer.Option(
            "--expires", help="Required: 30d (from now), a date 2026-12-31 (00:00 UTC), or an ISO time."
        ),
    ],
    access_key_id: AccessKeyId = None,
    allow_missing: Annotated[
        bool,
        typer.Option(
            "--allow-missing",
            help="Exempt a user or key that does not exist (yet). Without it, both are looked up first, "
            "through --account-role.",
        ),
    ] = False,
    account_role: AccountRole = DEFAULT_ROLE,
    max_days: Annotated[
        int,
        typer.Option(
            "--max-days",
            min=1,
            max=MAX_HORIZON_DAYS,
            help=f"The maximum horizon of an exemption, in days (a year at most: {MAX_HORIZON_DAYS}; "
            "and at most the deployed MaxExemptionDays).",
        ),
    ] = exemptions.DEFAULT_MAX_DAYS,
    security_role: SecurityRole = DEFAULT_ROLE,
    home_region: HomeRegion = None,
    yes: Yes = False,
    profile: Profile = None,
    region: Region = None,
    endpoint_url: EndpointUrl = None,
    output: OutputFormat = Output.TABLE,
) -> None:
    """Exempt a user (or one of its keys, or every user of an account) until an expiry.

    The expiry is required, in the future and within --max-days. The account must be an ACTIVE account
    of the organization, and the user (and the key) must exist there, unless --allow-missing: they are
    looked up through --account-role (iam:GetUser, iam:ListAccessKeys). An exemption for the same user and
    key is replaced, and once the new one is in place an exempt-remove record revokes the replaced one's
    exempt-add record. First an audit record (decision exempt-add) that names the caller's ARN, then the
    exemption in the central state table, carrying that record's id: with VerifyExemptions the remediator
    honours it only while the two agree.

    Exit code: 0 when written and audited; 1 on bad input, when aborted, and on errors.
    """
    command = "exempt add"
    now = utc_now()
    try:
        expires_at = exemption_checks.parse_expiry(expires, now=now, max_days=max_days)
    except CliError as exc:
        raise fail(command, str(exc), output) from exc
    aws, store = open_exemptions(
        command,
        security_account=security_account,
        security_role=security_role,
        home_region=home_region,
        profile=profile,
        region=region,
        endpoint_url=endpoint_url,
        output=output,
    )
    try:
        exemptions.check_horizon(store, max_days)
        exemption_checks.check_account(store.organization, account)
        exemption = exemptions.new_exemption(
            account_id=account,
            user_name=user,
            access_key_id=access_key_id,
            reason=reason,
            owner=owner,
            expires_at=expires_at,
            created_at=now,
        )
        if not allow_missing:
            iam = exemption_checks.member_iam(aws, store.organization.caller, account, account_role)
            exemption_checks.check_exists(iam, exemption)
        line = (
            f"Would exempt {exemptions.describe(exemption)} until {expires_at:%Y-%m-%d %H:%M} UTC, "
            f"owner {exemption.owner}, reason {exemption.reason!r}"
        )
        record = _confirmed(
            command, line, "Exempt?", lambda: exemptions.add(store, exemption, now=utc_now()), yes, output
        )
    except CliError as exc:
        raise fail(command, str(exc), output) from exc
    _done(command, line, exemption, record, output)


def remove(  # noqa: PLR0917
    security_account: SecurityAccount,
    account: Account,
    user: User,
    access_key_id: AccessKeyId = None,
    security_role: SecurityRole = DEFAULT_ROLE,
    home_region: HomeRegion = None,
    yes: Yes = False,
    profile: Profile = None,
    region: Region = None,
    endpoint_url: EndpointUrl = None,
    output: OutputFormat = Output.TABLE,
) -> None:
    """Remove the exemption of exactly that user and key (without --access-key-id: the whole user's).

    First an audit record (decision exempt-remove) that names the caller's ARN and revokes the exemption's
    exempt-add record, then the exemption is deleted from the central state table. The next evaluation of
    the keys applies the policy again.

    Exit code: 0 when removed and audited; 1 when there is no such exemption, when aborted, and on errors.
    """
    command = "exempt remove"
    _, store = open_exemptions(
        command,
        security_account=security_account,
        security_role=security_role,
        home_region=home_region,
        profile=profile,
        region=region,
        endpoint_url=endpoint_url,
        output=output,
    )
    try:
        exemption = exemptions.find(store, account, user, access_key_id)
        line = (
            f"Would remove the exemption of {exemptions.describe(exemption)} "
            f"(owner {exemption.owner}, expires {exemption.expires_at:%Y-%m-%d %H:%M} UTC)"
        )
        record = _confirmed(
            command, line, "Remove?", lambda: exemptions.remove(store, exemption, now=utc_now()), yes, output
        )
    except CliError as exc:
        raise fail(command, str(exc), output) from exc
    _done(command, line, exemption, record, output)


EXEMPTION_COLUMNS = (
    Column("account"),
    Column("name", "text", drop=1),
    Column("user", "text"),
    Column("key"),
    Column("owner", "text", drop=2),
    Column("reason", "text", drop=3),
    Column("expires (UTC)"),
    Column("state"),
)
"""Narrow terminals drop the account name first, then the owner, then the reason."""
CSV_COLUMNS = ("account_id", "user_name", "access_key_id", "owner", "reason", "expires_at", "state")


def list_(  # noqa: PLR0917
    security_account: SecurityAccount,
    account: Annotated[
        str | None,
        typer.Option("--account", callback=account_ids, help="Only this account. Default: every account."),
    ] = None,
    include_expired: Annotated[
        bool, typer.Option("--include-expired", help="Show expired exemptions too.")
    ] = False,
    security_role: SecurityRole = DEFAULT_ROLE,
    home_region: HomeRegion = None,
    profile: Profile = None,
    region: Region = None,
    endpoint_url: EndpointUrl = None,
    output: RecordsOutputFormat = RecordsOutput.TABLE,
) -> None:
    """The central exemptions, in force ones only unless --include-expired. Read-only.

    Exit code: 0; 1 on errors.
    """
    command = "exempt list"
    errors_as = Output.JSON if output is RecordsOutput.JSON else Output.TABLE
    _, store = open_exemptions(
        command,
        security_account=security_account,
        security_role=security_role,
        home_region=home_region,
        profile=profile,
        region=region,
        endpoint_url=endpoint_url,
        output=errors_as,
    )
    now = utc_now()
    try:
        if account is not None:
            exemption_checks.check_account(store.organization, account)
        found = exemptions.list_all(store, account_id=account, include_expired=include_expired, now=now)
    except CliError as exc:
        raise fail(command, str(exc), errors_as) from exc
    rows = [row(exemption, now) for exemption in found]
    if output is RecordsOutput.JSON:
        emit_json(envelope(command, "ok", changed=False, result={"exemptions": rows}))
        return
    if output is RecordsOutput.CSV:
        writer = csv.DictWriter(sys.stdout, fieldnames=CSV_COLUMNS, lineterminator="\n")
        writer.writeheader()
        writer.writerows({name: item[name] or "" for name in CSV_COLUMNS} for item in rows)
        return
    names = {a.id: a.name for a in store.organization.accounts}
    show_exemptions(found, names, now, include_expired=include_expired)


def show_exemptions(
    found: list[Exemption], names: dict[str, str], now: datetime, *, include_expired: bool
) -> None:
    cells = [
        (
            exemption.account_id,
            escape(names.get(exemption.account_id, "")),
            escape(exemption.user_name),
            exemption.access_key_id or "all",
            escape(exemption.owner),
            escape(exemption.reason),
            f"{exemption.expires_at:%Y-%m-%d %H:%M}",
            exemptions.state(exemption, now),
        )
        for exemption in found
    ]
    styles = ["dim" if exemptions.state(e, now) == "expired" else None for e in found]
    title = "Exemptions" + ("" if include_expired else " in force")
    show_table(console, EXEMPTION_COLUMNS, cells, title=title, styles=styles)
    console.print(f"{len(found)} exemption(s).", highlight=False)
