"""`akr`: parses options and renders; the work happens in the modules it calls."""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Annotated

import typer
from pydantic import ValidationError
from rich.table import Table

from org_bootstrap.aws import Aws, CliError
from org_bootstrap.demo import DemoResult, run_demo, summary
from org_bootstrap.deploy import Outcome, Prepared, carry_out, prepare
from org_bootstrap.deployment import CisVersion, Deployment
from org_bootstrap.lambda_zip import PackagingError
from org_bootstrap.options import EndpointUrl, Output, OutputFormat, Profile, Region, Yes
from org_bootstrap.plan import PlanError, describe
from org_bootstrap.render import console, emit_json, envelope, fail, plan_lines
from org_bootstrap.stacks import failed_instances
from remediator.policy import Mode

app = typer.Typer(
    help="Organization-wide remediation of IAM access keys (CIS AWS Foundations Benchmark).",
    no_args_is_help=True,
)


@app.callback()
def main() -> None:
    """Organization-wide remediation of IAM access keys (CIS AWS Foundations Benchmark)."""


@app.command()
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


@contextmanager
def progress(output: Output) -> Iterator[Callable[[str], None]]:
    """A spinner with the current step on a terminal; silence with --output json."""
    if output is Output.JSON:
        yield lambda _message: None
        return
    with console.status("starting") as status:
        yield status.update


@app.command()
def deploy(  # noqa: PLR0917
    security_account: Annotated[
        str, typer.Option("--security-account", help="Account id of the security (central) account.")
    ],
    targets: Annotated[
        list[str] | None,
        typer.Option(
            "--targets", help="Root (r-...) or OU (ou-...) ids; repeat for several. Default: the root."
        ),
    ] = None,
    home_region: Annotated[
        str | None, typer.Option("--home-region", help="The one region for the rules. Default: --region.")
    ] = None,
    mode: Annotated[Mode, typer.Option(help="What to do with a violating key.")] = Mode.DELETE,
    cis: Annotated[
        CisVersion | None, typer.Option("--cis", help="CIS preset: 1.2 (90/90) or 1.4+ (90/45).")
    ] = None,
    max_key_age_days: Annotated[int | None, typer.Option(min=1, max=3650)] = None,
    max_unused_days: Annotated[int | None, typer.Option(min=1, max=3650)] = None,
    create_config_recorder: Annotated[
        bool, typer.Option(help="Create a Config recorder in each member (not where one exists).")
    ] = False,
    protected_user_path: Annotated[
        str, typer.Option(help="IAM path of break-glass users, e.g. /break-glass/: never touched.")
    ] = "",
    security_role: Annotated[
        str, typer.Option(help="Role assumed in the security account.")
    ] = "OrganizationAccountAccessRole",
    yes: Yes = False,
    profile: Profile = None,
    region: Region = None,
    endpoint_url: EndpointUrl = None,
    output: OutputFormat = Output.TABLE,
) -> None:
    """Deploy the whole organization from the management account (or a delegated administrator)."""
    if cis and (max_key_age_days or max_unused_days):
        raise fail("deploy", "give either --cis or --max-key-age-days/--max-unused-days, not both", output)
    aws = Aws(profile=profile, region=region or home_region, endpoint_url=endpoint_url)
    try:
        deployment = Deployment(
            security_account_id=security_account,
            targets=tuple(targets or ()),
            home_region=home_region or aws.region_name,
            mode=mode,
            cis=cis,
            max_key_age_days=max_key_age_days,
            max_unused_days=max_unused_days,
            create_config_recorder=create_config_recorder,
            protected_user_path=protected_user_path,
            security_role=security_role,
        )
        with progress(output) as report:
            prepared = prepare(aws, deployment, report)
        lines = describe(prepared.plan, deployment, prepared.observed)
        if output is Output.TABLE:
            plan_lines(lines)
        if prepared.plan.changes_nothing:
            if output is Output.JSON:
                emit_json(envelope("deploy", "ok", plan=lines, changed=False))
            return
        confirm("deploy", "Deploy?", yes=yes, output=output)
        with progress(output) as report:
            outcome = carry_out(aws, prepared, report)
    except ValidationError as exc:
        raise fail("deploy", "; ".join(e["msg"] for e in exc.errors()), output) from exc
    except (CliError, PlanError, PackagingError) as exc:
        raise fail("deploy", str(exc), output) from exc
    show_deployed(prepared, outcome, lines, output)


def confirm(command: str, question: str, *, yes: bool, output: Output) -> None:
    """Go on only with --yes or a "y"; JSON output never prompts."""
    if yes:
        return
    if output is Output.JSON:
        raise fail(command, "--output json cannot ask for confirmation: pass --yes", output)
    if not typer.confirm(question):
        console.print("Aborted: nothing was changed.")
        raise typer.Exit(code=1)


def show_deployed(prepared: Prepared, outcome: Outcome, lines: list[str], output: Output) -> None:
    failed = failed_instances(outcome.instances)
    covered = sorted({i.account_id for i in outcome.instances} - {i.account_id for i in failed})
    if outcome.management_covered:
        covered.append(prepared.observed.management_account)
    result = {
        "accounts_covered": covered,
        "accounts_failed": [
            {"account_id": i.account_id, "status": i.status, "reason": i.reason} for i in failed
        ],
        "event_bus_arn": outcome.outputs.get("EventBusArn", prepared.plan.bus_arn),
        "audit_table": outcome.outputs.get("AuditTableName", ""),
    }
    if output is Output.JSON:
        emit_json(
            envelope("deploy", "ok" if not failed else "error", plan=lines, changed=True, result=result)
        )
    else:
        console.print(f"[green]Deployed.[/] {len(covered)} account(s) covered: {', '.join(covered)}")
        for instance in failed:
            console.print(
                f"[red]{instance.account_id}[/] {instance.status}: {instance.reason}", highlight=False
            )
        console.print(f"Central bus: {result['event_bus_arn']}")
        console.print(f"Audit table: {result['audit_table']}")
    if failed:
        raise typer.Exit(code=1)
