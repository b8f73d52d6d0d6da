"""`akr status`: is every ACTIVE account covered, and is the central stack healthy. Read-only; the checks
are org_bootstrap.deploy.status."""

from __future__ import annotations

from typing import Annotated

import typer
from pydantic import ValidationError

from org_bootstrap.aws import Aws, CliError
from org_bootstrap.commands.deploy_views import account_progress, show_status
from org_bootstrap.commands.options import (
    DEFAULT_ROLE,
    EndpointUrl,
    HomeRegion,
    Output,
    Profile,
    RecordsOutput,
    RecordsOutputFormat,
    Region,
    SecurityAccount,
)
from org_bootstrap.commands.render import fail, progress
from org_bootstrap.deploy.deployment import Deployment
from org_bootstrap.deploy.plan import PlanError
from org_bootstrap.deploy.status import check
from org_bootstrap.deploy.status import prepare as prepare_status


def status(  # noqa: PLR0917
    security_account: SecurityAccount,
    home_region: HomeRegion = None,
    account_role: Annotated[
        str,
        typer.Option(
            envvar="AKR_ACCOUNT_ROLE",
            help="Role assumed in each account (the security account too) to look into it.",
        ),
    ] = DEFAULT_ROLE,
    profile: Profile = None,
    region: Region = None,
    endpoint_url: EndpointUrl = None,
    output: RecordsOutputFormat = RecordsOutput.TABLE,
) -> None:
    """Check that every ACTIVE account is covered. Read-only.

    For each account: its member stack (the StackSet instance; the plain stack in the management account),
    a Config recorder that records AWS::IAM::User in the home region, the two Config rules, the rule that
    forwards to the central bus, the member role, and the rule that forwards keys made active, in us-east-1
    (there the StackSet's instance that holds it must be CURRENT too when the home region is another one;
    the management account's stack, in the home region only, lacks it then: a known gap, said, not a
    problem). The member role is checked statically, because its
    trust pins aws:PrincipalArn to the central remediator's role and so nobody else can assume it: the role
    exists, its trust allows that remediator role within this organization (aws:PrincipalOrgID), and the
    remediator role exists in the security account.

    Exit code: 0 when every account is covered and the central stack is healthy; 1 otherwise, and on errors.
    """
    errors_as = Output.JSON if output is RecordsOutput.JSON else Output.TABLE
    aws = Aws(profile=profile, region=region or home_region, endpoint_url=endpoint_url)
    try:
        deployment = Deployment(
            security_account_id=security_account,
            home_region=home_region or aws.region_name,
            security_role=account_role,
        )
        with progress(errors_as) as report:
            report("reading the organization")
            footprint = prepare_status(aws, deployment)
        with account_progress(output, len(footprint.active_accounts)) as tick:
            result = check(aws, deployment, footprint, account_role=account_role, tick=tick)
    except ValidationError as exc:
        raise fail("status", "; ".join(e["msg"] for e in exc.errors()), errors_as) from exc
    except (CliError, PlanError) as exc:
        raise fail("status", str(exc), errors_as) from exc
    show_status(result, output)
    if not result.healthy:
        raise typer.Exit(code=1)
