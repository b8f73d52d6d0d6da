"""`akr pause` / `akr resume`: the plan line, the confirmation, then org_bootstrap.review.pause."""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated

import typer
from pydantic import ValidationError

from org_bootstrap.aws import CliError
from org_bootstrap.commands.audit import connect
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
from org_bootstrap.commands.render import confirm, console, emit_json, envelope, fail, plan_lines
from org_bootstrap.review import pause as pausing
from remediator.audit import AuditRecord
from remediator.composition import utc_now

Reason = Annotated[str, typer.Option("--reason", help="Why: recorded in the audit log and the pause.")]


def _run(
    command: str,
    line: str,
    change: Callable[[pausing.Control], AuditRecord],
    *,
    security_account: str,
    security_role: str,
    home_region: str | None,
    profile: str | None,
    region: str | None,
    endpoint_url: str | None,
    yes: bool,
    output: Output,
) -> None:
    try:
        aws, deployment = connect(
            security_account=security_account,
            security_role=security_role,
            home_region=home_region,
            profile=profile,
            region=region,
            endpoint_url=endpoint_url,
        )
        control = pausing.open_control(aws, deployment)
        if output is Output.TABLE:
            plan_lines([line])
        confirm(command, "Go on?", yes=yes, output=output)
        record = change(control)
    except ValidationError as exc:
        raise fail(command, "; ".join(e["msg"] for e in exc.errors()), output) from exc
    except CliError as exc:
        raise fail(command, str(exc), output) from exc
    if output is Output.JSON:
        result = {"operator": record.operator, "audit_record_id": record.record_id, "outcome": record.outcome}
        emit_json(envelope(command, "ok", plan=[line], changed=record.outcome == "done", result=result))
        return
    console.print(f"[green]{record.reason}[/]; the audit record names {record.operator}.", highlight=False)


def pause(  # noqa: PLR0917
    security_account: SecurityAccount,
    reason: Reason,
    security_role: SecurityRole = DEFAULT_ROLE,
    home_region: HomeRegion = None,
    yes: Yes = False,
    profile: Profile = None,
    region: Region = None,
    endpoint_url: EndpointUrl = None,
    output: OutputFormat = Output.TABLE,
) -> None:
    """Emergency stop: every run's next key action is recorded as report instead, at once, without a deploy.

    Writes a pause item to the central state table; the remediator and the sweep worker check it in the
    same transaction that would begin a key action, so nothing is deactivated or deleted until akr resume.
    Decisions, warnings and audit records go on; akr undo still works. Audited: an intent record, the
    pause, an outcome record, naming the caller's ARN.

    Exit code: 0 when paused and audited; 1 when paused already, when aborted, and on errors.
    """
    _run(
        "pause",
        f"Would pause every key action of the remediator and the sweep ({reason})",
        lambda control: pausing.pause(control, reason, now=utc_now()),
        security_account=security_account,
        security_role=security_role,
        home_region=home_region,
        profile=profile,
        region=region,
        endpoint_url=endpoint_url,
        yes=yes,
        output=output,
    )


def resume(  # noqa: PLR0917
    security_account: SecurityAccount,
    reason: Annotated[str, typer.Option("--reason", help="Why: recorded in the audit log.")] = "",
    security_role: SecurityRole = DEFAULT_ROLE,
    home_region: HomeRegion = None,
    yes: Yes = False,
    profile: Profile = None,
    region: Region = None,
    endpoint_url: EndpointUrl = None,
    output: OutputFormat = Output.TABLE,
) -> None:
    """Lift akr pause: key actions resume in the deployed mode with the next run. Audited like akr pause.

    Exit code: 0 when resumed and audited; 1 when not paused, when aborted, and on errors.
    """
    _run(
        "resume",
        "Would resume key actions in the deployed mode",
        lambda control: pausing.resume(control, reason, now=utc_now()),
        security_account=security_account,
        security_role=security_role,
        home_region=home_region,
        profile=profile,
        region=region,
        endpoint_url=endpoint_url,
        yes=yes,
        output=output,
    )
