"""`akr deploy`: options, the plan, the confirmation, and what it prints; the work happens in
org_bootstrap.deploy. `akr status` and `akr destroy` have modules of their own in org_bootstrap.commands."""

from __future__ import annotations

from typing import Annotated

import typer
from pydantic import ValidationError
from rich.markup import escape

from org_bootstrap.aws import Aws, CliError
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
from org_bootstrap.deploy.apply import Outcome, Prepared, carry_out, prepare, refusal
from org_bootstrap.deploy.bucket_policy import BucketPolicyError, check_writer
from org_bootstrap.deploy.deployment import MAX_CAP, MIN_CAP, CisVersion, Deployment, ManagementAccount
from org_bootstrap.deploy.lambda_zip import PackagingError
from org_bootstrap.deploy.plan import PlanError
from org_bootstrap.deploy.plan_lines import NOTHING_TO_CHANGE, describe, warnings
from org_bootstrap.deploy.preflight import describe_preflight
from org_bootstrap.deploy.safeguards import THRESHOLD_FLOOR_DAYS, acknowledged, check_floor
from org_bootstrap.deploy.stacks import failed_instances, skipped_instances
from org_bootstrap.review.impact import impact_lines
from remediator.policy import Mode


def deploy(  # noqa: PLR0917
    security_account: SecurityAccount,
    targets: Annotated[
        list[str] | None,
        typer.Option(
            "--targets", help="Root (r-...) or OU (ou-...) ids; repeat for several. Default: the root."
        ),
    ] = None,
    home_region: HomeRegion = None,
    mode: Annotated[
        Mode | None, typer.Option(help="What to do with a violating key. Default: deployed, else delete.")
    ] = None,
    cis: Annotated[
        CisVersion | None,
        typer.Option("--cis", help="CIS preset: 1.2 (90/90) or 1.4+ (90/45). Default: the deployed limits."),
    ] = None,
    max_key_age_days: Annotated[
        int | None, typer.Option(min=1, max=3650, help="Rotation limit. Default: deployed, else 90.")
    ] = None,
    max_unused_days: Annotated[
        int | None, typer.Option(min=1, max=3650, help="Unused limit. Default: deployed, else 90.")
    ] = None,
    create_config_recorder: Annotated[
        bool | None,
        typer.Option(
            help="Create a Config recorder in each member (not where one exists). Default: deployed, else no."
        ),
    ] = None,
    grace_days: Annotated[
        int | None,
        typer.Option(
            min=0,
            max=365,
            help="Staged mode: days between deactivation and deletion. Default: deployed, else 14.",
        ),
    ] = None,
    warn_days_before: Annotated[
        int | None,
        typer.Option(
            min=0,
            max=90,
            help="Warn owners this many days before a key breaks a rule; 0: off. Default: deployed, else 0.",
        ),
    ] = None,
    protected_user_path: Annotated[
        str | None,
        typer.Option(
            help='IAM path of break-glass users, e.g. /break-glass/: never touched; "" for none. '
            "Default: deployed, else none."
        ),
    ] = None,
    reserved_concurrency: Annotated[
        int | None,
        typer.Option(
            min=0,
            max=1000,
            help="Reserved concurrency of the remediator (the worker's and the sweep's come with it); "
            "0: none. Checked against the security account's Lambda quota. Default: deployed, else none.",
        ),
    ] = None,
    management_account: Annotated[
        ManagementAccount | None,
        typer.Option(
            "--management-account",
            help="The management account, where SCPs do not apply: off (no member stack, never swept), "
            "report (a read-only member role: its keys reported, never changed), enforce (as every account; "
            "needs --protected-user-path). Default: deployed, else report.",
        ),
    ] = None,
    max_actions_per_account: Annotated[
        int | None,
        typer.Option(
            min=MIN_CAP,
            max=MAX_CAP,
            help="Circuit breaker: key actions per account per UTC day; past it the rest of the day is "
            "report there. Default: deployed, else 30.",
        ),
    ] = None,
    max_actions_per_day: Annotated[
        int | None,
        typer.Option(
            min=MIN_CAP,
            max=MAX_CAP,
            help="Circuit breaker: key actions in the organization per UTC day; past it the rest of the day "
            "is report everywhere. Default: deployed, else 300.",
        ),
    ] = None,
    signing_profile: Annotated[
        str | None,
        typer.Option(
            help="AWS Signer profile (platform AWSLambda-SHA384-ECDSA, in the security account) that signs "
            'the package; the central functions then accept only code it signed. "" turns signing off. '
            "Default: deployed, else none.",
        ),
    ] = None,
    skip_scan: Annotated[
        bool,
        typer.Option(
            "--skip-scan",
            help="Leave out the plan's count of the keys a new mode or limit would act on at once (it reads "
            "every account's credential report, as akr scan does: minutes in an organization of thousands).",
        ),
    ] = False,
    i_know: Annotated[
        bool,
        typer.Option(
            "--i-know",
            help=f"Deploy a --max-key-age-days or --max-unused-days below {THRESHOLD_FLOOR_DAYS} days "
            "(refused without it).",
        ),
    ] = False,
    snapstart: Annotated[
        bool | None,
        typer.Option(
            "--snapstart/--no-snapstart",
            help="Lambda SnapStart for the remediator, the sweep and the worker: published versions restored "
            "from a snapshot of their init, the rules invoking their aliases (docs/performance.md: what it "
            "costs). Default: deployed, else off.",
        ),
    ] = None,
    code_writer_arn: Annotated[
        list[str] | None,
        typer.Option(
            "--code-writer-arn",
            help="Role (or user) ARN that may write the code bucket's objects; repeat for several. The "
            "principal the deploy writes as must be one. Default: those the bucket's policy names, else that "
            "principal (the security role from the management account).",
        ),
    ] = None,
    attach_guardrails: Annotated[
        bool,
        typer.Option(
            "--attach-guardrails",
            help="Create (or update) the guardrail SCP (stacksets/guardrails-scp.json) and attach it to the "
            "targets: only the StackSet execution role may then change akr's member resources. Management "
            "account only; enables SCPs on the root when off. Left out: an attached SCP stays as it is.",
        ),
    ] = False,
    security_role: SecurityRole = DEFAULT_ROLE,
    account_role: Annotated[
        str,
        typer.Option(
            envvar="AKR_ACCOUNT_ROLE",
            help="Role the pre-flight looks into the target accounts through, read-only (a session policy).",
        ),
    ] = DEFAULT_ROLE,
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Print the plan and stop: read-only, exit code 0.")
    ] = False,
    yes: Yes = False,
    profile: Profile = None,
    region: Region = None,
    endpoint_url: EndpointUrl = None,
    output: OutputFormat = Output.TABLE,
) -> None:
    """Deploy the whole organization from the management account (or a delegated administrator).

    The policy options (--mode, --cis and the limits, --grace-days, --warn-days-before,
    --protected-user-path, --create-config-recorder, the circuit breaker's --max-actions-per-account and
    --max-actions-per-day) change only what they name: an option left out keeps the deployed value, and only
    a first deploy gets the defaults. So does --snapstart/--no-snapstart: left out, SnapStart stays as
    deployed (off on a first deploy). The plan lists every parameter an update changes, says what turning
    SnapStart on or off changes, and warns when keys will be treated harder than now. A deployment found in
    another region (another home region) is named in the plan, and deploy refuses to make a second one.

    With --signing-profile the package is uploaded, then signed by an AWS Signer job (its source the exact
    uploaded version, its destination signed/ in the code bucket), and the central stack runs the signed copy
    under a code signing configuration that enforces that profile; a failed job stops the deploy before any
    stack changes. docs/deploying.md says what the profile needs.

    A --max-key-age-days or --max-unused-days below 30 days is refused before anything is read, unless
    --i-know is given: keys that young are most likely in use.

    Before anything changes, a read-only pre-flight looks for what would fail: in each account about to get
    the member stack (through --account-role) a Config recorder that records AWS::IAM::User in the home
    region and resources that already have the stack's names; in the security account the same names, the
    Lambda quota for --reserved-concurrency, and whether the sweep may list the accounts. Its problems are
    listed in the plan and the deploy does not start; --yes does not skip them (--dry-run shows them).

    --dry-run prints the plan and changes nothing (JSON status "planned", or "ok" when there is nothing to
    change). With --output json and without --yes, the plan comes back in the envelope, status "aborted".

    Exit code: 0 when deployed, with --dry-run (whatever the plan says), and when there is nothing to change;
    1 when the pre-flight finds problems, when aborted, on bad input and on errors.
    """
    if cis and (max_key_age_days or max_unused_days):
        raise fail("deploy", "give either --cis or --max-key-age-days/--max-unused-days, not both", output)
    for arn in code_writer_arn or ():
        try:
            check_writer(arn)
        except BucketPolicyError as exc:
            raise fail("deploy", f"--code-writer-arn: {exc}", output) from exc
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
            grace_days=grace_days,
            warn_days_before=warn_days_before,
            protected_user_path=protected_user_path,
            reserved_concurrency=reserved_concurrency,
            management_account=management_account,
            max_actions_per_account=max_actions_per_account,
            max_actions_per_day=max_actions_per_day,
            signing_profile=signing_profile,
            snapstart=snapstart,
            code_writer_arns=tuple(code_writer_arn or ()),
            attach_guardrails=attach_guardrails,
            security_role=security_role,
            account_role=account_role,
        )
        check_floor(deployment, i_know=i_know)
        with progress(output) as report:
            prepared = prepare(aws, deployment, report)
            counted = impact_lines(aws, prepared, report, skip=skip_scan)
        problems = describe_preflight(prepared.preflight)
        lines = describe(prepared.plan, deployment, prepared.observed)
        if prepared.guardrails:
            if not prepared.changes_nothing:
                lines = [line for line in lines if line != NOTHING_TO_CHANGE]
            lines += prepared.guardrails.lines()
        lines += counted + problems
        lines += acknowledged(deployment)
        alarming = set(warnings(prepared.plan)) | set(problems[: len(prepared.preflight.problems)])
        alarming |= set(acknowledged(deployment))
        if prepared.elsewhere:
            lines.insert(0, elsewhere_line(deployment, prepared.elsewhere))
            alarming.add(lines[0])
        if output is Output.TABLE:
            plan_lines(
                [f"[bold red]{escape(line)}[/]" if line in alarming else escape(line) for line in lines]
            )
        if dry_run or prepared.changes_nothing:
            if output is Output.JSON:
                done = "ok" if prepared.changes_nothing else "planned"
                emit_json(envelope("deploy", done, plan=lines, changed=False))
            return
        go_ahead(prepared, lines, yes=yes, output=output)
        with progress(output) as report:
            outcome = carry_out(aws, prepared, report)
    except ValidationError as exc:
        raise fail("deploy", "; ".join(e["msg"] for e in exc.errors()), output) from exc
    except (CliError, PlanError, PackagingError) as exc:
        raise fail("deploy", str(exc), output) from exc
    show_deployed(prepared, outcome, lines, output)


