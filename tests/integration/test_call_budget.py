"""AWS calls per event do not grow with the number of users in the account.

moto's Config has no IAM users, so ListDiscoveredResources is answered from moto's IAM state by a botocore
hook (tests/call_counter.py); the fallback through ListUsers paging is covered by test_member_adapter.py.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any, cast

import boto3
import pytest
from aws_lambda_powertools.utilities.typing import LambdaContext

from org_bootstrap.demo.simulation import AUDIT_TABLE, STATE_TABLE, KeySpec, MotoOrganization
from remediator.adapters.exemption_table import DynamoDBExemptions
from remediator.adapters.lifecycle_table import DynamoDBLifecycle
from remediator.composition import build_remediator, build_runtime
from remediator.events import parse_compliance_change
from remediator.exemptions import Exemption
from remediator.lifecycle import KeyLifecycle, Stage
from remediator.settings import Settings
from tests.call_counter import CallCounter, answer_config_from_iam
from tests.fixtures import load_event, retarget
from tests.integration.lambda_context import FakeLambdaContext

pytestmark = pytest.mark.slow


def calls_for_one_event(org: MotoOrganization, users_in_account: int) -> dict[str, int]:
    member = org.members[0]
    iam = org.session(member).client("iam")
    for i in range(users_in_account):
        iam.create_user(UserName=f"user-{i:04d}")
    alice = org.add_user(member, "alice", KeySpec(age_days=120, used_days_ago=1), KeySpec(age_days=5))

    counter = CallCounter()

    def member_session(**kwargs: Any) -> boto3.Session:
        session = counter.attach(boto3.Session(**kwargs))
        answer_config_from_iam(session, lookup=org.session(member))
        return session

    security = counter.attach(org.session(org.security))
    settings = Settings(audit_table=AUDIT_TABLE, state_table=STATE_TABLE)
    remediator = build_remediator(settings, security, session_factory=member_session)
    raw = load_event("config_noncompliant_rotated")
    retarget(raw, account_id=member, user_id=alice.user_id)
    result = remediator.remediate_event(parse_compliance_change(raw, ["akr-"]))
    assert result.summary()["deleted"] == 1
    assert org.keys(member, "alice") == {alice.key_ids[1]: "Active"}
    return counter.of("sts", "iam", "config")


@pytest.mark.usefixtures("org")
@pytest.mark.parametrize("users_in_account", [10, 1000])
def test_calls_per_event_are_independent_of_account_size(
    org: MotoOrganization, users_in_account: int
) -> None:
    calls = calls_for_one_event(org, users_in_account)
    # A user with two keys, one violating: 7 calls to STS, IAM and Config, whatever the account size.
    assert calls == {
        "config:ListDiscoveredResources": 1,
        "iam:DeleteAccessKey": 1,
        "iam:GetAccessKeyLastUsed": 2,
        "iam:GetUser": 1,
        "iam:ListAccessKeys": 1,
        "sts:AssumeRole": 1,
    }
    assert sum(calls.values()) <= 7


DYNAMODB_BUDGET = 6
"""DynamoDB calls per event with one violating key, idempotency and the exemption check included."""


@pytest.mark.usefixtures("org")
@pytest.mark.parametrize(
    ("keys", "users_in_account", "verify", "expected"),
    [
        # Idempotency (in progress, completed), the account's exemptions and key lifecycles together
        # (one ExecuteStatement), the journal's intent and outcome (each one transaction with the claim,
        # the key's lifecycle and, for the intent, the pause check and the caps of the day).
        (1, 10, False, {"ExecuteStatement": 1, "PutItem": 1, "TransactWriteItems": 2, "UpdateItem": 1}),
        # The user's other key (IAM allows two) adds its decision record.
        (2, 10, False, {"ExecuteStatement": 1, "PutItem": 2, "TransactWriteItems": 2, "UpdateItem": 1}),
        (2, 1000, False, {"ExecuteStatement": 1, "PutItem": 2, "TransactWriteItems": 2, "UpdateItem": 1}),
        # With exemptions verified, the event reads the audit record of no exemption of another user.
        (2, 10, True, {"ExecuteStatement": 1, "PutItem": 2, "TransactWriteItems": 2, "UpdateItem": 1}),
    ],
)
def test_dynamodb_calls_per_event_with_idempotency(
    org: MotoOrganization, keys: int, users_in_account: int, verify: bool, expected: dict[str, int]
) -> None:
    member = org.members[0]
    iam = org.session(member).client("iam")
    for i in range(users_in_account):
        iam.create_user(UserName=f"user-{i:04d}")
    specs = (KeySpec(age_days=120, used_days_ago=1), KeySpec(age_days=5))[:keys]
    alice = org.add_user(member, "alice", *specs)
    bob = org.add_user(member, "bob", KeySpec(age_days=200))
    # The account has an exemption (of another user) and a lifecycle of another key: both are read.
    dynamodb = org.session(org.security).client("dynamodb")
    now = datetime.now(UTC)
    DynamoDBExemptions(client=dynamodb, table_name=STATE_TABLE).put(
        Exemption(
            account_id=member,
            user_name="bob",
            reason="vendor integration",
            owner="ops@example.com",
            expires_at=now + timedelta(days=10),
            record_id=f"{now.isoformat()}#0123456789abcdef",
        )
    )
    DynamoDBLifecycle(client=dynamodb, table_name=STATE_TABLE).save(
        KeyLifecycle(
            account_id=member,
            access_key_id=bob.key_ids[0],
            user_name="bob",
            stage=Stage.DETECTED,
            detected_at=now,
            updated_at=now,
        )
    )

    def member_session(**kwargs: Any) -> boto3.Session:
        session = boto3.Session(**kwargs)
        answer_config_from_iam(session, lookup=org.session(member))
        return session

    counter = CallCounter()
    security = counter.attach(org.session(org.security))
    settings = Settings(audit_table=AUDIT_TABLE, state_table=STATE_TABLE, verify_exemptions=verify)
    runtime = build_runtime(settings, security, session_factory=member_session)
    raw = load_event("config_noncompliant_rotated")
    retarget(raw, account_id=member, user_id=alice.user_id)
    change = parse_compliance_change(raw, ["akr-"])
    runtime.idempotency.register_lambda_context(cast(LambdaContext, FakeLambdaContext()))
    answer = runtime.remediate_event(key=change.dedupe_key, event=change)
    assert answer["summary"]["deleted"] == 1
    assert org.keys(member, "alice") == dict.fromkeys(alice.key_ids[1:], "Active")
    calls = {name.split(":")[1]: n for name, n in counter.of("dynamodb").items()}
    assert calls == expected
    assert sum(calls.values()) == 4 + keys <= DYNAMODB_BUDGET
