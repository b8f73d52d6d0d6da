"""The options every AWS-facing command shares, spelt as the aws cli spells them."""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated

import typer


class Output(StrEnum):
    TABLE = "table"
    JSON = "json"


Profile = Annotated[str | None, typer.Option("--profile", envvar="AWS_PROFILE", help="Named AWS profile.")]
Region = Annotated[
    str | None,
    typer.Option("--region", envvar="AWS_REGION", help="Region for the API calls (the home region)."),
]
EndpointUrl = Annotated[
    str | None,
    typer.Option("--endpoint-url", envvar="AWS_ENDPOINT_URL", help="Send every API call to this endpoint."),
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
Yes = Annotated[bool, typer.Option("--yes", "-y", help="Do not ask for confirmation.")]

SecurityAccount = Annotated[
    str, typer.Option("--security-account", help="Account id of the security (central) account.")
]
HomeRegion = Annotated[
    str | None, typer.Option("--home-region", help="The one region of the rules. Default: --region.")
]
SecurityRole = Annotated[str, typer.Option(help="Role assumed in the security account.")]
AccountRole = Annotated[
    str,
    typer.Option(
        help="Role assumed in the member accounts. Not the member role: it trusts only the deployed "
        "remediator's role."
    ),
]
DEFAULT_ROLE = "OrganizationAccountAccessRole"
