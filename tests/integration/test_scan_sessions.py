"""`akr scan`'s sessions on moto (org_bootstrap.review.scan_plan, remediator.adapters.sessions): the session
policy each AssumeRole sends, the per-account sessions let go of as soon as each account is scanned, and
a corrupt item of the state table that fails its account only."""

from __future__ import annotations

import gc
import json
import threading
import weakref
from datetime import UTC, datetime, timedelta
from typing import Any

import boto3
from botocore.hooks import BaseEventHooks
from botocore.stub import Stubber

from org_bootstrap.aws import Aws
from org_bootstrap.demo.simulation import REGION, STATE_TABLE, KeySpec, MotoOrganization
from org_bootstrap.deploy.deployment import Deployment
from org_bootstrap.review.rate_limit import RateLimiter
from org_bootstrap.review.scan import Opener, scan_accounts
from org_bootstrap.review.scan_plan import (
    Overrides,
    ScanPlan,
    choose_policy,
    member_factory,
    member_session_policy,
    security_session_policy,
)
from remediator.adapters.lifecycle_table import DynamoDBLifecycle
from remediator.adapters.sessions import AssumedRoleAccess
from remediator.policy import Policy
from remediator.ports import MemberAccount

ACCOUNT = "222222222222"
NOW = datetime(2026, 11, 28, 12, 0, tzinfo=UTC)
MEMBER_POLICY = (
    '{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":["iam:GenerateCredentialReport",'
    '"iam:GetAccessKeyLastUsed","iam:GetCredentialReport","iam:GetUser","iam:ListAccessKeys",'
    '"iam:ListUsers"],"Resource":"*"}]}'
)


def credentials() -> dict[str, Any]:
    return {
        "Credentials": {
            "AccessKeyId": "ASIAEXAMPLE000000001",
            "SecretAccessKey": "secret",
            "SessionToken": "token",
            "Expiration": NOW + timedelta(hours=1),
        }
    }


# -- the session policies ----------------------------------------------------------------------------


def test_the_member_role_is_assumed_with_the_scan_s_session_policy() -> None:
    sts = boto3.Session(region_name=REGION).client("sts")
    access = AssumedRoleAccess(
        session=boto3.Session(region_name=REGION),
        role_name="OrganizationAccountAccessRole",
        clock=lambda: NOW,
        sts=sts,
        session_policy=member_session_policy(),
    )
    expected = {
        "RoleArn": f"arn:aws:iam::{ACCOUNT}:role/OrganizationAccountAccessRole",
        "RoleSessionName": "akr-scan-20261128T120000Z",
        "DurationSeconds": 3600,
        "Policy": MEMBER_POLICY,
    }
    with Stubber(sts) as stub:
        stub.add_response("assume_role", credentials(), expected)
        access.open(ACCOUNT, region=REGION, label="scan-20261128T120000Z")
        stub.assert_no_pending_responses()


def test_without_a_session_policy_none_is_sent() -> None:
    # The remediator's own sessions: unchanged.
    sts = boto3.Session(region_name=REGION).client("sts")
    access = AssumedRoleAccess(
        session=boto3.Session(region_name=REGION), role_name="R", clock=lambda: NOW, sts=sts
    )
    expected = {
        "RoleArn": f"arn:aws:iam::{ACCOUNT}:role/R",
        "RoleSessionName": "akr-e",
        "DurationSeconds": 3600,
    }
    with Stubber(sts) as stub:
        stub.add_response("assume_role", credentials(), expected)
        access.open(ACCOUNT, region=REGION, label="e")
        stub.assert_no_pending_responses()


def test_the_security_role_s_session_policy_reads_the_central_stack_and_queries_tables() -> None:
    deployment = Deployment(security_account_id="111111111111", home_region="eu-west-1")
    assert json.loads(security_session_policy(deployment)) == {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Action": ["cloudformation:DescribeStacks", "cloudformation:GetTemplate"],
                "Resource": "arn:aws:cloudformation:eu-west-1:111111111111:stack/access-key-remediation/*",
            },
            {
                "Effect": "Allow",
                "Action": ["dynamodb:Query"],
                "Resource": "arn:aws:dynamodb:eu-west-1:111111111111:table/*",
            },
        ],
    }


def test_aws_assume_sends_its_session_policy(org: MotoOrganization) -> None:
    sent: list[dict[str, Any]] = []
    aws = Aws(region=REGION, session_policy=MEMBER_POLICY)
    aws.base.events.register("before-call.sts.AssumeRole", lambda params, **_: sent.append(params["body"]))
    aws.assume(org.security, "OrganizationAccountAccessRole")
    assert [call.get("Policy") for call in sent] == [MEMBER_POLICY]


