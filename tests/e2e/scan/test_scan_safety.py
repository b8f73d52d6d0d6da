"""`akr scan` end to end, what keeps it safe: it only reads and leaves IAM and the central tables as they
were, every role is assumed with a session policy of exactly the reads it makes, a failing account is
listed while the others complete, and bad input is refused with a clear message."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest
from typer.testing import Result

from org_bootstrap.deploy.deployment import Deployment
from org_bootstrap.review.scan_plan import member_session_policy, security_session_policy
from tests.e2e.akr import as_json
from tests.e2e.scan.scene import (
    ALSO_READ,
    DENIED,
    READ_ONLY,
    ROLE,
    Calls,
    Scene,
    deployed_rows,
    rows_of,
    watched,
)
from tests.moto_server import REGION, ServerOrganization

pytestmark = pytest.mark.slow


def test_a_scan_only_reads(scanned: tuple[Result, Calls, dict[str, Any], dict[str, Any]]) -> None:
    result, calls, before, after = scanned
    assert result.exit_code == 0, result.output
    operations = {call.split(":")[1] for call in calls}
    writes = {op for op in operations if not (op.startswith(READ_ONLY) or op in ALSO_READ)}
    assert writes == set()
    # The hook saw the scan's own calls, not nothing.
    assert {"AssumeRole", "GenerateCredentialReport", "GetCredentialReport", "GetUser", "Query"} <= operations
    assert after == before


def test_every_role_is_assumed_with_a_session_policy_of_exactly_the_reads_the_scan_makes(
    scene: Scene, scanned: tuple[Result, Calls, dict[str, Any], dict[str, Any]]
) -> None:
    """AWS then refuses anything else, whatever the roles grant. The policies and the calls are compared
    both ways, so that neither can change without the other: a scan through the credential report, and
    one through the user listing for the calls only that path makes."""
    organization = scene.organization
    first = organization.members[0]
    result, calls, _, _ = scanned
    assert result.exit_code == 0, result.output
    with watched(no_report=True) as listed:
        fallback = scene.scan("--account", first, "--output", "json")
    assert fallback.exit_code == 0, fallback.output
    assert as_json(fallback)["result"]["accounts"][0]["nominated_by"] == "user listing"
    deployment = Deployment(security_account_id=organization.security, home_region=REGION)
    assumed = [*calls.assumed, *listed.assumed]
    central = [a for a in assumed if a["RoleSessionName"] == "akr-cli"]
    members = [a for a in assumed if a["RoleSessionName"].startswith("akr-scan-")]
    assert len(central) + len(members) == len(assumed)
    assert {a["RoleArn"] for a in central} == {f"arn:aws:iam::{organization.security}:role/{ROLE}"}
    assert {a["Policy"] for a in central} == {security_session_policy(deployment)}
    # Every account but the caller's own (the management account: its own credentials, no role).
    entered = {*organization.members, organization.security}
    assert {a["RoleArn"] for a in members} == {f"arn:aws:iam::{a}:role/{ROLE}" for a in entered}
    assert {a["Policy"] for a in members} == {member_session_policy()}

    def actions(policy: str) -> set[str]:
        return {action for statement in json.loads(policy)["Statement"] for action in statement["Action"]}

    made = {*calls, *listed}
    assert {call for call in made if call.startswith("iam:")} == actions(member_session_policy())
    assert {call for call in made if call.startswith(("cloudformation:", "dynamodb:"))} == actions(
        security_session_policy(deployment)
    )


def test_an_account_that_cannot_be_entered_is_listed_and_the_others_complete(scene: Scene) -> None:
    second = scene.organization.members[1]
    with watched(deny=second):
        result = scene.scan("--output", "json")
    assert result.exit_code == 1
    payload = as_json(result)
    assert (payload["status"], payload["error"]) == (
        "error",
        "1 of 4 account(s) could not be read completely",
    )
    body = payload["result"]
    assert body["accounts_failed"] == [
        {
            "account_id": second,
            "reasons": [f"sts:AssumeRole arn:aws:iam::{second}:role/{ROLE}: AccessDenied: {DENIED}"],
        }
    ]
    assert body["errors"] == 1
    assert rows_of(result) == [row for row in deployed_rows(scene) if row[0] != second]


def test_a_failing_account_in_the_table_output(scene: Scene) -> None:
    second = scene.organization.members[1]
    with watched(deny=second):
        result = scene.scan()
    assert result.exit_code == 1
    assert f"{second} could not be read: sts:AssumeRole" in result.stderr
    assert "4 account(s) scanned, 1 failed, 1 error(s)" in result.stdout


BAD_INPUT: dict[str, tuple[tuple[str, ...], Callable[[ServerOrganization], str], bool]] = {
    # A malformed account id is refused while the command line is read (tests/unit/test_cli_errors.py).
    "unknown account": (
        ("--account", "999999999999"),
        lambda org: f"--account: 999999999999 not in organization {org.organization_id}",
        True,
    ),
    "malformed horizon": (
        ("--within", "soon"),
        lambda _: "--within 'soon' is not a duration (like 30d, 2w, 12h)",
        False,
    ),
    "cis and a limit": (
        ("--cis", "1.4", "--max-key-age-days", "60"),
        lambda _: "give either --cis or --max-key-age-days/--max-unused-days, not both",
        False,
    ),
}


@pytest.mark.parametrize("case", BAD_INPUT)
def test_bad_input_is_refused_with_a_clear_message(scene: Scene, case: str) -> None:
    args, message, reads_the_organization = BAD_INPUT[case]
    with watched() as calls:
        result = scene.scan(*args, "--output", "json")
    assert result.exit_code == 1
    assert as_json(result) == {"command": "scan", "status": "error", "error": message(scene.organization)}
    # Nothing done: no call at all, or only the organization read that tells an account is not in it.
    assert bool(calls) is reads_the_organization
    assert {call.split(":")[0] for call in calls} <= {"sts", "organizations"}
    table = scene.scan(*args)
    assert table.exit_code == 1
    assert table.stderr.strip() == f"error: {message(scene.organization)}"
