"""The options every AWS-facing command shares, spelt as the aws cli spells them; each can also come from
the environment variable its help names."""

from __future__ import annotations

from collections.abc import Sequence
from enum import StrEnum
from typing import Annotated, Any, TypeVar

import typer

from org_bootstrap.aws import CliError, check_endpoint_url
from org_bootstrap.review.ids import check_access_key_id, check_account_id

_Value = TypeVar("_Value", str, None, Sequence[str])


def _each(value: str | Sequence[str] | None) -> list[str]:
    return [value] if isinstance(value, str) else list(value or ())


def account_ids(value: _Value) -> _Value:
    """typer callback: every account id of the option is 12 digits, before any work starts."""
    for one in _each(value):
        try:
            check_account_id(one, "")
        except CliError:
            raise typer.BadParameter(f"{one!r} is not an account id (12 digits)") from None
    return value


def access_key_ids(value: _Value) -> _Value:
    """typer callback: the option's value is an IAM user's access key id."""
    for one in _each(value):
        try:
            check_access_key_id(one)
        except CliError:
            raise typer.BadParameter(
                f"{one!r} is not an access key id (AKIA and 12 or more upper-case letters or digits)"
            ) from None
    return value


def endpoint_url(value: str | None) -> str | None:
    if value is not None:
        try:
            check_endpoint_url(value)
        except CliError:
            raise typer.BadParameter(f"{value!r} is not a URL: give http(s)://host[:port]") from None
    return value


class Output(StrEnum):
    TABLE = "table"
    JSON = "json"


Profile = Annotated[
    str | None, typer.Option("--profile", envvar="AWS_PROFILE", metavar="NAME", help="Named AWS profile.")
]
Region = Annotated[
    str | None,
    typer.Option(
        "--region", envvar="AWS_REGION", metavar="REGION", help="Region for the API calls (the home region)."
    ),
]
EndpointUrl = Annotated[
    str | None,
    typer.Option(
        "--endpoint-url",
        envvar="AWS_ENDPOINT_URL",
        metavar="URL",
        callback=endpoint_url,
        help="Send every API call to this endpoint (http or https).",
    ),
]


class RecordsOutput(StrEnum):
    TABLE = "table"
    JSON = "json"
    CSV = "csv"


RecordsOutputFormat = Annotated[
    RecordsOutput,
    typer.Option("--output", help="table, json (a stable envelope) or csv (with a header)."),
]
OutputFormat = Annotated[Output, typer.Option("--output", help="table, or json for a stable envelope.")]


class ScanOutput(StrEnum):
    TABLE = "table"
    JSON = "json"
    CSV = "csv"
    OCSF = "ocsf"
    SARIF = "sarif"


ScanOutputFormat = Annotated[
    ScanOutput,
    typer.Option(
        "--output",
        help="table, json (a stable envelope), csv (with a header), ocsf (a JSON array of OCSF 1.5.0 "
        "Detection Findings, one per key) or sarif (SARIF 2.1.0).",
    ),
]
Yes = Annotated[bool, typer.Option("--yes", "-y", help="Do not ask for confirmation.")]


def _security_account(**extra: Any) -> Any:
    return typer.Option(
        "--security-account",
        envvar="AKR_SECURITY_ACCOUNT",
        metavar="ID",
        callback=account_ids,
        help="Account id of the security (central) account.",
        **extra,
    )


SecurityAccount = Annotated[str, _security_account()]
GroupSecurityAccount = Annotated[str | None, _security_account(show_default=False)]
"""For a command that is also a group (`akr audit`): required by the command itself, not before its
subcommands (which take their own)."""
HomeRegion = Annotated[
    str | None,
    typer.Option(
        "--home-region",
        envvar="AKR_HOME_REGION",
        metavar="REGION",
        help="The one region of the rules. Default: --region.",
    ),
]
SecurityRole = Annotated[
    str,
    typer.Option(envvar="AKR_SECURITY_ROLE", metavar="ROLE", help="Role assumed in the security account."),
]
AccountRole = Annotated[
    str,
    typer.Option(
        envvar="AKR_ACCOUNT_ROLE",
        metavar="ROLE",
        help="Role assumed in the member accounts. Not the member role: it trusts only the deployed "
        "remediator's role.",
    ),
]
DEFAULT_ROLE = "OrganizationAccountAccessRole"