# -- memory ------------------------------------------------------------------------------------------


class Recorder(RateLimiter):
    """A limiter that never waits and keeps a weak reference to each session's events it is attached to:
    alive while the session is."""

    def __init__(self) -> None:
        super().__init__(1000, sleep=lambda _: None)
        self.events: list[weakref.ref[BaseEventHooks]] = []

    def attach(self, events: BaseEventHooks) -> None:
        self.events.append(weakref.ref(events))
        super().attach(events)


def test_each_account_s_session_and_clients_go_once_it_is_scanned(org: MotoOrganization) -> None:
    accounts = (*org.members, "444444444401", "444444444402", "444444444403", "444444444404")
    for account in accounts:  # moto's first report is STARTED, and the adapter would wait five seconds
        org.session(account).client("iam").generate_credential_report()
    org.add_user(org.members[0], "stale", KeySpec(age_days=120, used_days_ago=1))
    aws = Aws(region=REGION)
    plan = ScanPlan(
        caller=org.management,
        organization_id="o-example",
        accounts=accounts,
        policy=choose_policy(None, Overrides(), account_role="OrganizationAccountAccessRole", where="-"),
        account_role="OrganizationAccountAccessRole",
        now=datetime.now(UTC),
        within="30d",
        until=datetime.now(UTC) + timedelta(days=30),
    )
    limiter = Recorder()
    build = member_factory(aws, plan, limiter, region=REGION)
    opened: list[weakref.ref[MemberAccount]] = []
    lock = threading.Lock()

    class Watching:
        def __init__(self) -> None:
            self.opener = build()

        def open(self, account_id: str) -> MemberAccount:
            member = self.opener.open(account_id)
            with lock:
                opened.append(weakref.ref(member))
            return member

        def forget(self, account_id: str) -> None:
            self.opener.forget(account_id)

    workers: list[Watching] = []  # kept past the scan, as a worker thread keeps its own through it

    def factory() -> Opener:
        with lock:
            workers.append(Watching())
            return workers[-1]

    before = len(limiter.events)
    result = scan_accounts(accounts, factory, None, None, Policy(), plan.now, plan.until, concurrency=3)
    assert (result.failed, len(result.rows)) == ((), 1)
    gc.collect()
    assert len(opened) == len(accounts)
    assert [ref() for ref in opened] == [None] * len(accounts)  # each member and its IAM and Config clients
    sessions = limiter.events[before:]
    assert len(sessions) == len(accounts)
    assert [ref() for ref in sessions] == [None] * len(accounts)  # each account's boto3 session


# -- a corrupt item -----------------------------------------------------------------------------------


def test_a_corrupt_lifecycle_item_fails_its_account_and_the_others_complete(org: MotoOrganization) -> None:
    first, second = org.members
    for account in org.members:
        org.session(account).client("iam").generate_credential_report()
        org.add_user(account, "stale", KeySpec(age_days=120, used_days_ago=1))
    dynamodb = org.session(org.security).client("dynamodb")
    dynamodb.put_item(
        TableName=STATE_TABLE,
        Item={
            "pk": {"S": f"key#{second}"},
            "sk": {"S": "AKIAKEY0000000000001"},
            "account_id": {"S": second},
            "access_key_id": {"S": "AKIAKEY0000000000001"},
            "user_name": {"S": "stale"},
            "stage": {"S": "half-deleted"},
            "updated_at": {"S": "yesterday"},
        },
    )
    aws = Aws(region=REGION)
    now = datetime.now(UTC)
    plan = ScanPlan(
        caller=org.management,
        organization_id="o-example",
        accounts=org.members,
        policy=choose_policy(None, Overrides(), account_role="OrganizationAccountAccessRole", where="-"),
        account_role="OrganizationAccountAccessRole",
        now=now,
        within="30d",
        until=now + timedelta(days=30),
    )
    lifecycle = DynamoDBLifecycle(client=dynamodb, table_name=STATE_TABLE)
    result = scan_accounts(
        org.members,
        member_factory(aws, plan, Recorder(), region=REGION),
        None,
        lifecycle,
        Policy(),
        now,
        plan.until,
    )
    (failed,) = result.failed
    assert failed.account_id == second
    assert failed.errors == (
        f"key lifecycles of {second}: invalid KeyLifecycle: stage: Input should be 'detected', 'warned', "
        "'deactivated', 'deleted' or 'reactivated'; updated_at: Input should be a valid datetime or date, "
        "input is too short",
    )
    assert [row.account_id for row in result.rows] == [first]
