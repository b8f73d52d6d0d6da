"""The sweep on a moto organization: the worker fixes what a lost event left behind, and an account scan
costs at most 6 + 5 x V calls to STS, IAM and Config (V: users with violating keys), whatever the size of
the account. moto generates credential reports at once and dates them 2015 (the scan caps that age)."""

from __future__ import annotations

import json
from typing import Any

import boto3
import pytest

from org_bootstrap.demo.simulation import AUDIT_TABLE, STATE_TABLE, KeySpec, MotoOrganization
from remediator.adapters.audit_table import DynamoDBAuditLog
from remediator.composition import build_remediator
from remediator.policy import Mode
from remediator.settings import Settings
from remediator.worker_handler import handle_batch
from tests.call_counter import CallCounter
from tests.functional.test_sweep import sqs_event


def settings(**changes: Any) -> Settings:
    return Settings(audit_table=AUDIT_TABLE, state_table=STATE_TABLE, **changes)


def test_the_sweep_fixes_a_user_whose_event_was_lost(org: MotoOrganization) -> None:
    first, second = org.members
    lost = org.add_user(first, "lost-event", KeySpec(age_days=130, used_days_ago=2), KeySpec(age_days=3))
    fine = org.add_user(second, "fine", KeySpec(age_days=30, used_days_ago=1))
    remediator = build_remediator(settings(mode=Mode.DELETE), org.session(org.security), sleep=lambda _: None)
    event = sqs_event(
        *(json.dumps({"account_id": a, "run_id": "daily-1"}) for a in (first, second, org.management))
    )

    assert handle_batch(event, None, remediator, "eu-west-1") == {"batchItemFailures": []}

    assert org.keys(first, "lost-event") == {lost.key_ids[1]: "Active"}
    assert org.keys(second, "fine") == {fine.key_ids[0]: "Active"}
    log = DynamoDBAuditLog(client=org.session(org.security).client("dynamodb"), table_name=AUDIT_TABLE)
    done = [r for r in log.for_account(first) if r.phase == "outcome"]
    assert [(r.access_key_id, r.decision, r.outcome, r.trigger, r.event_id) for r in done] == [
        (lost.key_ids[0], "delete", "done", "sweep", "sweep-daily-1")
    ]
    assert log.for_account(second) == []


@pytest.mark.slow
@pytest.mark.parametrize("users_in_account", [10, 1000])
def test_account_scan_budget(org: MotoOrganization, users_in_account: int) -> None:
    member = org.members[0]
    iam = org.session(member).client("iam")
    for i in range(users_in_account):
        iam.create_user(UserName=f"user-{i:04d}")
    violating = [
        org.add_user(member, "old", KeySpec(age_days=120, used_days_ago=1), KeySpec(age_days=5)),
        org.add_user(member, "idle", KeySpec(age_days=100)),
    ]
    counter = CallCounter()

    def member_session(**kwargs: Any) -> boto3.Session:
        return counter.attach(boto3.Session(**kwargs))

    remediator = build_remediator(
        settings(mode=Mode.DELETE),
        counter.attach(org.session(org.security)),
        session_factory=member_session,
        sleep=lambda _: None,
    )
    result = remediator.sweep_account(member, region="eu-west-1", label="budget")

    assert result.summary()["deleted"] == 2
    assert org.keys(member, "old") == {violating[0].key_ids[1]: "Active"}
    calls = counter.of("sts", "iam", "config")
    assert sum(calls.values()) <= 6 + 5 * len(violating), calls
    # The same at 10 and at 1,000 users: 5 for the account (the report IAM keeps is looked at first; moto's
    # is dated 2015, so a new one is asked for), then per violating user a GetUser, a ListAccessKeys, a
    # GetAccessKeyLastUsed per key and the delete.
    assert calls == {
        "sts:AssumeRole": 1,
        "iam:GenerateCredentialReport": 2,
        "iam:GetCredentialReport": 2,
        "iam:GetUser": 2,
        "iam:ListAccessKeys": 2,
        "iam:GetAccessKeyLastUsed": 3,
        "iam:DeleteAccessKey": 2,
    }
    assert "iam:ListUsers" not in calls, "the report, not the listing, found the candidates"
