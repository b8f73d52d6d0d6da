"""What `akr sweep` and `akr undo` print: rich on a terminal, the stable JSON envelope with --output json
(org_bootstrap.commands.render)."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any

from rich.markup import escape
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    SpinnerColumn,
    TextColumn,
    TimeElapsedColumn,
)

from org_bootstrap.commands.options import Output
from org_bootstrap.commands.render import console, emit_json, envelope
from org_bootstrap.commands.tables import Column
from org_bootstrap.commands.tables import show as show_table
from org_bootstrap.review.dry_run import KeptRecords
from org_bootstrap.review.local_sweep import AccountResult, totals
from org_bootstrap.review.sweep import LocalSweep, Started

# Column title -> RunResult.summary() key.
COLUMNS = {
    "deactivated": "deactivated",
    "deleted": "deleted",
    "warned": "warned",
    "exempt": "exempted",
    "reported": "reported",
    "findings": "findings",
    "failed": "failed",
}


SWEEP_COLUMNS = (
    Column("account"),
    *(Column(title, justify="right") for title in COLUMNS),
    Column("problems", "text", drop=1),
)
"""Narrow terminals drop the problems (also in --output json)."""


@contextmanager
def sweep_progress(output: Output, total: int) -> Iterator[Callable[[AccountResult], None]]:
    """A progress bar over the accounts on a terminal; nothing with --output json."""
    if output is Output.JSON or total == 0:
        yield lambda _result: None
        return
    columns = (
        SpinnerColumn(),
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
    )
    failed = 0
    with Progress(*columns, console=console, transient=True) as bar:
        task = bar.add_task("sweeping accounts", total=total)

        def done(result: AccountResult) -> None:
            nonlocal failed
            failed += result.failed
            note = f" ({failed} failed)" if failed else ""
            bar.update(task, advance=1, description=f"swept {result.account_id}{note}")

        yield done


def started_envelope(started: Started, lines: list[str]) -> dict[str, Any]:
    return envelope(
        "sweep",
        "ok",
        plan=lines,
        changed=True,
        result={
            "local": False,
            "run_id": started.run_id,
            "function_name": started.function_name,
            "security_account": started.security_account,
            "region": started.region,
            "mode": started.mode,
            "audit_table": started.audit_table,
            "log_groups": list(started.log_groups),
        },
    )


def show_started(started: Started, lines: list[str], output: Output) -> None:
    if output is Output.JSON:
        emit_json(started_envelope(started, lines))
        return
    console.print(f"[green]Started[/] sweep run {started.run_id}.", highlight=False)
    console.print(
        f"The function {started.function_name} queues one message per ACTIVE account; the worker "
        "reconciles each, and retries or dead-letters the accounts that fail.",
        highlight=False,
    )
    console.print(
        f"Audit records: table {started.audit_table} in the security account {started.security_account} "
        f"({started.region}), event_id sweep-{started.run_id}",
        highlight=False,
    )
    console.print(f"Logs: {', '.join(started.log_groups)}", highlight=False)


def local_envelope(
    plan: LocalSweep,
    results: Sequence[AccountResult],
    lines: list[str],
    seconds: float,
    kept: KeptRecords | None = None,
) -> dict[str, Any]:
    counts = totals(results)
    body = {
        "local": True,
        "run_id": plan.run_id,
        "mode": plan.settings.mode.value,
        "dry_run": plan.dry_run,
        "region": plan.region,
        "audit_table": plan.settings.audit_table,
        "accounts": [
            {"account_id": r.account_id, "failed": r.failed, "summary": r.summary, "errors": list(r.errors)}
            for r in results
        ],
        "skipped": [{"account_id": account, "reason": why} for account, why in plan.skipped],
        "totals": counts,
        "seconds": round(seconds, 3),
    }
    if kept is not None:  # a dry run: the decisions, stored nowhere
        body["records"] = [r.model_dump(mode="json", exclude={"day"}) for r in kept.records]
    if counts["accounts_failed"]:
        error = f"{counts['accounts_failed']} of {counts['accounts']} account(s) failed"
        return envelope("sweep", "error", plan=lines, changed=plan.changes_iam, result=body, error=error)
    return envelope("sweep", "ok", plan=lines, changed=plan.changes_iam, result=body)


def show_local(  # noqa: PLR0917
    plan: LocalSweep,
    results: Sequence[AccountResult],
    lines: list[str],
    output: Output,
    seconds: float,
    kept: KeptRecords | None = None,
) -> None:
    if output is Output.JSON:
        emit_json(local_envelope(plan, results, lines, seconds, kept))
        return
    counts = totals(results)
    rows = []
    for result in results:
        cells = [str(result.summary.get(key, 0)) for key in COLUMNS.values()]
        account = f"[red]{result.account_id}[/]" if result.failed else result.account_id
        rows.append((account, *cells, escape("; ".join(result.errors)) or "-"))
    rows.append(("total", *(str(counts[key]) for key in COLUMNS.values()), ""))
    show_table(console, SWEEP_COLUMNS, rows, title=f"Sweep {plan.run_id} (mode {plan.settings.mode.value})")
    for account, why in plan.skipped:
        console.print(f"Skipped {account}: {why}.", highlight=False)
    failed = counts["accounts_failed"]
    verdict = f"[red]{failed} failed[/]" if failed else "none failed"
    where = (
        "Dry run: nothing was written, in IAM or in the central tables."
        if plan.dry_run
        else f"Every decision is in the audit table {plan.settings.audit_table} (event_id {plan.label})."
    )
    console.print(
        f"{counts['accounts']} account(s) swept in {seconds:.1f} s, {verdict}. {where}", highlight=False
    )


def show_reactivated(line: str, result: dict[str, str], output: Output) -> None:
    if output is Output.JSON:
        emit_json(envelope("undo", "ok", plan=[line], changed=True, result=result))
        return
    key, user, account = result["access_key_id"], result["user_name"], result["account_id"]
    console.print(
        f"[green]Reactivated[/] {key} of {user} in {account}; the audit records name {result['operator']}.",
        highlight=False,
    )
    console.print(
        "The next sweep evaluates the key afresh: if it still breaks a rule, it needs an exemption to stay "
        "active.",
        highlight=False,
    )
