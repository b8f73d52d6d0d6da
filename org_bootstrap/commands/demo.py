"""`akr demo`: the simulated organization, shown key by key, with the HTML report of its audit log."""

from __future__ import annotations

import csv
import json
import logging
import sys
import threading
import warnings
from collections import Counter
from contextlib import ExitStack
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.markup import escape

from org_bootstrap.aws import CliError
from org_bootstrap.commands.options import RecordsOutput
from org_bootstrap.commands.render import console, errors, iso
from org_bootstrap.commands.report import check_target
from org_bootstrap.commands.tables import Column
from org_bootstrap.commands.tables import show as show_table
from org_bootstrap.demo.organization import REGION
from org_bootstrap.demo.readback import DemoError
from org_bootstrap.demo.run import DemoResult, running_demo
from org_bootstrap.review.audit_verify import summary_line
from org_bootstrap.review.report.html import render_html
from remediator.policy import Mode

STYLES = {"delete": "red", "deactivate": "yellow", "exempt": "cyan", "report": "magenta", "warn": "blue"}
DEFAULT_REPORT = Path("akr-demo-report.html")


def demo(  # noqa: PLR0917
    members: Annotated[int, typer.Option(min=1, max=50, help="Member accounts to simulate.")] = 5,
    seed: Annotated[
        int,
        typer.Option(
            help="Seed for the extra users' keys, for which event is lost, and for moto's account and "
            "key ids."
        ),
    ] = 7,
    mode: Annotated[Mode, typer.Option(help="The deployed mode.")] = Mode.DELETE,
    html: Annotated[
        Path, typer.Option("--html", help='Where to write the HTML report; "-" writes it to stdout.')
    ] = DEFAULT_REPORT,
    keep_running: Annotated[
        bool,
        typer.Option(
            "--keep-running", help="Keep the simulated AWS up afterwards and print how to reach it."
        ),
    ] = False,
    output: Annotated[
        RecordsOutput,
        typer.Option("--output", help="table, json (a summary), or csv (every key, as the table has it)."),
    ] = RecordsOutput.TABLE,
    as_json: Annotated[bool, typer.Option("--json", hidden=True, help="--output json.")] = False,
) -> None:
    """Deploy to a simulated organization (moto on 127.0.0.1, offline) and remediate it.

    `akr deploy`'s code deploys the real templates; a Config stand-in registers the member stacks' Config
    rules and recorder (moto's CloudFormation skips them) and puts the rules' NON_COMPLIANT changes onto
    the member buses (one is lost on purpose); the deployed rules carry them to the central remediator,
    run by a local Lambda runtime; the scheduled sweep then catches the lost one. Prints every key
    (before, decision, after), a total and the path of the HTML report. With --keep-running, `akr status`
    and the other commands work against it.

    Exit code: 0 when every decision was carried out; 1 when any failed, and on bad input.
    """
    if as_json:
        output = RecordsOutput.JSON
    machine = output is not RecordsOutput.TABLE
    target = check_target(html, stdout_for=f"--output {output.value}" if machine else None)
    # The functions' JSON logs and moto's complaints about what it does not model would drown the table.
    previous = logging.root.manager.disable
    logging.disable(logging.CRITICAL)
    warnings.filterwarnings("ignore", module="moto")
    quiet = output is not RecordsOutput.TABLE or not errors.is_terminal
    try:
        with ExitStack() as running:
            running.callback(logging.disable, previous)  # in-process callers (tests) keep their logging
            with errors.status("Starting...") as status:

                def progress(step: str) -> None:
                    if not quiet:
                        status.update(f"{step}...")

                result = running.enter_context(
                    running_demo(members=members, seed=seed, mode=mode, report_path=target, progress=progress)
                )
            shown = console if target is not None else errors  # the page has stdout
            if target is None:
                sys.stdout.write(render_html(result.report_data))
            if output is RecordsOutput.JSON:
                typer.echo(json.dumps(result.summary(), indent=2, sort_keys=True, default=str))
            elif output is RecordsOutput.CSV:
                write_csv(result)
            else:
                render(result, shown)
            if keep_running:
                _wait(result, shown)
    except DemoError as exc:
        raise CliError(f"demo failed: {exc}") from exc
    if result.errors:
        raise typer.Exit(code=1)


