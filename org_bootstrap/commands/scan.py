"""The `akr scan` command: options, a progress bar, then the views (org_bootstrap.commands.scan_views).
The work is in org_bootstrap.review.scan_plan and org_bootstrap.review.scan; org_bootstrap.commands.app
registers the command."""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from contextlib import contextmanager, nullcontext
from typing import Annotated

import typer
from pydantic import ValidationError
from rich.progress import BarColumn, MofNCompleteColumn, Progress, SpinnerColumn, TextColumn

from org_bootstrap.aws import Aws, CliError
from org_bootstrap.commands.options import (
    DEFAULT_ROLE,
    EndpointUrl,
    HomeRegion,
    Output,
    Profile,
    Region,
    ScanOutput,
    ScanOutputFormat,
    SecurityAccount,
    SecurityRole,
    account_ids,
)
from org_bootstrap.commands.render import console, errors, fail
from org_bootstrap.commands.scan_views import FINDINGS_EXIT, show_scan
from org_bootstrap.deploy.deployment import CisVersion, Deployment
from org_bootstrap.deploy.plan import PlanError
from org_bootstrap.review.audit_query import QueryError
from org_bootstrap.review.rate_limit import RateLimiter
from org_bootstrap.review.scan import AccountScan
from org_bootstrap.review.scan_plan import Overrides, prepare_scan, run_scan
from remediator.policy import Mode


def scan(  # noqa: PLR0917
    security_account: SecurityAccount,
    accounts: Annotated[
        list[str] | None,
        typer.Option(
            "--account",
            metavar="ID",
            callback=account_ids,
            help="Only this account; repeat for several. Default: every ACTIVE account, the management "
            "account included.",
            show_default=False,
        ),
    ] = None,
    accounts_alias: Annotated[
        list[str] | None,
        typer.Option("--accounts", metavar="ID", callback=account_ids, hidden=True, help="--account."),
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
    include_compliant: Annotated[
        bool,
        typer.Option(
            "--include-compliant",
            help="Also list the keys that pass (action none), as evidence; every user is read then.",
        ),
    ] = False,
    fail_on_findings: Annotated[
        bool,
        typer.Option(
            "--fail-on-findings",
            help="Exit with 3 when a key breaks a rule now and is not exempt (a gate for scripts and CI).",
        ),
    ] = False,
    output: ScanOutputFormat = ScanOutput.TABLE,
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

    Every row names the controls it answers for (CIS AWS Foundations Benchmark v1.2.0 1.3/1.4, v1.4.0 and
    v3.0.0 1.12/1.14, v5.0.0 1.11/1.13, AWS Security Hub IAM.3/IAM.8/IAM.22, as far as the policy's limits
    enforce them). --output ocsf gives OCSF 1.5.0 Detection Findings, --output sarif a SARIF 2.1.0 log.

    Exit code: 0 when every account was read; 1 when one could not be, whatever the failure (each listed
    with its reason, the others complete), and on bad input; 3 with --fail-on-findings when every account
    was read and a key breaks a rule now (1 wins over 3: a scan that could not read an account proves
    nothing).
    """
    errors_as = Output.JSON if output is ScanOutput.JSON else Output.TABLE
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
        with reading if output is ScanOutput.TABLE else nullcontext():
            plan = prepare_scan(
                aws,
                deployment,
                overrides,
                accounts=[*(accounts or ()), *(accounts_alias or ())],
                account_role=account_role,
                within=within,
                limiter=limiter,
            )
        with _quiet(), scan_progress(output, len(plan.accounts)) as done:
            result = run_scan(
                aws,
                deployment,
                plan,
                limiter=limiter,
                concurrency=concurrency,
                on_done=done,
                include_compliant=include_compliant,
            )
    except ValidationError as exc:
        raise fail("scan", "; ".join(e["msg"] for e in exc.errors()), errors_as) from exc
    except (CliError, PlanError, QueryError) as exc:
        raise fail("scan", str(exc), errors_as) from exc
    show_scan(plan, result, output, region=deployment.home_region)
    if result.failed:
        raise typer.Exit(code=1)
    if fail_on_findings and any(row.breaks_a_rule_now for row in result.rows):
        raise typer.Exit(code=FINDINGS_EXIT)


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
def scan_progress(output: ScanOutput, total: int) -> Iterator[Callable[[AccountScan], None]]:
    """A progress bar over the accounts, on stderr, with the table output only."""
    if output is not ScanOutput.TABLE or total == 0:
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
