"""The member role's permissions, declared in remediator.permissions, are exactly what the adapters call.

Every path is exercised on moto through counting member sessions: resolution by Config and by listing,
deactivate and delete, a whole-account run, a sweep through the credential report, and an undo.
The template side (the role grants exactly the declaration) is tested in tests/stacksets/.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import boto3

from org_bootstrap.demo.simulation import AUDIT_TABLE, STATE_TABLE, KeySpec, MotoOrganization
from remediator.adapters.journal import DynamoDBJournal
from remediator.adapters.lifecycle_table import DynamoDBLifecycle
from remediator.adapters.sessions import AssumedRoleAccess
from remediator.audit import Trigger
from remediator.composition import build_remediator
from remediator.events import parse_compliance_change
from remediator.permissions import ACTIONS, member_role_permissions
from remediator.policy import Mode, Policy
from remediator.settings import Settings
from remediator.undo import Undo
from tests.call_counter import CallCounter, answer_config_from_iam
from tests.fixtures import load_event, retarget


def test_member_calls_are_exactly_the_declared_permissions(org: MotoOrganization) -> None:
    counter = CallCounter()
    config_answers = [True]

    def member_session(**kwargs: Any) -> boto3.Session:
        session = counter.attach(boto3.Session(**kwargs))
        if config_answers[0]:
            answer_config_from_iam(session, lookup=org.session(org.members[0]))
        return session

    def run(mode: Mode, user_id: str, label: str) -> None:
        settings = Settings(audit_table=AUDIT_TABLE, state_table=STATE_TABLE, mode=mode)
        remediator = build_remediator(settings, org.session(org.security), session_factory=member_session)
        raw = load_event("config_noncompliant_rotated")
        retarget(raw, account_id=org.members[0], user_id=user_id)
        raw["id"] = label
        remediator.remediate_event(parse_compliance_change(raw, ["akr-"]))

    old = KeySpec(age_days=120, used_days_ago=3)
    alice = org.add_user(org.members[0], "alice", old)
    bob = org.add_user(org.members[0], "bob", old)
    org.add_user(org.members[0], "carol", old)
    run(Mode.DEACTIVATE, alice.user_id, "by-config")
    config_answers[0] = False  # moto's own Config: no IAM users, so resolution pages through ListUsers
    run(Mode.DELETE, bob.user_id, "by-listing")
    settings = Settings(audit_table=AUDIT_TABLE, state_table=STATE_TABLE)
    account_run = build_remediator(settings, org.session(org.security), session_factory=member_session)
    account_run.remediate_account(org.members[0], region="eu-west-1", trigger=Trigger.SWEEP, label="listing")
    dave = org.add_user(org.members[0], "dave", old)
    sweep = build_remediator(
        Settings(audit_table=AUDIT_TABLE, state_table=STATE_TABLE, mode=Mode.DEACTIVATE),
        org.session(org.security),
        session_factory=member_session,
        sleep=lambda _: None,
    )
    sweep.sweep_account(org.members[0], region="eu-west-1", label="report")
    dynamodb = org.session(org.security).client("dynamodb")

    def now() -> datetime:
        return datetime.now(UTC)

    undo = Undo(
        policy=Policy(mode=Mode.STAGED),
        access=AssumedRoleAccess(
            session=org.session(org.security),
            role_name=settings.member_role_name,
            clock=now,
            session_factory=member_session,
        ),
        lifecycle=DynamoDBLifecycle(client=dynamodb, table_name=STATE_TABLE),
        journal=DynamoDBJournal(client=dynamodb, audit_table=AUDIT_TABLE, state_table=STATE_TABLE, clock=now),
        clock=now,
    )
    undo.reactivate(org.members[0], dave.key_ids[0], operator="tester", region="eu-west-1")

    called = {name for name in counter.calls if not name.startswith("sts:")}
    declared = {permission.action for permission in member_role_permissions()}
    assert called == declared
    assert {p.action for needed in ACTIONS.values() for p in needed} == {
        "iam:UpdateAccessKey",
        "iam:DeleteAccessKey",
    }
    assert org.keys(org.members[0], "alice") == {alice.key_ids[0]: "Inactive"}
    assert org.keys(org.members[0], "bob") == {}
    assert org.keys(org.members[0], "carol") == {}
    assert org.keys(org.members[0], "dave") == {dave.key_ids[0]: "Active"}, "deactivated by the sweep, undone"