DEMO_COLUMNS = (
    Column("account", "text"),
    Column("account id", drop=1),
    Column("user", "text"),
    Column("key"),
    Column("age", justify="right", drop=3),
    Column("last used", drop=2),
    Column("decision"),
    Column("by", drop=4),
    Column("now"),
    Column("reason", "text", drop=5),
)
"""Narrow terminals drop the account id first, then the last use, the age, the trigger and the reason
(the HTML report and --output csv have it); the account name, the user, the key, the decision and the
state afterwards always stay."""
CSV_COLUMNS = (
    "account_id",
    "account_name",
    "user_name",
    "access_key_id",
    "age_days",
    "last_used_at",
    "status_before",
    "decision",
    "trigger",
    "status_after",
    "reason",
)


def write_csv(result: DemoResult) -> None:
    writer = csv.DictWriter(sys.stdout, fieldnames=CSV_COLUMNS, lineterminator="\n")
    writer.writeheader()
    for row in result.rows:
        plain = {name: getattr(row, name) for name in CSV_COLUMNS}
        plain["last_used_at"] = iso(row.last_used_at) if row.last_used_at else ""
        writer.writerow(plain)


def render(result: DemoResult, out: Console) -> None:
    after = {"Active": "active", "Inactive": "[yellow]inactive[/]", "deleted": "[red]deleted[/]"}
    cells = []
    for row in result.rows:
        style = STYLES.get(row.decision, "green" if row.decision == "none" else "white")
        cells.append(
            (
                escape(row.account_name),
                row.account_id,
                escape(row.user_name),
                row.access_key_id,
                f"{row.age_days}d",
                row.last_used_at.date().isoformat() if row.last_used_at else "never",
                f"[{style}]{row.decision}[/]",
                row.trigger,
                after.get(row.status_after, row.status_after),
                escape(row.reason),
            )
        )
    show_table(out, DEMO_COLUMNS, cells, title="Access keys of the simulated organization")
    names = ", ".join(f"{name} = {account}" for account, name in result.organization.account_names.items())
    out.print(f"Accounts: {names}", highlight=False)
    account, user, rule = result.lost_event
    out.print(
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
    final = Counter(row.status_after for row in result.rows)
    ends = ", ".join(f"{n} {state.lower()}" for state, n in sorted(final.items()))
    out.print(
        f"[bold]{len(result.rows)} keys in {accounts} accounts[/] ({result.mode} mode): "
        f"{parts}; afterwards {ends}; {result.events_published} compliance changes published, 1 lost, "
        f"{result.events_forwarded} forwarded to the remediator; "
        f"{len(result.records)} audit records; {result.errors} errors."
    )
    archive = result.archive
    out.print(
        f"Audit archive: s3://{archive.bucket}/{archive.prefix} in {result.organization.security} "
        f"({archive.objects} objects, {len(archive.lines)} records as stored, each with its SHA-256).",
        highlight=False,
    )
    out.print(f"akr audit verify over the demo: {summary_line(result.verification)}.", highlight=False)
    if result.report_path is not None:
        out.print(f"HTML report: {result.report_path.resolve()}", highlight=False)


def _wait(result: DemoResult, out: Console) -> None:
    org = result.organization
    out.print("\n[bold]The simulated AWS is up.[/] In another shell:")
    out.print(
        f"  export AWS_ENDPOINT_URL={org.url} AWS_ACCESS_KEY_ID=demo AWS_SECRET_ACCESS_KEY=demo "
        f"AWS_REGION={REGION} AWS_DEFAULT_REGION={REGION} AKR_SECURITY_ACCOUNT={org.security}",
        highlight=False,
    )
    out.print("  aws organizations list-accounts")
    out.print("  akr status\n  akr audit --since 1d\n  akr scan", highlight=False)
    names = ", ".join(f"{name} {account}" for account, name in org.account_names.items())
    out.print(f"Accounts: {names}", highlight=False)
    out.print(
        "The default credentials are the management account's; other accounts: assume "
        "arn:aws:iam::<account>:role/OrganizationAccountAccessRole.\nCtrl-C stops it."
    )
    try:
        block()
    except KeyboardInterrupt:
        out.print("Stopped.")


def block() -> None:
    """Until Ctrl-C."""
    threading.Event().wait()