def go_ahead(prepared: Prepared, lines: list[str], *, yes: bool, output: Output) -> None:
    """Refuse a second deployment, and a plan the pre-flight found problems in; then ask, unless --yes (with
    --output json the plan comes back in an "aborted" envelope: JSON output never prompts)."""
    if prepared.elsewhere:
        raise CliError(
            f"not deployed: there is a deployment in {' and '.join(prepared.elsewhere)}; pass "
            f"--home-region {prepared.elsewhere[0]} to update it, or destroy it there first"
        )
    refuse_on_problems(prepared, lines, output)
    if output is Output.JSON and not yes:
        error = "--output json cannot ask for confirmation: pass --yes, or --dry-run for the plan alone"
        emit_json(envelope("deploy", "aborted", plan=lines, changed=False, error=error))
        raise typer.Exit(code=1)
    confirm("deploy", "Deploy?", yes=yes, output=output)


def elsewhere_line(deployment: Deployment, regions: tuple[str, ...]) -> str:
    return (
        f"A deployment already exists in {' and '.join(regions)} (stack {deployment.central_stack_name} in "
        f"the security account): a second one in {deployment.home_region} would evaluate and remediate "
        f"every user twice. Pass --home-region {regions[0]} to update it, or destroy it there first"
    )


def refuse_on_problems(prepared: Prepared, lines: list[str], output: Output) -> None:
    """The pre-flight's problems stop the deploy before anything changes; --yes does not skip them."""
    if not prepared.preflight.problems:
        return
    error = refusal(prepared.preflight)
    if output is Output.JSON:
        emit_json(envelope("deploy", "error", plan=lines, changed=False, error=error))
        raise typer.Exit(code=1)
    raise fail("deploy", error, output)


def show_deployed(prepared: Prepared, outcome: Outcome, lines: list[str], output: Output) -> None:
    failed = failed_instances(outcome.instances)
    skipped = skipped_instances(outcome.instances)
    left_out = {i.account_id for i in failed} | {i.account_id for i in skipped}
    covered = sorted({i.account_id for i in outcome.instances} - left_out)
    if outcome.management_covered:
        covered.append(prepared.observed.management_account)
    result = {
        "accounts_covered": covered,
        "accounts_failed": [
            {"account_id": i.account_id, "status": i.status, "reason": i.reason} for i in failed
        ],
        # Suspended accounts: StackSets skip them; not a failure.
        "accounts_skipped": [
            {"account_id": i.account_id, "status": i.status, "reason": i.reason} for i in skipped
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
        for instance in skipped:
            console.print(f"{instance.account_id} skipped (suspended account)", highlight=False)
        console.print(f"Central bus: {result['event_bus_arn']}")
        console.print(f"Audit table: {result['audit_table']}")
    if failed:
        raise typer.Exit(code=1)
