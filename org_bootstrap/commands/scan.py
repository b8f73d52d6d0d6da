"""The `akr scan` command: options, a progress bar, and the rows as a rich table, the stable JSON envelope
(org_bootstrap.commands.render) or CSV with a header. The work is in org_bootstrap.review.scan_plan and
org_bootstrap.review.scan; org_bootstrap.commands.app registers the command."""

from __future__ import annotations

import csv
import logging
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager, nullcontext
from datetime import datetime
from typing import Annotated, Any

import typer
from pydantic import ValidationError
from rich.markup import escape
from rich.progress import BarColumn, MofNCompleteColumn, Progress, SpinnerColumn, TextColumn
from rich.table import Table

from org_bootstrap.aws import Aws, CliError
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
)
from org_bootstrap.commands.render import console, emit_json, envelope, errors, fail
from org_bootstrap.deploy.deployment import CisVersion, Deployment
from org_bootstrap.deploy.plan import PlanError
from org_bootstrap.review.audit_query import QueryError
from org_bootstrap.review.rate_limit import RateLimiter
from org_bootstrap.review.scan import AccountScan, Row, ScanResult
from org_bootstrap.review.scan_plan import Overrides, ScanPlan, ScanPolicy, prepare_scan, run_scan
from remediator.policy import Mode

CSV_COLUMNS = (
    "account_id",
    "user_name",
    "access_key_id",
    "status",
    "age_days",
    "last_used_at",
    "action",
    "when",
    "at",
    "rules",
    "reason",
)


def scan(  # noqa: PLR0917
    security_account: SecurityAccount,
    accounts: Annotated[
        list[str] | None,
        typer.Option(
            "--accounts",
            metavar="ID",
            help="Only this account; repeat for several. Default: every ACTIVE account, the management "
            "account included.",
            show_default=False,
        ),
    ] = None,
    within: Annotated[
        str,
        typer.Option(
            help="Also list the keys that become due within this horizon (30d, 2w, 12h), with when."
        ),
    ] = "30d",
    mode: Annotated[
        Mode | None, typer.Option(help="Preview this mode instead of the deployed one.", show_default=False)
    ] = None,
    cis: Annotated[
        CisVersion | None,
        typer.Option("--cis", help="Preview a CIS preset: 1.2 (90/90) or 1.4+ (90/45).", show_default=False),
    ] = None,
    max_key_age_days: Annotated[
        int | None,
        typer.Option(min=1, max=3650, help="Preview this rotation limit.", show_default=False),
    ] = None,
    max_unused_days: Annotated[
        int | None,
        typer.Option(min=1, max=3650, help="Preview this unused limit.", show_default=False),
    ] = None,
    concurrency: Annotated[int, typer.Option(min=1, max=64, help="Accounts read at once.")] = 8,
    max_calls_per_second: Annotated[
        float, typer.Option(min=0.1, max=1000, help="AWS requests per second, all accounts together.")
    ] = 20,
    account_role: Annotated[
        str,
        typer.Option(
            help="Role assumed in each account to read IAM. Not the member role: it trusts only the deployed "
            "remediator's role."
        ),
    ] = DEFAULT_ROLE,
    security_role: SecurityRole = DEFAULT_ROLE,
    home_region: HomeRegion = None,
    profile: Profile = None,
    region: Region = None,
    endpoint_url: EndpointUrl = None,
    output: RecordsOutputFormat = RecordsOutput.TABLE,
) -> None:
    """Preview enforcement, read-only: which keys would be acted on, when and why, in every account.

    In each account (entered through --account-role; the account akr runs in with its own credentials)
    the credential report nominates the users whose active keys break a rule now or will within
    --within; they are read live and decided by the remediator's own decision core, with the policy of
    the deployed central stack (or the defaults when there is none, as the output says), the central
    exemptions, and in staged mode the date each deactivated key will be deleted. A key due within the
    horizon is shown with what would happen just after its due date. A key exempt by a central exemption
    that expires within the horizon is shown with what would happen when it expires, on that date (the
    reason names the exemption); exempt only while the exemption outlasts the horizon. --mode, --cis and
    the limits preview a change of policy. Nothing is written: no audit record, no key lifecycle, no
    claim, no notification, no change in IAM.

    Permissions: --account-role needs only iam:GenerateCredentialReport, iam:GetCredentialReport,
    iam:ListUsers, iam:ListAccessKeys, iam:GetAccessKeyLastUsed and iam:GetUser; the AWS managed policy
    SecurityAudit grants them all (iam:GenerateCredentialReport, iam:Get*, iam:List*). --security-role
    needs cloudformation:DescribeStacks and GetTemplate on the central stack, and dynamodb:Query on the
    state table, which SecurityAudit does not grant. Each role is assumed with a session policy that
    allows exactly these actions, so the scan cannot write even through a role that could (the account
    akr runs in is read with its own credentials, which no session policy caps).

    The exemptions and key lifecycles of every account are read first, then the accounts,
    --concurrency at a time; --max-calls-per-second paces every request of all of them together, and
    botocore's adaptive retries back off when AWS throttles anyway.

    Exit code: 0 when every account was read; 1 when one could not be, whatever the failure (each listed
    with its reason, the others complete), and on bad input.
    """
    errors_as = Output.JSON if output is RecordsOutput.JSON else Output.TABLE
    overrides = Overrides(
        mode=mode, cis=cis, max_key_age_days=max_key_age_days, max_unused_days=max_unused_days
    )
    limiter = RateLimiter(max_calls_per_second)
    try:
        aws = Aws(profile=profile, region=region or home_region, endpoint_url=endpoint_url)
        deployment = Deployment(
            security_account_id=security_account,
            home_region=home_region or aws.region_name,
            security_role=security_role,
        )
        reading = console.status("Reading the organization and the central stack")
        with reading if output is RecordsOutput.TABLE else nullcontext():
            plan = prepare_scan(
                aws,
                deployment,
                overrides,
                accounts=accounts or (),
                account_role=account_role,
                within=within,
                limiter=limiter,
            )
        with _quiet(), scan_progress(output, len(plan.accounts)) as done:
            result = run_scan(aws, deployment, plan, limiter=limiter, concurrency=concurrency, on_done=done)
    except ValidationError as exc:
        raise fail("scan", "; ".join(e["msg"] for e in exc.errors()), errors_as) from exc
    except (CliError, PlanError, QueryError) as exc:
        raise fail("scan", str(exc), errors_as) from exc
    show_scan(plan, result, output)
    if result.failed:
        raise typer.Exit(code=1)


