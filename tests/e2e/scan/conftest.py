"""One scanned organization for both scan modules, which only read it (test_scan_safety.py proves the scan
changes nothing): session-scoped, so that each xdist worker builds it once, not once per module.
tests/e2e/scan/scene.py."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from typer.testing import Result

from remediator.adapters.lifecycle_table import DynamoDBLifecycle
from remediator.lifecycle import KeyLifecycle, Stage
from tests.e2e.akr import akr, as_json, deploy
from tests.e2e.scan.scene import Calls, Scene, watched
from tests.moto_server import ServerOrganization, build_organization, moto_server


@pytest.fixture(scope="session")
def scanned_organization() -> Iterator[ServerOrganization]:
    """The e2e organization fixture's twin at session scope, on its own server."""
    with pytest.MonkeyPatch.context() as patch:
        patch.delenv("AWS_SESSION_TOKEN", raising=False)  # moto's server reads the account from the key
        with moto_server() as url:
            yield build_organization(url)


@pytest.fixture(scope="session")
def scene(scanned_organization: ServerOrganization) -> Scene:
    organization = scanned_organization
    deployed = deploy(organization, "--mode", "staged", "--cis", "1.4", "--yes", "--output", "json")
    assert deployed.exit_code == 0, deployed.output
    outputs = organization.client("cloudformation", organization.security).describe_stacks(
        StackName="access-key-remediation"
    )["Stacks"][0]["Outputs"]
    state_table = next(o["OutputValue"] for o in outputs if o["OutputKey"] == "StateTableName")
    audit_table = as_json(deployed)["result"]["audit_table"]
    scene = Scene(organization, state_table, audit_table, datetime.now(UTC))
    first, second = organization.members
    scene.add(first, "stale", 120, name="stale")
    scene.add(first, "stale", 5, 1, name="stale-new")
    scene.add(first, "idle", 55, 50)
    scene.add(first, "soon", 80, 1)
    scene.add(first, "quiet", 20)
    scene.add(first, "fresh", 10, 1)
    inactive = scene.add(first, "inactive", 200)
    scene.add(second, "exempt", 120)
    staged = scene.add(second, "staged", 100)
    scene.add(second, "later", 50, 1)
    scene.add(organization.management, "mgmt-admin", 150, 3)
    for key in (inactive, staged):
        organization.client("iam", key.account).update_access_key(
            UserName=key.user, AccessKeyId=key.key_id, Status="Inactive"
        )
    # The staged deactivation as the sweep records it, ten days ago.
    deactivated_at = scene.now - timedelta(days=10)
    DynamoDBLifecycle(
        client=organization.client("dynamodb", organization.security), table_name=state_table
    ).save(
        KeyLifecycle(
            account_id=second,
            access_key_id=staged.key_id,
            user_name="staged",
            stage=Stage.DEACTIVATED,
            deactivated_at=deactivated_at,
            staged=True,
            updated_at=deactivated_at,
        )
    )
    exempted = akr(
        organization,
        "exempt",
        "add",
        "--security-account",
        organization.security,
        "--account",
        second,
        "--user",
        "exempt",
        "--reason",
        "vaulted break-glass key",
        "--owner",
        "secops",
        "--expires",
        "60d",
        "--yes",
    )
    assert exempted.exit_code == 0, exempted.output
    # moto answers the first GenerateCredentialReport of an account with STARTED, and the adapter then
    # waits five seconds before asking again: generate each account's report here, once.
    for account in (*organization.members, organization.security, organization.management):
        organization.client("iam", account).generate_credential_report()
    return scene


@pytest.fixture(scope="module")
def scanned(scene: Scene) -> tuple[Result, Calls, dict[str, Any], dict[str, Any]]:
    """One JSON scan of the whole organization, its calls, and the state before and after it."""
    before = {"iam": scene.iam_state(), "tables": scene.table_items()}
    with watched() as calls:
        result = scene.scan("--output", "json", paced=True)
    after = {"iam": scene.iam_state(), "tables": scene.table_items()}
    return result, calls, before, after
