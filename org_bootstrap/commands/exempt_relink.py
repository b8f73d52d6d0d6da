"""`akr exempt relink`: give the exemptions made before `akr exempt add` wrote their audit record first (or
written outside it) an exempt-add record, one confirmed exemption at a time, each record naming the
operator who vouches for it. Until none is left, akr deploy keeps the remediator's verification of
exemptions off (VerifyExemptions), so that verifying never drops an exemption that protects a key."""

from __future__ import annotations

from typing import Annotated, Any

import typer

from org_bootstrap.aws import CliError
from org_bootstrap.commands.exempt import open_exemptions, row
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
    account_ids,
)
from org_bootstrap.commands.render import console, emit_json, envelope, fail, plan_lines
from org_bootstrap.review import exemption_checks, exemptions
from remediator.composition import utc_now
from remediator.exemptions import Exemption


def relink(  # noqa: PLR0917
    security_account: SecurityAccount,
    account: Annotated[
        str | None,
        typer.Option("--account", callback=account_ids, help="Only this account. Default: every account."),
    ] = None,
    security_role: SecurityRole = DEFAULT_ROLE,
    home_region: HomeRegion = None,
    yes: Yes = False,
    profile: Profile = None,
    region: Region = None,
    endpoint_url: EndpointUrl = None,
    output: OutputFormat = Output.TABLE,
) -> None:
    """Link every exemption in force that has no exempt-add audit record to a new one.

    Each is shown and confirmed on its own (unless --yes); its record (decision exempt-add) names the
    caller's ARN, the exemption's owner, expiry and reason. An exemption that expires further from now than
    the deployed MaxExemptionDays is not linked: the remediator would not honour it; remove it and add a
    shorter one. Once none is left, akr deploy turns the verification of exemptions on.

    Exit code: 0 when every exemption shown was linked (or none needed it); 1 when one was declined or could
    not be linked, and on errors.
    """
    command = "exempt relink"
    _, store = open_exemptions(
        command,
        security_account=security_account,
        security_role=security_role,
        home_region=home_region,
        profile=profile,
        region=region,
        endpoint_url=endpoint_url,
        output=output,
    )
    if not yes and output is Output.JSON:
        raise fail(command, "--output json cannot ask for confirmation: pass --yes", output)
    now = utc_now()
    try:
        if account is not None:
            exemption_checks.check_account(store.organization, account)
        found = exemptions.unlinked(store, account_id=account, now=now)
    except CliError as exc:
        raise fail(command, str(exc), output) from exc
    linked, left = _link_each(store, found, yes=yes, output=output)
    if output is Output.JSON:
        status = "error" if left else "ok"
        emit_json(envelope(command, status, changed=bool(linked), result={"linked": linked, "left": left}))
    elif not found:
        console.print("Every exemption in force has its exempt-add audit record: nothing to link.")
    else:
        console.print(f"{len(linked)} linked, {len(left)} left.", highlight=False)
    if left:
        raise typer.Exit(code=1)


def _link_each(
    store: exemptions.Store, found: list[Exemption], *, yes: bool, output: Output
) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """Show, confirm and link each exemption; (linked, left with the reason)."""
    now = utc_now()
    linked: list[dict[str, Any]] = []
    left: list[dict[str, Any]] = []
    for exemption in found:
        line = (
            f"Would link the exemption of {exemptions.describe(exemption)} (owner {exemption.owner}, "
            f"reason {exemption.reason!r}, expires {exemption.expires_at:%Y-%m-%d %H:%M} UTC) to a new "
            f"exempt-add audit record naming {store.operator}"
        )
        if output is Output.TABLE:
            plan_lines([line])
        if not yes and not typer.confirm("Link?"):
            left.append({"exemption": row(exemption, now), "error": "declined"})
            continue
        try:
            record = exemptions.relink(store, exemption, now=utc_now())
        except CliError as exc:
            left.append({"exemption": row(exemption, now), "error": str(exc)})
            if output is Output.TABLE:
                console.print(f"[red]Not linked:[/] {exc}", highlight=False)
            continue
        linked.append({"exemption": row(exemption, now), "audit_record_id": record.record_id})
        if output is Output.TABLE:
            console.print(f"[green]Linked[/] {exemptions.describe(exemption)}.", highlight=False)
    return linked, left
