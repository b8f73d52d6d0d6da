"""The `akr sweep` and `akr undo` commands: options, the plan, the confirmation, then the modules that do
the work (org_bootstrap.review.sweep, org_bootstrap.review.undo) and the views.
org_bootstrap.commands.app registers them."""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator
from contextlib import contextmanager, nullcontext
from typing import Annotated

import typer
from pydantic import ValidationError

from org_bootstrap.aws import Aws, CliError
from org_bootstrap.commands.options import (
    DEFAULT_ROLE,
    AccountRole,
    EndpointUrl,
    HomeRegion,
    Output,
    OutputFormat,
    Profile,
    Region,
    SecurityAccount,
    SecurityRole,
    Yes,
    access_key_ids,
    account_ids,
)
from org_bootstrap.commands.render import confirm, console, fail, plan_lines
from org_bootstrap.commands.sweep_views import show_local, show_reactivated, show_started, sweep_progress
from org_bootstrap.deploy.deployment import Deployment
from org_bootstrap.deploy.plan import PlanError
from org_bootstrap.review.dry_run import KeptRecords
from org_bootstrap.review.sweep import describe_local, new_run_id, prepare_deployed, prepare_local, run_local
from org_bootstrap.review.sweep import start_deployed as start
from org_bootstrap.review.undo import carry_out_undo, prepare_undo
from remediator.composition import utc_now
from remediator.errors import RemediatorError
from remediator.policy import Mode


@contextmanager
def _errors_only_in_table() -> Iterator[None]:
    """The per-account table says what failed; the service's log lines would only repeat it."""
    previous = logging.root.manager.disable
    logging.disable(logging.ERROR)
    try:
        yield
    finally:
        logging.disable(previous)


def sweep(  # noqa: PLR0917
    security_account: SecurityAccount,
    local: Annotated[
        bool,
        typer.Option("--local", help="Run the sweep on this machine instead of starting the deployed one."),
    ] = False,
    mode: Annotated[
        Mode | None, typer.Option(help="With --local: instead of the deployed mode.", show_default=False)
    ] = None,
    dry_run: Annotated[
        bool,
        typer.Option(
            "--dry-run", help="With --local: mode report, and nothing written: the decisions are only shown."
        ),
    ] = False,
    concurrency: Annotated[
        int, typer.Option(min=1, max=64, help="With --local: accounts swept at once.")
    ] = 8,
    account_role: AccountRole = DEFAULT_ROLE,
    security_role: SecurityRole = DEFAULT_ROLE,
    home_region: HomeRegion = None,
    yes: Yes = False,
    profile: Profile = None,
    region: Region = None,
    endpoint_url: EndpointUrl = None,
    output: OutputFormat = Output.TABLE,
) -> None:
    """Reconcile every ACTIVE account now, to catch what the events missed.

    Without --local: invoke the deployed sweep function in the security account, asynchronously as its
    schedule does, and print the run id and where its results go (the audit table, the logs).

    With --local: run the same code on this machine, from the management account or a delegated
    administrator. The policy is the deployed one (the central stack's parameters; --mode overrides the
    mode), and the audit records and key lifecycles go to the central tables, through the security account.
    Member accounts are entered through --account-role, because the member role trusts only the deployed
    remediator's role. The account akr runs in is skipped: the deployed sweep covers it.

    Exit code: 0 when every account was swept without a failure; 1 otherwise, when aborted, and on errors.
    """
    if not local and (mode is not None or dry_run):
        raise fail("sweep", "--mode and --dry-run go with --local: the deployed sweep has its mode", output)
    aws = Aws(profile=profile, region=region or home_region, endpoint_url=endpoint_url)
    try:
        deployment = Deployment(
            security_account_id=security_account,
            home_region=home_region or aws.region_name,
            security_role=security_role,
        )
        if local:
            failed = _sweep_here(
                aws,
                deployment,
                account_role,
                mode,
                dry_run=dry_run,
                concurrency=concurrency,
                yes=yes,
                output=output,
            )
        else:
            _start_deployed(aws, deployment, yes=yes, output=output)
            failed = False
    except ValidationError as exc:
        raise fail("sweep", "; ".join(e["msg"] for e in exc.errors()), output) from exc
    except (CliError, PlanError) as exc:
        raise fail("sweep", str(exc), output) from exc
    if failed:
        raise typer.Exit(code=1)


