"""`akr scan` end to end against a moto server, after a real `akr deploy --mode staged --cis 1.4`: users
with backdated keys in the management account and both members, an exemption made with `akr exempt add`,
a key the service deactivated in staged mode (its lifecycle in the state table), then scans: the exact
rows against an expectation written from the rules, each output format, a policy override, a horizon,
the defaults when no central stack is found, a failing account among good ones, the bad input, and that
a scan makes read calls only and leaves IAM and the central tables as they were.

One organization per module (per xdist worker). freezegun backdates the keys and their last use: the moto
server runs in this process, so it sees the frozen clock.
"""

from __future__ import annotations

import csv
import io
import json
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any

import boto3
import botocore.session
import pytest
from botocore.awsrequest import AWSResponse, HTTPHeaders
from freezegun import freeze_time
from typer.testing import Result

from org_bootstrap.deployment import Deployment
from org_bootstrap.scan_plan import member_session_policy, security_session_policy
from remediator.adapters.lifecycle_table import DynamoDBLifecycle
from remediator.lifecycle import KeyLifecycle, Stage
from tests.e2e.akr import akr, as_json, deploy
from tests.moto_server import REGION, ServerOrganization

pytestmark = pytest.mark.slow

ROLE = "OrganizationAccountAccessRole"
READ_ONLY = ("List", "Get", "Describe", "Query", "Scan")
"""Operation name prefixes that read; AssumeRole, GenerateCredentialReport and GetCallerIdentity too."""
ALSO_READ = {"AssumeRole", "GenerateCredentialReport"}
DENIED = "not authorized to perform sts:AssumeRole"


@dataclass(frozen=True)
class Key:
    account: str
    user: str
    key_id: str
    created: datetime
    used: datetime | None


@dataclass
class Scene:
    organization: ServerOrganization
    state_table: str
    audit_table: str
    now: datetime
    keys: dict[str, Key] = field(default_factory=dict)
    """Name -> key; the name is the user's, with a suffix for a second key."""

    def scan(self, *args: str, paced: bool = False) -> Result:
        """`akr scan`; `paced`: at the default 20 requests a second, else at 1000 to keep the suite quick."""
        pace = () if paced else ("--max-calls-per-second", "1000")
        return akr(self.organization, "scan", "--security-account", self.organization.security, *args, *pace)

    def add(self, account: str, user: str, age: int, used: int | None = None, *, name: str = "") -> Key:
        """A key created `age` days ago and used `used` days ago (None: never), for a new or known user."""
        iam = self.organization.client("iam", account)
        if user not in {u["UserName"] for u in iam.list_users()["Users"]}:
            iam.create_user(UserName=user)
        created = self.now - timedelta(days=age)
        with freeze_time(created):
            secret = iam.create_access_key(UserName=user)["AccessKey"]
        last_used = None
        if used is not None:
            last_used = self.now - timedelta(days=used)
            with freeze_time(last_used):  # moto records a key's use when a call is signed with it
                boto3.client(
                    "sts",
                    region_name=REGION,
                    endpoint_url=self.organization.url,
                    aws_access_key_id=secret["AccessKeyId"],
                    aws_secret_access_key=secret["SecretAccessKey"],
                ).get_caller_identity()
        key = Key(account, user, secret["AccessKeyId"], created, last_used)
        self.keys[name or user] = key
        return key

    def row(self, name: str, action: str, when: str | date) -> tuple[str, str, str, str, str]:
        key = self.keys[name]
        return (
            key.account,
            key.user,
            key.key_id,
            action,
            when if isinstance(when, str) else when.isoformat(),
        )

    def iam_state(self) -> dict[str, dict[str, dict[str, str]]]:
        """Account -> user -> key -> status, in every account."""
        state: dict[str, dict[str, dict[str, str]]] = {}
        for account in (*self.organization.members, self.organization.security, self.organization.management):
            iam = self.organization.client("iam", account)
            state[account] = {
                user["UserName"]: {
                    k["AccessKeyId"]: k["Status"]
                    for k in iam.list_access_keys(UserName=user["UserName"])["AccessKeyMetadata"]
                }
                for user in iam.list_users()["Users"]
            }
        return state

    def table_items(self) -> dict[str, list[dict[str, Any]]]:
        dynamodb = self.organization.client("dynamodb", self.organization.security)
        return {
            table: sorted(dynamodb.scan(TableName=table)["Items"], key=repr)
            for table in (self.audit_table, self.state_table)
        }


