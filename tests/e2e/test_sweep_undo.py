"""`akr sweep --local` and `akr undo` end to end against a moto server, after a real `akr deploy --mode
staged`: users with backdated keys in two members, the sweep over the organization, the IAM state and
the central audit records after it, then an undo of a key the sweep deactivated, and the refusals.

One organization per module (per xdist worker). The steps run in fixtures, in order, each followed by a
snapshot of the keys; the tests assert on the snapshots. freezegun backdates the keys: the moto server
runs in this process, so it sees the frozen clock.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from freezegun import freeze_time
from typer.testing import Result

from org_bootstrap.aws import Aws
from org_bootstrap.commands.options import DEFAULT_ROLE
from org_bootstrap.deploy.deployment import Deployment
from org_bootstrap.review.sweep import prepare_deployed, sweep_log_groups
from remediator.adapters.audit_table import DynamoDBAuditLog
from remediator.adapters.sessions import role_session_name
from remediator.audit import AuditRecord
from remediator.reactivation_handler import check
from tests.e2e.akr import akr, as_json
from tests.fixtures import load_event
from tests.moto_server import REGION, ServerOrganization

pytestmark = pytest.mark.slow

UNKNOWN_KEY = "AKIAUNKNOWN000000000"


@dataclass(frozen=True)
class Deployed:
    organization: ServerOrganization
    audit_table: str

    @property
    def security_args(self) -> tuple[str, str]:
        return ("--security-account", self.organization.security)

    def add_user(self, account: str, name: str, *ages: int) -> tuple[str, ...]:
        """A user with one never-used key per age (in days), created that long ago."""
        iam = self.organization.client("iam", account)
        iam.create_user(UserName=name)
        now = datetime.now(UTC)
        keys = []
        for age in ages:
            with freeze_time(now - timedelta(days=age)):
                keys.append(iam.create_access_key(UserName=name)["AccessKey"]["AccessKeyId"])
        return tuple(keys)

    def keys(self, account: str, name: str) -> dict[str, str]:
        listed = self.organization.client("iam", account).list_access_keys(UserName=name)
        return {k["AccessKeyId"]: k["Status"] for k in listed["AccessKeyMetadata"]}

    def audit(self, account: str) -> list[AuditRecord]:
        client = self.organization.client("dynamodb", self.organization.security)
        return DynamoDBAuditLog(client=client, table_name=self.audit_table).for_account(
            account, newest_first=False
        )


@pytest.fixture(scope="module")
def deployed(organization: ServerOrganization) -> Deployed:
    result = akr(
        organization,
        "deploy",
        "--security-account",
        organization.security,
        "--targets",
        organization.workloads_ou,
        "--mode",
        "staged",
        "--yes",
        "--output",
        "json",
    )
    assert result.exit_code == 0, result.output
    return Deployed(organization, audit_table=as_json(result)["result"]["audit_table"])


@dataclass(frozen=True)
class Swept:
    result: Result
    keys: dict[str, tuple[str, ...]]
    """User name -> its keys, oldest first."""
    status: dict[str, dict[str, str]]
    """User name -> AccessKeyId -> Status, right after the sweep."""


@pytest.fixture(scope="module")
def swept(deployed: Deployed) -> Swept:
    first, second = deployed.organization.members
    users = {
        "stale": (first, deployed.add_user(first, "stale", 120, 5)),
        "fine": (first, deployed.add_user(first, "fine", 10)),
        "idle": (second, deployed.add_user(second, "idle", 100)),
    }
    result = akr(
        deployed.organization, "sweep", *deployed.security_args, "--local", "--yes", "--output", "json"
    )
    status = {name: deployed.keys(account, name) for name, (account, _) in users.items()}
    return Swept(result, {name: keys for name, (_, keys) in users.items()}, status)


def test_the_local_sweep_deactivates_the_violating_keys_only(swept: Swept) -> None:
    assert swept.result.exit_code == 0, swept.result.output
    (stale_old, stale_new), (fine,), (idle,) = swept.keys["stale"], swept.keys["fine"], swept.keys["idle"]
    assert swept.status == {
        "stale": {stale_old: "Inactive", stale_new: "Active"},
        "fine": {fine: "Active"},
        "idle": {idle: "Inactive"},
    }


def test_the_summary_json_counts_per_account(deployed: Deployed, swept: Swept) -> None:
    organization = deployed.organization
    payload = as_json(swept.result)
    assert (payload["command"], payload["status"], payload["changed"]) == ("sweep", "ok", True)
    result = payload["result"]
    assert (result["local"], result["mode"], result["dry_run"]) == (True, "staged", False)
    assert result["run_id"].startswith("cli-")
    assert result["audit_table"] == deployed.audit_table
    quiet = {"compliant": 0, "deactivated": 0, "deleted": 0, "exempted": 0, "failed": 0}
    quiet |= {"findings": 0, "reported": 0, "warned": 0}
    accounts = {a["account_id"]: a for a in result["accounts"]}
    assert accounts == {
        organization.security: {
            "account_id": organization.security,
            "failed": False,
            "summary": quiet,
            "errors": [],
        },
        organization.members[0]: {
            "account_id": organization.members[0],
            "failed": False,
            "summary": quiet | {"deactivated": 1, "compliant": 1},
            "errors": [],
        },
        organization.members[1]: {
            "account_id": organization.members[1],
            "failed": False,
            "summary": quiet | {"deactivated": 1},
            "errors": [],
        },
    }
    assert [s["account_id"] for s in result["skipped"]] == [organization.management]
    assert result["totals"] == quiet | {"deactivated": 2, "compliant": 1, "accounts": 3, "accounts_failed": 0}


def test_the_audit_table_has_the_sweep_records(deployed: Deployed, swept: Swept) -> None:
    label = f"sweep-{as_json(swept.result)['result']['run_id']}"
    first, second = deployed.organization.members
    records = deployed.audit(first)
    acted = [
        (r.user_name, r.access_key_id, r.decision, r.phase, r.outcome)
        for r in records
        if r.phase != "decision"
    ]
    stale_old = swept.keys["stale"][0]
    assert acted == [
        ("stale", stale_old, "deactivate", "intent", "pending"),
        ("stale", stale_old, "deactivate", "outcome", "done"),
    ]
    assert {(r.trigger, r.event_id, r.mode) for r in records} == {("sweep", label, "staged")}
    assert all(r.role_session_name == f"akr-{label}" for r in records)
    (idle,) = swept.keys["idle"]
    assert [
        (r.access_key_id, r.decision, r.outcome) for r in deployed.audit(second) if r.phase == "outcome"
    ] == [(idle, "deactivate", "done")]


# -- undo ------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Undone:
    result: Result
    status: dict[str, str]
    operator: str


@pytest.fixture(scope="module")
def undone(deployed: Deployed, swept: Swept) -> Undone:
    first = deployed.organization.members[0]
    key = swept.keys["stale"][0]
    result = akr(
        deployed.organization,
        "undo",
        *deployed.security_args,
        "--account",
        first,
        "--access-key-id",
        key,
        "--yes",
        "--output",
        "json",
    )
    operator = deployed.organization.client("sts").get_caller_identity()["Arn"]
    return Undone(result, deployed.keys(first, "stale"), operator)


def test_undo_reactivates_the_key_and_names_the_operator(
    deployed: Deployed, swept: Swept, undone: Undone
) -> None:
    first = deployed.organization.members[0]
    stale_old, stale_new = swept.keys["stale"]
    assert undone.result.exit_code == 0, undone.result.output
    payload = as_json(undone.result)
    assert payload == {
        "command": "undo",
        "status": "ok",
        "changed": True,
        "plan": [
            f"Would reactivate {stale_old} of stale in {first}, deactivated on {datetime.now(UTC):%Y-%m-%d}"
        ],
        "result": {
            "account_id": first,
            "access_key_id": stale_old,
            "user_name": "stale",
            "operator": undone.operator,
        },
    }
    assert undone.status == {stale_old: "Active", stale_new: "Active"}
    outcome = [r for r in deployed.audit(first) if r.decision == "reactivate" and r.phase == "outcome"]
    assert [(r.access_key_id, r.outcome, r.trigger, r.operator) for r in outcome] == [
        (stale_old, "done", "cli", undone.operator)
    ]


def cloudtrail_record_of(account: str, key: str, user: str, role: str, session: str) -> dict[str, Any]:
    """The event CloudTrail hands EventBridge for an UpdateAccessKey to Active in `account` by `role`'s
    session `session`, now: moto records no CloudTrail, so it is the sample of tests/events/ retold."""
    event = load_event("cloudtrail_update_access_key_active")
    now = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    event.update(account=account, time=now)
    detail = event["detail"]
    detail.update(eventTime=now, recipientAccountId=account)
    detail["requestParameters"].update(accessKeyId=key, userName=user)
    identity = detail["userIdentity"]
    identity.update(arn=f"arn:aws:sts::{account}:assumed-role/{role}/{session}", accountId=account)
    identity["sessionContext"]["sessionIssuer"].update(
        arn=f"arn:aws:iam::{account}:role/{role}", userName=role, accountId=account
    )
    return event


def test_the_reactivation_watcher_finds_the_undo_it_is_shown(
    deployed: Deployed, swept: Swept, undone: Undone
) -> None:
    # The call akr undo just made, as CloudTrail records it: through --account-role, under the session name
    # akr gives an undo (remediator/adapters/sessions.py), forwarded to the central bus. The watcher reads
    # the deployed audit table and finds the undo's records; the member role's call of the same moment is
    # not explained by them.
    first = deployed.organization.members[0]
    key = swept.keys["stale"][0]
    assert undone.result.exit_code == 0, undone.result.output
    audit = DynamoDBAuditLog(
        client=deployed.organization.client("dynamodb", deployed.organization.security),
        table_name=deployed.audit_table,
    )
    undo = cloudtrail_record_of(first, key, "stale", DEFAULT_ROLE, role_session_name(f"undo-{key}"))
    verdict = check(undo, audit)
    assert verdict["status"] == "explained"
    records = {r.record_id: r for r in deployed.audit(first)}
    assert (records[verdict["record_id"]].decision, records[verdict["record_id"]].operator) == (
        "reactivate",
        undone.operator,
    )
    member_role = cloudtrail_record_of(first, key, "stale", "AccessKeyRemediationRole", "akr-intruder")
    assert check(member_role, audit)["status"] == "unexplained"


def test_undo_of_an_unknown_key_is_refused(deployed: Deployed, undone: Undone) -> None:
    first = deployed.organization.members[0]
    result = akr(
        deployed.organization,
        "undo",
        *deployed.security_args,
        "--account",
        first,
        "--access-key-id",
        UNKNOWN_KEY,
        "--yes",
        "--output",
        "json",
    )
    assert result.exit_code == 1
    assert as_json(result) == {
        "command": "undo",
        "status": "error",
        "error": f"{UNKNOWN_KEY} in {first} was not deactivated by this service",
    }


def test_undo_twice_is_refused(deployed: Deployed, swept: Swept, undone: Undone) -> None:
    first = deployed.organization.members[0]
    result = akr(
        deployed.organization,
        "undo",
        *deployed.security_args,
        "--account",
        first,
        "--access-key-id",
        swept.keys["stale"][0],
        "--yes",
    )
    assert result.exit_code == 1
    assert f"was made active again on {datetime.now(UTC):%Y-%m-%d}" in result.stderr


# -- dry run, the deployed sweep, refusals ------------------------------------------------------------


def scanned_items(deployed: Deployed) -> list[dict[str, Any]]:
    """Every item of the security account's tables: the audit log, and the state table's claims and
    lifecycles."""
    dynamodb = deployed.organization.client("dynamodb", deployed.organization.security)
    return [
        item
        for name in dynamodb.list_tables()["TableNames"]
        for page in dynamodb.get_paginator("scan").paginate(TableName=name)
        for item in page["Items"]
    ]


def test_a_dry_run_changes_nothing_writes_nothing_and_reports(deployed: Deployed, undone: Undone) -> None:
    second = deployed.organization.members[1]
    (late,) = deployed.add_user(second, "late", 200)
    before = scanned_items(deployed)
    result = akr(
        deployed.organization, "sweep", *deployed.security_args, "--local", "--dry-run", "--output", "json"
    )
    assert result.exit_code == 0, result.output  # report mode: no question to answer
    payload = as_json(result)
    assert (payload["changed"], payload["result"]["mode"], payload["result"]["dry_run"]) == (
        False,
        "report",
        True,
    )
    accounts = {a["account_id"]: a["summary"] for a in payload["result"]["accounts"]}
    assert accounts[second]["reported"] == 1
    assert deployed.keys(second, "late") == {late: "Active"}
    # Nothing written: not an audit record, not a claim, not a lifecycle. The decisions are in the output.
    assert scanned_items(deployed) == before
    (reported,) = [r for r in payload["result"]["records"] if r["access_key_id"] == late]
    assert (reported["decision"], reported["mode"], reported["rule"]) == (
        "report",
        "report",
        "rotation,unused",
    )


def test_the_local_sweep_asks_first_and_no_changes_nothing(deployed: Deployed, swept: Swept) -> None:
    first = deployed.organization.members[0]
    (doomed,) = deployed.add_user(first, "doomed", 300)
    result = akr(deployed.organization, "sweep", *deployed.security_args, "--local", answers="n\n")
    assert result.exit_code == 1
    assert "Would sweep 3 account(s) from this machine, 8 at a time, in mode staged" in result.stdout
    assert result.stdout.rstrip().endswith("Sweep? [y/N]: n\nAborted: nothing was changed.")
    assert deployed.keys(first, "doomed") == {doomed: "Active"}


def test_the_deployed_sweep_function_is_the_stacks_output(deployed: Deployed) -> None:
    """moto cannot run the function: tests/integration/test_sweep_invoke.py checks the invoke call."""
    organization = deployed.organization
    aws = Aws(region=REGION, endpoint_url=organization.url)
    central, function = prepare_deployed(
        aws, Deployment(security_account_id=organization.security, home_region=REGION)
    )
    configuration = organization.client("lambda", organization.security).get_function(FunctionName=function)
    assert configuration["Configuration"]["Handler"] == "remediator.sweep_handler.lambda_handler"
    assert central.mode == "staged"
    # The log groups akr sweep points to are the ones the stack made, names ending with its id's first part.
    groups = organization.client("logs", organization.security).describe_log_groups()["logGroups"]
    stack = organization.client("cloudformation", organization.security).describe_stacks(
        StackName="access-key-remediation"
    )["Stacks"][0]
    suffix = stack["StackId"].split("/")[2].split("-")[0]
    assert sweep_log_groups(central.stack) == (
        "/aws/lambda/access-key-remediation-sweep",
        f"/aws/lambda/access-key-remediation-worker-{suffix}",
    )
    assert set(sweep_log_groups(central.stack)) <= {g["logGroupName"] for g in groups}


def test_the_local_sweep_from_a_member_account_is_refused(
    deployed: Deployed, monkeypatch: pytest.MonkeyPatch
) -> None:
    organization = deployed.organization
    credentials = organization.session(organization.members[0]).get_credentials()
    assert credentials is not None
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", credentials.access_key)
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", credentials.secret_key)
    monkeypatch.setenv("AWS_SESSION_TOKEN", credentials.token or "")
    result = akr(organization, "sweep", *deployed.security_args, "--local", "--yes", "--output", "json")
    assert result.exit_code == 1
    assert as_json(result) == {
        "command": "sweep",
        "status": "error",
        "error": (
            f"this is account {organization.members[0]}: run akr sweep --local from the management account "
            f"{organization.management} or from a delegated administrator for CloudFormation StackSets"
        ),
    }
