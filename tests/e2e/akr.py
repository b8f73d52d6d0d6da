"""Running `akr` against the test organization's moto server, as an operator would on a terminal."""

from __future__ import annotations

import json
from typing import Any

from typer.testing import CliRunner, Result

from org_bootstrap.commands.app import app
from tests.moto_server import REGION, ServerOrganization


def akr(organization: ServerOrganization, *args: str, answers: str | None = None) -> Result:
    return CliRunner().invoke(
        app,
        [*args, "--region", REGION, "--endpoint-url", organization.url],
        input=answers,
        catch_exceptions=False,
    )


def as_json(result: Result) -> dict[str, Any]:
    payload: dict[str, Any] = json.loads(result.stdout)  # stdout only: moto logs to stderr
    return payload


def deploy(organization: ServerOrganization, *extra: str, stdin: str | None = None) -> Result:
    """`akr deploy` of the test organization: its security account, its Workloads OU."""
    return akr(
        organization,
        "deploy",
        "--security-account",
        organization.security,
        "--targets",
        organization.workloads_ou,
        *extra,
        answers=stdin,
    )
