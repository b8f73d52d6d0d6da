"""The organization `akr scan` is run against in these tests, and the helpers that read it: after a real
`akr deploy --mode staged --cis 1.4`, users with backdated keys in the management account and both
members, an exemption made with `akr exempt add`, and a key the service deactivated in staged mode (its
lifecycle in the state table). freezegun backdates the keys and their last use: the moto server runs in
this process, so it sees the frozen clock."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any

import boto3
import botocore.session
import pytest
from botocore.awsrequest import AWSResponse, HTTPHeaders
from freezegun import freeze_time
from typer.testing import Result

from tests.e2e.akr import akr, as_json
from tests.moto_server import REGION, ServerOrganization

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
