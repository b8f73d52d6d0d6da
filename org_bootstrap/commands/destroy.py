"""`akr destroy`: options, the plan, both confirmations, and what it prints; the work happens in
org_bootstrap.deploy.destroy."""

from __future__ import annotations

from typing import Annotated

import typer
from pydantic import ValidationError

from org_bootstrap.aws import Aws, CliError
from org_bootstrap.commands.deploy_views import show_destroyed
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
    Yes,
)
from org_bootstrap.commands.render import confirm, console, emit_json, envelope, fail, plan_lines, progress
from org_bootstrap.deploy.deployment import Deployment
from org_bootstrap.deploy.destroy import carry_out as carry_out_destroy
from org_bootstrap.deploy.destroy import prepare as prepare_destroy
from org_bootstrap.deploy.plan import PlanError
from org_bootstrap.deploy.teardown import DestroyPlan, describe_destroy


def destroy(  # noqa: PLR0917
    security_account: SecurityAccount,
    targets: Annotated[
        list[str] | None,
        typer.Option(
            "--targets", help="Root or OU ids to delete the stack instances by; repeat. Default: the root."
        ),
    ] = None,
    home_region: HomeRegion = None,
    security_role: SecurityRole = DEFAULT_ROLE,
    delete_audit_log: Annotated[
        bool,
        typer.Option(help="Also delete the audit table (kept by default). Asks a second time, by its name."),
    ] = False,
    yes_delete_audit_log: Annotated[
        str | None,
        typer.Option(
            metavar="TABLE",
            help="Answer the audit-table question without a prompt: the exact table name. --yes does not.",
        ),
    ] = None,
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Print the plan and stop.")] = False,
    yes: Yes = False,
    profile: Profile = None,
    region: Region = None,
    endpoint_url: EndpointUrl = None,
    output: OutputFormat = Output.TABLE,
) -> None:
    """Undo deploy, after a plan and a confirmation: the StackSet's instances and the StackSet, the
    management account's stack, the central stack and the code bucket.

    The audit table is kept: the template retains it. --delete-audit-log deletes it too, after a second,
    separate confirmation: type the table's name at the prompt, or pass --yes-delete-audit-log TABLE
    (--yes alone never deletes the audit log). Both answers are asked before anything changes.

    Exit code: 0 when done or when there is nothing to delete; 1 when aborted or on errors.
    """
    if yes_delete_audit_log is not None and not delete_audit_log:
        raise fail("destroy", "--yes-delete-audit-log needs --delete-audit-log", output)
    aws = Aws(profile=profile, region=region or home_region, endpoint_url=endpoint_url)
    try:
        deployment = Deployment(
            security_account_id=security_account,
            targets=tuple(targets or ()),
            home_region=home_region or aws.region_name,
            security_role=security_role,
        )
        with progress(output) as report:
            prepared = prepare_destroy(aws, deployment, delete_audit_log=delete_audit_log, progress=report)
        lines = describe_destroy(prepared.plan, deployment, prepared.footprint)
        if output is Output.TABLE:
            plan_lines(lines)
        if prepared.plan.deletes_nothing or dry_run:
            if output is Output.JSON:
                done = "ok" if prepared.plan.deletes_nothing else "planned"
                emit_json(envelope("destroy", done, plan=lines, changed=False))
            return
        confirm_destroy(prepared.plan, lines, yes=yes, audit_table_answer=yes_delete_audit_log, output=output)
        with progress(output) as report:
            deleted = carry_out_destroy(aws, prepared, report)
    except ValidationError as exc:
        raise fail("destroy", "; ".join(e["msg"] for e in exc.errors()), output) from exc
    except (CliError, PlanError) as exc:
        raise fail("destroy", str(exc), output) from exc
    show_destroyed(prepared.plan, deleted, lines, output)


def confirm_destroy(
    plan: DestroyPlan, lines: list[str], *, yes: bool, audit_table_answer: str | None, output: Output
) -> None:
    """Both questions before any change: "Destroy?" (or --yes), then, when the audit table goes too, its
    name typed at a prompt (or given as --yes-delete-audit-log)."""
    table = plan.audit_table
    if output is Output.JSON:
        missing = ([] if yes else ["--yes"]) + (
            [f"--yes-delete-audit-log {table}"] if table and audit_table_answer is None else []
        )
        if missing:
            error = f"--output json cannot ask for confirmation: pass {' and '.join(missing)}"
            emit_json(envelope("destroy", "aborted", plan=lines, changed=False, error=error))
            raise typer.Exit(code=1)
    confirm("destroy", "Destroy?", yes=yes, output=output)
    if table is None:
        return
    if audit_table_answer is not None:
        if audit_table_answer != table:
            raise CliError(
                f"--yes-delete-audit-log names {audit_table_answer}, but the audit table is {table}: "
                "nothing was changed"
            )
        return
    answer = typer.prompt(
        f"Deleting the audit log cannot be undone. Type the audit table's name ({table}) to delete it",
        default="",
        show_default=False,
    )
    if answer != table:
        console.print("Aborted: the name did not match; nothing was changed.")
        raise typer.Exit(code=1)