def rows_of(result: Result) -> list[tuple[str, str, str, str, str]]:
    assert result.exit_code in (0, 1), result.output
    return [
        (r["account_id"], r["user_name"], r["access_key_id"], r["action"], r["when"])
        for r in as_json(result)["result"]["rows"]
    ]


def in_order(rows: list[tuple[str, str, str, str, str]]) -> list[tuple[str, str, str, str, str]]:
    """The order the command promises: now first, then by date; then by account and user."""
    return sorted(rows, key=lambda r: (r[4] != "now", r[4], r[0], r[1], r[2]))


@pytest.fixture(scope="module")
def scene(organization: ServerOrganization) -> Scene:
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


def deployed_rows(scene: Scene, *, within_days: int = 30) -> list[tuple[str, str, str, str, str]]:
    """Staged mode, rotation after 90 days, unused after 45 (CIS 1.4), grace 14 days: written from the
    rules, not from the code."""
    k = scene.keys
    rows = [
        scene.row("stale", "deactivate", "now"),  # 120 days old, never used
        scene.row("idle", "deactivate", "now"),  # last used 50 days ago
        scene.row("exempt", "exempt", "now"),  # 120 days old, exempted centrally
        scene.row("mgmt-admin", "deactivate", "now"),  # 150 days old, in the management account
        # Deactivated ten days ago in staged mode: deleted when the 14 days of grace are over.
        scene.row("staged", "delete", (scene.now + timedelta(days=4)).date()),
        scene.row("soon", "deactivate", (k["soon"].created + timedelta(days=90)).date()),
        scene.row("quiet", "deactivate", (k["quiet"].created + timedelta(days=45)).date()),
    ]
    if within_days > 40:
        rows.append(scene.row("later", "deactivate", (k["later"].created + timedelta(days=90)).date()))
    return in_order(rows)


class Calls(list[str]):
    """The operations, and the parameters of each AssumeRole."""

    def __init__(self) -> None:
        super().__init__()
        self.assumed: list[dict[str, Any]] = []


@contextmanager
def watched(*, deny: str | None = None, no_report: bool = False) -> Iterator[Calls]:
    """Every operation of every botocore client made meanwhile, as "service:Operation", recorded by a
    before-call hook. `deny`: an account whose OrganizationAccountAccessRole refuses akr's AssumeRole,
    as AWS would answer; moto lets any role be assumed, existing or not. `no_report`: IAM refuses the
    credential report, so that the users are listed instead."""
    calls = Calls()
    lock = threading.Lock()
    original = botocore.session.Session.create_client

    def record(model: Any, params: dict[str, Any], **_: Any) -> None:
        with lock:
            calls.append(f"{model.service_model.service_name}:{model.name}")
            if model.name == "AssumeRole":
                calls.assumed.append(dict(params["body"]))

    def refuse(params: dict[str, Any], **_: Any) -> tuple[AWSResponse, dict[str, Any]] | None:
        body = params["body"]
        if body["RoleArn"] != f"arn:aws:iam::{deny}:role/{ROLE}":
            return None
        error = {"Error": {"Code": "AccessDenied", "Message": DENIED}, "ResponseMetadata": {}}
        return AWSResponse("https://sts.local", 403, HTTPHeaders(), None), error

    def refuse_report(**_: Any) -> tuple[AWSResponse, dict[str, Any]] | None:
        error = {"Error": {"Code": "AccessDenied", "Message": "no report"}, "ResponseMetadata": {}}
        return AWSResponse("https://iam.local", 403, HTTPHeaders(), None), error

    def create_client(self: botocore.session.Session, *args: Any, **kwargs: Any) -> Any:
        client = original(self, *args, **kwargs)
        client.meta.events.register("before-call", record)
        if deny is not None:
            # botocore takes a before-call handler's answer as the response (the stubs say None).
            client.meta.events.register("before-call.sts.AssumeRole", refuse)  # type: ignore[arg-type]
        if no_report:
            client.meta.events.register("before-call.iam.GenerateCredentialReport", refuse_report)  # type: ignore[arg-type]
        return client

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(botocore.session.Session, "create_client", create_client)
        yield calls


