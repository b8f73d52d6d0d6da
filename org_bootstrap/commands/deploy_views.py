"""What `akr status` and `akr destroy` print: rich on a terminal, the stable JSON envelope with
--output json (org_bootstrap.commands.render)."""

from __future__ import annotations

import csv
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from rich.markup import escape
from rich.progress import BarColumn, MofNCompleteColumn, Progress, SpinnerColumn, TextColumn

from org_bootstrap.commands.options import Output, RecordsOutput
from org_bootstrap.commands.render import console, emit_json, envelope
from org_bootstrap.commands.tables import Column
from org_bootstrap.commands.tables import show as show_table
from org_bootstrap.deploy.coverage import CHECKS
from org_bootstrap.deploy.status import Status, Tick
from org_bootstrap.deploy.teardown import DestroyPlan

MEMBER_ROLE_NOTE = (
    "checked statically (iam:GetRole), not assumed: its trust pins aws:PrincipalArn to the remediator's "
    "role, so no one else can assume it"
)
_MARKS = {True: "[green]ok[/]", False: "[red]no[/]", None: "[yellow]?[/]"}


@contextmanager
def account_progress(output: Output | RecordsOutput, total: int) -> Iterator[Tick]:
    """A progress bar over the accounts on a terminal; nothing with --output json or csv."""
    if output not in (Output.TABLE, RecordsOutput.TABLE):
        yield lambda _account: None
        return
    columns = (SpinnerColumn(), TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn())
    with Progress(*columns, console=console, transient=True) as bar:
        task = bar.add_task("checking accounts", total=total)
        yield lambda account: bar.update(task, advance=1, description=f"checked {account}")


STATUS_COLUMNS = (
    Column("account"),
    Column("name", "text", drop=1),
    Column("stack"),
    Column("recorder"),
    Column("rules"),
    Column("forwarding"),
    Column("member role"),
    Column("reactivation", drop=3),
    Column("problems", "text", drop=2),
)
"""Narrow terminals drop the account name first, then the problems, then the reactivation mark (each is in
--output json and csv too, and the line under the table names what was left out); the account and the
other marks always stay (at 80 columns they fill the width)."""
CSV_COLUMNS = ("account_id", "name", "covered", *CHECKS, "problems")
_CSV_MARKS = {True: "ok", False: "no", None: "unknown"}


def show_status(result: Status, output: Output | RecordsOutput) -> None:
    if output in (Output.JSON, RecordsOutput.JSON):
        emit_json(status_envelope(result))
        return
    if output is RecordsOutput.CSV:
        writer = csv.DictWriter(sys.stdout, fieldnames=CSV_COLUMNS, lineterminator="\n")
        writer.writeheader()
        for report in result.accounts:
            found = {name: _CSV_MARKS[report.findings[name].ok] for name in CHECKS}
            writer.writerow(
                {"account_id": report.account_id, "name": report.name, "covered": str(report.covered)}
                | found
                | {"problems": "; ".join(report.problems)}
            )
        return
    rows = []
    gap = _management_gap(result)
    for report in result.accounts:
        stack = report.findings["stack"]
        marks = [_MARKS[report.findings[name].ok] for name in CHECKS[1:]]
        if gap and report.account_id == result.footprint.management_account:
            marks[-1] = "[yellow]gap[/]"
        stack_cell = escape(stack.detail) if stack.ok else f"[red]{'no' if stack.ok is False else '?'}[/]"
        problems = escape("; ".join(report.problems)) or "-"
        rows.append((report.account_id, escape(report.name), stack_cell, *marks, problems))
    expected = result.expected
    title = f"Coverage in {expected.home_region}" + (
        f" (reactivation forwarding rule: {expected.events_region})"
        if expected.events_region != expected.home_region
        else ""
    )
    show_table(console, STATUS_COLUMNS, rows, title=title)
    central = result.central
    console.print(
        f"Security account {result.security_account}: "
        + (central.detail if central.ok else f"[red]{central.detail}[/]")
    )
    if result.paused:
        console.print(f"[bold red]{escape(result.paused)}[/]", highlight=False)
    if result.guardrails:
        console.print(f"{escape(result.guardrails)}.", highlight=False)
    counts = result.counts
    console.print(
        f"{counts.accounts} account(s): {counts.covered} fully covered, {counts.with_problems} with problems."
    )
    inactive = result.footprint.inactive_accounts
    if inactive:
        states = ", ".join(f"{a.id} ({a.status or 'state unknown'})" for a in inactive)
        console.print(f"Not checked, not ACTIVE: {states}.", highlight=False)
    console.print(f"Member role: {MEMBER_ROLE_NOTE}.", highlight=False)
    if gap:
        console.print(f"Reactivation forwarding rule: {escape(gap)}.", highlight=False)


def _management_gap(result: Status) -> str | None:
    """The management account's reactivation detail when it is the known gap (its stack is in the home
    region only, the rule elsewhere): not a problem, said in words under the table."""
    expected = result.expected
    if expected.events_region == expected.home_region:
        return None
    for report in result.accounts:
        finding = report.findings.get("reactivation")
        if report.account_id == result.footprint.management_account and finding and finding.ok:
            return finding.detail
    return None


def status_envelope(result: Status) -> dict[str, Any]:
    """{"command": "status", "status": "ok" | "error", "result": {...}} plus "error" when not healthy."""
    counts = result.counts
    body = {
        "organization_id": result.footprint.organization_id,
        "management_account": result.footprint.management_account,
        "security_account": result.security_account,
        "home_region": result.expected.home_region,
        "reactivation_region": result.expected.events_region,
        "central": result.central.model_dump(),
        "counts": counts.model_dump(),
        "accounts": [
            {
                "account_id": r.account_id,
                "name": r.name,
                "covered": r.covered,
                "checks": {name: finding.model_dump() for name, finding in r.findings.items()},
                "problems": r.problems,
            }
            for r in result.accounts
        ],
        "member_role_check": MEMBER_ROLE_NOTE,
        "paused": result.paused,
        "guardrails": result.guardrails,
        "not_active": [
            {"account_id": a.id, "name": a.name, "state": a.status}
            for a in result.footprint.inactive_accounts
        ],
    }
    if result.healthy:
        return envelope("status", "ok", result=body)
    error = (
        f"{counts.with_problems} of {counts.accounts} account(s) have problems"
        if counts.with_problems
        else result.central.detail
    )
    return envelope("status", "error", result=body, error=error)


def show_destroyed(plan: DestroyPlan, deleted: list[str], lines: list[str], output: Output) -> None:
    result = {"deleted": deleted, "retained_audit_tables": list(plan.retained_audit_tables)}
    if output is Output.JSON:
        emit_json(envelope("destroy", "ok", plan=lines, changed=True, result=result))
        return
    console.print("[green]Destroyed.[/]")
    for line in deleted:
        console.print(f"  deleted {line}", highlight=False)
    for name in plan.retained_audit_tables:
        console.print(f"  kept the audit table {name}", highlight=False)
