"""`akr demo`: the simulated organization, shown key by key, with the HTML report of its audit log."""

from __future__ import annotations

import json
import logging
import threading
import warnings
from contextlib import ExitStack
from pathlib import Path
from typing import Annotated

import typer
from rich.markup import escape
from rich.table import Table

from org_bootstrap.commands.render import console
from org_bootstrap.demo.organization import REGION
from org_bootstrap.demo.run import DemoError, DemoResult, running_demo
from remediator.policy import Mode

STYLES = {"delete": "red", "deactivate": "yellow", "exempt": "cyan", "report": "magenta", "warn": "blue"}
DEFAULT_REPORT = Path("akr-demo-report.html")


def demo(  # noqa: PLR0917
    members: Annotated[int, typer.Option(min=1, max=50, help="Member accounts to simulate.")] = 5,
    seed: Annotated[
        int, typer.Option(help="Seed for the extra users' keys and for which event is lost.")
    ] = 7,
    mode: Annotated[Mode, typer.Option(help="The deployed mode.")] = Mode.DELETE,
    html: Annotated[Path, typer.Option("--html", help="Where to write the HTML report.")] = DEFAULT_REPORT,
    keep_running: Annotated[
        bool,
        typer.Option(
            "--keep-running", help="Keep the simulated AWS up afterwards and print how to reach it."
        ),
    ] = False,
    as_json: Annotated[bool, typer.Option("--json", help="Print a JSON summary only.")] = False,
) -> None:
    """Deploy to a simulated organization (moto on 127.0.0.1, offline) and remediate it.

    `akr deploy`'s code deploys the real templates; a Config stand-in puts the rules' NON_COMPLIANT
    changes onto the member buses (one is lost on purpose); the deployed rules carry them to the central
    remediator, run by a local Lambda runtime; the scheduled sweep then catches the lost one. Prints every
    key (before, decision, after), a total and the path of the HTML report.

    Exit code: 0 when every decision was carried out; 1 when any failed.
    """
    # The functions' JSON logs and moto's complaints about what it does not model would drown the table.
    logging.disable(logging.CRITICAL)
    warnings.filterwarnings("ignore", module="moto")
    quiet = as_json or not console.is_terminal
    try:
        with ExitStack() as running:
            with console.status("Starting...") as status:

                def progress(step: str) -> None:
                    if not quiet:
                        status.update(f"{step}...")

                result = running.enter_context(
                    running_demo(members=members, seed=seed, mode=mode, report_path=html, progress=progress)
                )
            if as_json:
                typer.echo(json.dumps(result.summary(), indent=2, sort_keys=True, default=str))
            else:
                render(result)
            if keep_running:
                _wait(result)
    except DemoError as exc:
        console.print(f"[red]demo failed:[/] {escape(str(exc))}")
        raise typer.Exit(code=1) from exc
    if result.errors:
        raise typer.Exit(code=1)


def render(result: DemoResult) -> None:
    table = Table(title="Access keys of the simulated organization", title_justify="left")
    for column in ("account", "user", "key", "age", "last used", "decision", "by", "now"):
        table.add_column(column, no_wrap=True)
    # One line per key: the reason is cut to the terminal; the HTML report and --json have it whole.
    table.add_column("reason", no_wrap=True, overflow="ellipsis", max_width=36)
    for row in result.rows:
        style = STYLES.get(row.decision, "green" if row.decision == "none" else "white")
        after = {"Active": "active", "Inactive": "[yellow]inactive[/]", "deleted": "[red]deleted[/]"}
        table.add_row(
            row.account_name,
            escape(row.user_name),
            row.access_key_id,
            f"{row.age_days}d",
            row.last_used_at.date().isoformat() if row.last_used_at else "never",
            f"[{style}]{row.decision}[/]",
            row.trigger,
            after.get(row.status_after, row.status_after),
            escape(row.reason),
        )
    console.print(table)
    names = ", ".join(f"{name} = {account}" for account, name in result.organization.account_names.items())
    console.print(f"Accounts: {names}", highlight=False)
    account, user, rule = result.lost_event
    console.print(
        f"Lost on purpose: the {rule} event for {escape(user)} in "
        f"{result.organization.account_names[account]} ({account}); "
        + (
            "[green]the sweep caught it[/]."
            if result.lost_event_caught
            else "[red]the sweep did not catch it[/]."
        )
    )
    counts = result.counts()
    parts = ", ".join(f"{n} {decision}" for decision, n in sorted(counts.items(), key=lambda kv: -kv[1]))
    accounts = len(result.organization.everyone)
    console.print(
        f"[bold]{len(result.rows)} keys in {accounts} accounts[/] ({result.mode} mode): "
        f"{parts}; {result.events_published} compliance changes published, 1 lost, "
        f"{result.events_forwarded} forwarded to the remediator; "
        f"{len(result.records)} audit records; {result.errors} errors."
    )
    console.print(f"HTML report: {result.report_path.resolve()}")


def _wait(result: DemoResult) -> None:
    org = result.organization
    console.print("\n[bold]The simulated AWS is up.[/] In another shell:")
    console.print(
        f"  export AWS_ENDPOINT_URL={org.url} AWS_ACCESS_KEY_ID=demo AWS_SECRET_ACCESS_KEY=demo "
        f"AWS_REGION={REGION}",
        highlight=False,
        soft_wrap=True,
    )
    console.print("  aws organizations list-accounts")
    console.print(
        f"  akr status --security-account {org.security}\n"
        f"  akr audit --security-account {org.security} --since 1d",
        highlight=False,
    )
    names = ", ".join(f"{name} {account}" for account, name in org.account_names.items())
    console.print(f"Accounts: {names}", highlight=False, soft_wrap=True)
    console.print(
        "The default credentials are the management account's; other accounts: assume "
        "arn:aws:iam::<account>:role/OrganizationAccountAccessRole.\nCtrl-C stops it."
    )
    try:
        block()
    except KeyboardInterrupt:
        console.print("Stopped.")


def block() -> None:
    """Until Ctrl-C."""
    threading.Event().wait()