# -- what a scan finds ---------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def scanned(scene: Scene) -> tuple[Result, Calls, dict[str, Any], dict[str, Any]]:
    """One JSON scan of the whole organization, its calls, and the state before and after it."""
    before = {"iam": scene.iam_state(), "tables": scene.table_items()}
    with watched() as calls:
        result = scene.scan("--output", "json", paced=True)
    after = {"iam": scene.iam_state(), "tables": scene.table_items()}
    return result, calls, before, after


def test_the_scan_lists_exactly_the_keys_acted_on_now_or_within_30_days(
    scene: Scene, scanned: tuple[Result, Calls, dict[str, Any], dict[str, Any]]
) -> None:
    result = scanned[0]
    assert result.exit_code == 0, result.output
    assert rows_of(result) == deployed_rows(scene)


def test_the_json_envelope_names_the_policy_the_totals_and_each_account(
    scene: Scene, scanned: tuple[Result, Calls, dict[str, Any], dict[str, Any]]
) -> None:
    organization = scene.organization
    payload = as_json(scanned[0])
    assert (payload["command"], payload["status"], payload["changed"]) == ("scan", "ok", False)
    body = payload["result"]
    assert body["policy"] == {
        "source": "deployed",
        "note": f"the parameters of stack access-key-remediation in the security account "
        f"{organization.security} ({REGION})",
        "overrides": {},
        "mode": "staged",
        "max_key_age_days": 90,
        "max_unused_days": 45,
        "grace_days": 14,
        "warn_days_before": 0,
        "protected_user_path": None,
        "opt_out_tag_key": None,
    }
    assert body["totals"] == {"delete": 1, "deactivate": 5, "report": 0, "exempt": 1, "warn": 0}
    assert (body["accounts_failed"], body["errors"], body["within"]) == ([], 0, "30d")
    accounts = {a["account_id"]: a for a in body["accounts"]}
    assert set(accounts) == {*organization.members, organization.security, organization.management}
    assert {a["nominated_by"] for a in accounts.values()} == {"credential report"}
    first, second = organization.members
    # The report nominates the users with a key due within the horizon, and staged mode adds the user
    # of the deactivated key: stale, idle, soon, quiet; exempt and staged; mgmt-admin.
    assert (accounts[first]["users_read"], accounts[second]["users_read"]) == (4, 2)
    assert accounts[organization.management]["users_read"] == 1
    stale = next(r for r in body["rows"] if r["user_name"] == "stale")
    assert stale == {
        "account_id": first,
        "user_name": "stale",
        "access_key_id": scene.keys["stale"].key_id,
        "status": "Active",
        "age_days": 120,
        "last_used_at": None,
        "action": "deactivate",
        "when": "now",
        "at": body["now"],
        "rules": ["rotation", "unused"],
        "reason": "created 120 days ago, limit 90; never used, created 120 days ago, limit 45",
    }
    soon = next(r for r in body["rows"] if r["user_name"] == "soon")
    due = scene.keys["soon"].created + timedelta(days=90)
    assert (soon["at"], soon["rules"], soon["reason"], soon["age_days"]) == (
        due.isoformat(),
        ["rotation"],
        "created 90 days ago, limit 90",
        80,
    )
    staged = next(r for r in body["rows"] if r["user_name"] == "staged")
    assert (staged["status"], staged["rules"]) == ("Inactive", [])
    deactivated_on = f"{scene.now - timedelta(days=10):%Y-%m-%d}"
    assert (
        staged["reason"]
        == f"deactivated by this service on {deactivated_on}; the 14-day grace period has passed"
    )
    exempt = next(r for r in body["rows"] if r["user_name"] == "exempt")
    assert "(secops: vaulted break-glass key)" in exempt["reason"]


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
        fallback = scene.scan("--accounts", first, "--output", "json")
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


def test_the_table_shows_the_policy_the_rows_and_the_totals(scene: Scene) -> None:
    result = scene.scan("--output", "table")
    assert result.exit_code == 0, result.output
    out = result.stdout
    assert out.startswith(
        f"Policy (deployed: the parameters of stack access-key-remediation in the security account "
        f"{scene.organization.security} ({REGION})): mode staged, rotation after 90 days, unused after 45 "
        "days, deletion 14 days after deactivation\n"
    )
    assert "Keys acted on now or by" in out
    for name in ("stale", "idle", "exempt", "mgmt-admin", "staged", "soon", "quiet"):
        assert scene.keys[name].key_id in out
    assert out.rstrip().endswith(
        "Totals: 1 delete, 5 deactivate, 0 report, 1 exempt, 0 warn; 4 account(s) scanned, 0 failed, "
        "0 error(s). Nothing was changed."
    )


