"""`akr demo`: the simulated organization, shown as the central audit log."""

from __future__ import annotations

import json
import logging
from typing import Annotated

import typer
from rich.table import Table

from org_bootstrap.demo import DemoResult, run_demo, summary
from org_bootstrap.render import console


def demo(
    members: Annotated[int, typer.Option(min=1, max=50, help="Member accounts to simulate.")] = 3,
    seed: Annotated[int, typer.Option(help="Seed for the randomly aged extra users.")] = 7,
    mode: Annotated[str, typer.Option(help="report, deactivate, delete or staged.")] = "delete",
    as_json: Annotated[bool, typer.Option("--json", help="Print a JSON summary only.")] = False,
) -> None:
    """Run the remediation on a simulated organization (moto, offline) and show the audit log."""
    logging.disable(logging.WARNING)  # the handler's JSON logs would drown the table
    with console.status("Simulating the organization and remediating..."):
        result = run_demo(members=members, seed=seed, mode=mode)
    if as_json:
        typer.echo(json.dumps(summary(result), indent=2, sort_keys=True))
        return
    render(result)


def render(result: DemoResult) -> None:
    table = Table(title="Central audit log", show_lines=False)
    for column in ("account", "user", "key", "age", "last used", "decision", "outcome"):
        table.add_column(column, no_wrap=True)
    table.add_column("reason", overflow="fold")
    styles = {"delete": "red", "deactivate": "yellow", "exempt": "cyan", "report": "magenta"}
    for r in sorted(result.records, key=lambda r: (r.account_id, r.user_name or "", r.record_id)):
        table.add_row(
            r.account_id,
            r.user_name or r.user_id or "-",
            r.access_key_id or "-",
            "-" if r.key_age_days is None else f"{r.key_age_days}d",
            r.last_used_at.date().isoformat() if r.last_used_at else "never",
            f"[{styles.get(r.decision, 'green')}]{r.decision}[/]",
            r.outcome,
            r.reason,
        )
    console.print(table)
    counts = result.counts()
    parts = ", ".join(f"{n} {decision}" for decision, n in sorted(counts.items()))
    console.print(
        f"{result.events_delivered} NON_COMPLIANT events handled; {len(result.records)} decisions: {parts}; "
        f"{result.errors} errors."
    )
