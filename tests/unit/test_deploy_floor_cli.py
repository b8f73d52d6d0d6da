"""`akr deploy` refuses a limit below 30 days without --i-know before it reads anything: the endpoint here
is one that nothing listens on, so an error other than the refusal would mean AWS was asked. The limits of
30 and 31 days pass the same check (tests/unit/test_deploy_safeguards.py; the e2e impact test deploys 30)."""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from org_bootstrap.commands.app import app
from tests.unit.test_cli_errors import NOBODY, REGION, SECURITY, UNREACHABLE

DEPLOY = ("deploy", "--security-account", SECURITY, "--endpoint-url", NOBODY, *REGION, "--output", "json")


@pytest.mark.parametrize(
    ("option", "what"), [("--max-key-age-days", "older than"), ("--max-unused-days", "unused for more than")]
)
def test_29_days_is_refused_before_any_call_naming_the_limit_and_the_flag(option: str, what: str) -> None:
    result = CliRunner().invoke(app, [*DEPLOY, option, "29"])
    assert result.exit_code == 1
    assert json.loads(result.stdout) == {
        "command": "deploy",
        "status": "error",
        "error": f"{option} 29 is below the 30-day floor: every key {what} 29 day(s) in the organization "
        "would be acted on, and keys that young are most likely in use; pass --i-know to deploy it anyway",
    }


@pytest.mark.parametrize("option", ["--max-key-age-days", "--max-unused-days"])
def test_with_i_know_29_days_goes_on_to_ask_aws(option: str) -> None:
    """The package is built first: this is the slow one of the module."""
    result = CliRunner().invoke(app, [*DEPLOY, option, "29", "--i-know"])
    assert result.exit_code == 1
    assert json.loads(result.stdout)["error"] == UNREACHABLE[len("error: ") :]


@pytest.mark.parametrize("option", ["--max-actions-per-account", "--max-actions-per-day"])
@pytest.mark.parametrize("value", ["0", "10001"])
def test_caps_out_of_bounds_are_a_usage_error(option: str, value: str) -> None:
    result = CliRunner().invoke(app, [*DEPLOY, option, value])
    assert result.exit_code == 2
    assert f"Invalid value for '{option}'" in result.output