def test_csv_has_a_header_and_one_line_per_row(scene: Scene) -> None:
    result = scene.scan("--output", "csv")
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    assert (
        lines[0]
        == "account_id,user_name,access_key_id,status,age_days,last_used_at,action,when,at,rules,reason"
    )
    records = list(csv.DictReader(io.StringIO(result.stdout)))
    assert [
        (r["account_id"], r["user_name"], r["access_key_id"], r["action"], r["when"]) for r in records
    ] == (deployed_rows(scene))
    stale = next(r for r in records if r["user_name"] == "stale")
    assert (stale["rules"], stale["last_used_at"], stale["age_days"]) == ("rotation;unused", "", "120")


# -- previews ------------------------------------------------------------------------------------------


def test_a_mode_override_previews_report_mode(scene: Scene) -> None:
    result = scene.scan("--mode", "report", "--output", "json")
    assert result.exit_code == 0, result.output
    body = as_json(result)["result"]
    assert (body["policy"]["mode"], body["policy"]["overrides"]) == ("report", {"--mode": "report"})
    # Report mode records and touches nothing: the staged deletion does not happen either.
    expected = [
        (a, u, k, "report" if action == "deactivate" else action, when)
        for a, u, k, action, when in deployed_rows(scene)
        if u != "staged"
    ]
    assert rows_of(result) == expected
    assert body["totals"] == {"delete": 0, "deactivate": 0, "report": 5, "exempt": 1, "warn": 0}


def test_a_longer_horizon_adds_the_keys_due_within_it(scene: Scene) -> None:
    result = scene.scan("--within", "41d", "--output", "json")
    assert rows_of(result) == deployed_rows(scene, within_days=41)


def test_an_exemption_that_expires_within_the_horizon_shows_what_happens_when_it_does(scene: Scene) -> None:
    # Exempted for 60 days when the scene was set up: beyond 30 days exempt, within 61 acted on then.
    result = scene.scan("--within", "61d", "--output", "json")
    assert result.exit_code == 0, result.output
    exempt = next(r for r in as_json(result)["result"]["rows"] if r["user_name"] == "exempt")
    expiry = datetime.fromisoformat(exempt["at"])
    assert timedelta(days=60) <= expiry - scene.now < timedelta(days=60, minutes=5)
    assert (exempt["action"], exempt["when"]) == ("deactivate", f"{expiry:%Y-%m-%d}")
    assert exempt["reason"].endswith(
        f"exempt until {expiry:%Y-%m-%d %H:%M} UTC (secops: vaulted break-glass key)"
    )


def test_only_the_accounts_asked_for(scene: Scene) -> None:
    first = scene.organization.members[0]
    result = scene.scan("--accounts", first, "--accounts", first, "--output", "json")
    assert rows_of(result) == [row for row in deployed_rows(scene) if row[0] == first]
    assert [a["account_id"] for a in as_json(result)["result"]["accounts"]] == [first]


def test_without_a_central_stack_the_defaults_apply_and_the_output_says_so(scene: Scene) -> None:
    # Nothing is deployed in us-east-1: delete mode, 90/90 days, no exemptions and no lifecycles.
    result = scene.scan("--home-region", "us-east-1", "--output", "json")
    assert result.exit_code == 0, result.output
    policy = as_json(result)["result"]["policy"]
    assert (policy["source"], policy["mode"], policy["max_unused_days"]) == ("defaults", "delete", 90)
    assert policy["note"] == (
        f"no central stack in the security account {scene.organization.security} (us-east-1): the defaults, "
        "and no central exemptions"
    )
    expected = [
        scene.row("stale", "delete", "now"),
        scene.row("exempt", "delete", "now"),
        scene.row("mgmt-admin", "delete", "now"),
        scene.row("soon", "delete", (scene.keys["soon"].created + timedelta(days=90)).date()),
    ]
    assert rows_of(result) == in_order(expected)


# -- failures ------------------------------------------------------------------------------------------


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
    "unknown account": (
        ("--accounts", "999999999999"),
        lambda org: f"--accounts: 999999999999 not in organization {org.organization_id}",
        True,
    ),
    "malformed account": (
        ("--accounts", "12345"),
        lambda _: "--accounts: '12345' not an account id (12 digits)",
        False,
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