@contextmanager
def _quiet() -> Iterator[None]:
    """The adapters log a fallback (no credential report: the users are listed) as a warning; the output
    says it per account already."""
    previous = logging.root.manager.disable
    logging.disable(logging.WARNING)
    try:
        yield
    finally:
        logging.disable(previous)


@contextmanager
def scan_progress(output: RecordsOutput, total: int) -> Iterator[Callable[[AccountScan], None]]:
    """A progress bar over the accounts, on stderr, with the table output only."""
    if output is not RecordsOutput.TABLE or total == 0:
        yield lambda _scanned: None
        return
    columns = (SpinnerColumn(), TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn())
    failed = 0
    with Progress(*columns, console=errors, transient=True) as bar:
        task = bar.add_task("scanning accounts", total=total)

        def done(scanned: AccountScan) -> None:
            nonlocal failed
            failed += scanned.failed
            note = f" ({failed} failed)" if failed else ""
            bar.update(task, advance=1, description=f"scanned {scanned.account_id}{note}")

        yield done


def when(row: Row) -> str:
    return "now" if row.at is None else f"{row.at:%Y-%m-%d}"


def row_dict(row: Row, now: datetime) -> dict[str, Any]:
    return {
        "account_id": row.account_id,
        "user_name": row.user_name,
        "access_key_id": row.access_key_id,
        "status": row.status,
        "age_days": row.age_days,
        "last_used_at": row.last_used_at.isoformat() if row.last_used_at else None,
        "action": row.action.value,
        "when": when(row),
        "at": (row.at or now).isoformat(),
        "rules": [rule.value for rule in row.rules],
        "reason": row.reason,
    }