def _start_deployed(aws: Aws, deployment: Deployment, *, yes: bool, output: Output) -> None:
    central, function = prepare_deployed(aws, deployment)
    lines = [
        f"Would start the deployed sweep: {function} in the security account "
        f"{deployment.security_account_id}, mode {central.mode}"
    ]
    if output is Output.TABLE:
        plan_lines(lines)
    if central.mode != Mode.REPORT:
        confirm("sweep", "Start the sweep?", yes=yes, output=output)
    show_started(start(aws, deployment, central, function, new_run_id(utc_now())), lines, output)


def _sweep_here(
    aws: Aws,
    deployment: Deployment,
    account_role: str,
    mode: Mode | None,
    *,
    dry_run: bool,
    concurrency: int,
    yes: bool,
    output: Output,
) -> bool:
    """True when an account failed."""
    reading = console.status("Reading the organization and the central stack")
    with reading if output is Output.TABLE else nullcontext():
        plan, central = prepare_local(
            aws,
            deployment,
            run_id=new_run_id(utc_now()),
            account_role=account_role,
            mode=mode,
            dry_run=dry_run,
        )
    lines = describe_local(plan, concurrency=concurrency)
    if output is Output.TABLE:
        plan_lines(lines)
    if plan.changes_iam:
        confirm("sweep", "Sweep?", yes=yes, output=output)
    kept = KeptRecords() if plan.dry_run else None
    began = time.monotonic()
    with _errors_only_in_table(), sweep_progress(output, len(plan.accounts)) as done:
        results = run_local(aws, central, plan, concurrency=concurrency, on_done=done, kept=kept)
    show_local(plan, results, lines, output, time.monotonic() - began, kept)
    return any(r.failed for r in results)


def undo(  # noqa: PLR0917
    security_account: SecurityAccount,
    account: Annotated[str, typer.Option("--account", callback=account_ids, help="The account of the key.")],
    access_key_id: Annotated[
        str, typer.Option("--access-key-id", callback=access_key_ids, help="The key to make active again.")
    ],
    account_role: AccountRole = DEFAULT_ROLE,
    security_role: SecurityRole = DEFAULT_ROLE,
    home_region: HomeRegion = None,
    yes: Yes = False,
    profile: Profile = None,
    region: Region = None,
    endpoint_url: EndpointUrl = None,
    output: OutputFormat = Output.TABLE,
) -> None:
    """Make active again a key that this service deactivated, within the grace period.

    A read-only check first (the key's lifecycle in the central state table), then the plan line and a
    confirmation. Only a key this service deactivated, that still exists and is inactive, and only until
    the staged deletion would have happened. The audit records name the caller's ARN as the operator. The
    account is entered through --account-role, because the member role trusts only the deployed
    remediator's role. The next sweep evaluates the key afresh: if it still breaks a rule, it needs an
    exemption to stay active.

    Exit code: 0 when reactivated; 1 when refused (with the reason), aborted, and on errors.
    """
    aws = Aws(profile=profile, region=region or home_region, endpoint_url=endpoint_url)
    try:
        deployment = Deployment(
            security_account_id=security_account,
            home_region=home_region or aws.region_name,
            security_role=security_role,
        )
        plan, central = prepare_undo(
            aws,
            deployment,
            account_id=account,
            access_key_id=access_key_id,
            account_role=account_role,
            now=utc_now(),
        )
        if output is Output.TABLE:
            plan_lines([plan.line])
        confirm("undo", "Reactivate?", yes=yes, output=output)
        user_name = carry_out_undo(aws, central, plan)
    except ValidationError as exc:
        raise fail("undo", "; ".join(e["msg"] for e in exc.errors()), output) from exc
    except (CliError, RemediatorError) as exc:
        # UndoRefusedError is a RemediatorError: its message is the reason.
        raise fail("undo", str(exc), output) from exc
    result = {
        "account_id": account,
        "access_key_id": access_key_id,
        "user_name": user_name,
        "operator": plan.operator,
    }
    show_reactivated(plan.line, result, output)