def csv_row(row: Row, now: datetime) -> dict[str, str]:
    plain = row_dict(row, now)
    plain["rules"] = ";".join(plain["rules"])
    return {name: "" if plain[name] is None else str(plain[name]) for name in CSV_COLUMNS}


def scan_envelope(plan: ScanPlan, result: ScanResult) -> dict[str, Any]:
    """{"command": "scan", "status": "ok" | "error", "changed": false, "result": {...}}, plus "error"
    when an account could not be read completely."""
    body = {
        "organization_id": plan.organization_id,
        "policy": plan.policy.as_dict(),
        "within": plan.within,
        "now": plan.now.isoformat(),
        "until": plan.until.isoformat(),
        "accounts": [
            {
                "account_id": a.account_id,
                "nominated_by": a.nominated_by,
                "users_read": a.users_read,
                "rows": len(a.rows),
                "failed": a.failed,
            }
            for a in result.accounts
        ],
        "accounts_failed": [{"account_id": a.account_id, "reasons": list(a.errors)} for a in result.failed],
        "errors": result.errors,
        "rows": [row_dict(row, plan.now) for row in result.rows],
        "totals": result.totals(),
    }
    if not result.failed:
        return envelope("scan", "ok", changed=False, result=body)
    error = f"{len(result.failed)} of {len(result.accounts)} account(s) could not be read completely"
    return envelope("scan", "error", changed=False, result=body, error=error)


def policy_line(chosen: ScanPolicy) -> str:
    policy = chosen.policy
    limits = policy.thresholds
    line = (
        f"Policy ({chosen.source}: {chosen.note}): mode {policy.mode.value}, rotation after "
        f"{limits.max_key_age_days} days, unused after {limits.max_unused_days} days"
    )
    if policy.mode is Mode.STAGED:
        line += f", deletion {policy.grace_days} days after deactivation"
    if policy.warn_days_before and policy.mode is not Mode.REPORT:  # report mode warns nobody
        line += f", owners warned {policy.warn_days_before} days before"
    if chosen.overrides:
        line += "; previewing " + ", ".join(f"{option} {value}" for option, value in chosen.overrides.items())
    return line


def totals_line(result: ScanResult) -> str:
    counts = ", ".join(f"{n} {action}" for action, n in result.totals().items())
    return (
        f"Totals: {counts}; {len(result.accounts)} account(s) scanned, {len(result.failed)} failed, "
        f"{result.errors} error(s). Nothing was changed."
    )


def show_scan(plan: ScanPlan, result: ScanResult, output: RecordsOutput) -> None:
    if output is RecordsOutput.JSON:
        emit_json(scan_envelope(plan, result))
        return
    if output is RecordsOutput.CSV:
        writer = csv.DictWriter(sys.stdout, fieldnames=CSV_COLUMNS, lineterminator="\n")
        writer.writeheader()
        writer.writerows(csv_row(row, plan.now) for row in result.rows)
        _show_failures(result)
        return
    console.print(policy_line(plan.policy), highlight=False, soft_wrap=True)
    horizon = f"now or by {plan.until:%Y-%m-%d %H:%M} UTC (--within {plan.within})"
    if result.rows:
        table = Table(title=f"Keys acted on {horizon}", title_justify="left")
        for column in ("account", "user", "key", "status", "age", "last used", "action", "when", "rules"):
            table.add_column(column, no_wrap=True)
        table.add_column("reason", overflow="fold")
        for row in result.rows:
            table.add_row(
                row.account_id,
                escape(row.user_name),
                row.access_key_id,
                row.status,
                f"{row.age_days}d",
                f"{row.last_used_at:%Y-%m-%d}" if row.last_used_at else "never",
                row.action.value,
                when(row),
                ", ".join(rule.value for rule in row.rules) or "-",
                escape(row.reason),
            )
        console.print(table)
    else:
        console.print(f"No key would be acted on {horizon}.", highlight=False)
    _show_failures(result)
    console.print(totals_line(result), highlight=False, soft_wrap=True)


def _show_failures(result: ScanResult) -> None:
    for scanned in result.failed:
        for reason in scanned.errors:
            errors.print(f"[red]{scanned.account_id}[/] could not be read: {escape(reason)}", highlight=False)
