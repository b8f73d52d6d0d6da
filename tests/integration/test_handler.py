"""The Lambda handler end to end on moto: security account assumes into members, acts per key, audits."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any, cast

import boto3
import pytest
from aws_lambda_powertools.utilities.typing import LambdaContext

from org_bootstrap.demo.simulation import AUDIT_TABLE, STATE_TABLE, KeySpec, MotoOrganization, UserHandle
from remediator import handler
from remediator.adapters.audit_table import DynamoDBAuditLog
from remediator.adapters.claims import DynamoDBClaims
from remediator.adapters.exemption_table import DynamoDBExemptions
from remediator.audit import AuditRecord, Outcome, Phase, Trigger, new_record_id
from remediator.errors import ConfigurationError
from remediator.exemption_records import EXEMPT_ADD
from remediator.exemptions import Exemption
from remediator.policy import Mode, Thresholds
from tests.fixtures import load_event, retarget
from tests.integration.lambda_context import FakeLambdaContext

pytestmark = pytest.mark.usefixtures("as_security_account")

OLD = KeySpec(age_days=120, used_days_ago=1)
FRESH = KeySpec(age_days=10, used_days_ago=1)


def event_for(user: UserHandle, fixture: str = "config_noncompliant_rotated") -> dict[str, Any]:
    event = load_event(fixture)
    retarget(event, account_id=user.account_id, user_id=user.user_id)
    return event


def invoke(event: dict[str, Any]) -> dict[str, Any]:
    result = handler.lambda_handler(event, cast(LambdaContext, FakeLambdaContext()))
    return cast(dict[str, Any], result)


def audit(org: MotoOrganization, account_id: str) -> list[AuditRecord]:
    log = DynamoDBAuditLog(client=org.session(org.security).client("dynamodb"), table_name=AUDIT_TABLE)
    return sorted(log.for_account(account_id), key=lambda r: r.record_id)


def test_deletes_exactly_the_expired_key_in_the_right_member(org: MotoOrganization) -> None:
    target, other = org.members
    alice = org.add_user(target, "alice", OLD, FRESH, tags={"owner": "team-a"})
    bystander = org.add_user(other, "alice", OLD)

    result = invoke(event_for(alice))

    old_key, fresh_key = alice.key_ids
    assert org.keys(target, "alice") == {fresh_key: "Active"}
    assert org.keys(other, "alice") == {bystander.key_ids[0]: "Active"}
    assert result == {
        "status": "processed",
        "account_id": target,
        "user_id": alice.user_id,
        "summary": {
            "deactivated": 0,
            "deleted": 1,
            "exempted": 0,
            "reported": 0,
            "warned": 0,
            "compliant": 1,
            "findings": 0,
            "failed": 0,
        },
    }
    records = audit(org, target)
    assert [(r.access_key_id, r.decision, r.phase, r.outcome) for r in records] == [
        (old_key, "delete", "intent", "pending"),
        (old_key, "delete", "outcome", "done"),
        (fresh_key, "none", "decision", "skipped"),
    ]
    done = records[1]
    assert done.user_name == "alice"
    assert done.user_id == alice.user_id
    assert done.rule == "rotation"
    assert done.key_age_days == 120
    assert done.mode == "delete"
    assert done.trigger == "event"
    assert done.event_id == "5c1d7e9a-3b2f-4c8e-9a41-2f6d0b7e8c13"
    assert done.config_rule_name == "akr-access-keys-rotated"
    assert done.role_session_name == "akr-5c1d7e9a-3b2f-4c8e-9a41-2f6d0b7e8c13"
    assert done.thresholds.max_key_age_days == 90
    assert done.owner == "team-a"
    assert audit(org, other) == []


def test_deactivate_mode_keeps_the_key_inactive(
    org: MotoOrganization, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AKR_MODE", "deactivate")
    alice = org.add_user(org.members[0], "alice", OLD, FRESH)
    invoke(event_for(alice))
    assert org.keys(org.members[0], "alice") == {alice.key_ids[0]: "Inactive", alice.key_ids[1]: "Active"}


def test_unused_rule_with_cis_1_4_preset(org: MotoOrganization, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AKR_CIS_PRESET", "cis-1.4")
    monkeypatch.setenv("AKR_MODE", "deactivate")
    # Whichever rule fired, both are evaluated: the event names the unused rule, the key is idle 60 days.
    bob = org.add_user(org.members[0], "bob", KeySpec(age_days=70, used_days_ago=60), FRESH)
    invoke(event_for(bob, "config_noncompliant_unused_first_evaluation"))
    assert org.keys(org.members[0], "bob") == {bob.key_ids[0]: "Inactive", bob.key_ids[1]: "Active"}
    (record,) = [r for r in audit(org, org.members[0]) if r.phase == "outcome"]
    assert record.rule == "unused"
    assert record.reason == "last used 60 days ago, limit 45"


def test_report_mode_changes_nothing(org: MotoOrganization, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AKR_MODE", "report")
    alice = org.add_user(org.members[0], "alice", OLD, KeySpec(age_days=200))
    result = invoke(event_for(alice))
    assert org.keys(org.members[0], "alice") == dict.fromkeys(alice.key_ids, "Active")
    assert result["summary"]["reported"] == 2
    records = audit(org, org.members[0])
    assert {(r.decision, r.phase, r.outcome) for r in records} == {("report", "decision", "skipped")}
    assert {r.rule for r in records} == {"rotation", "rotation,unused"}


def test_replayed_event_mutates_once(org: MotoOrganization, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AKR_MODE", "deactivate")
    alice = org.add_user(org.members[0], "alice", OLD)
    event = event_for(alice)
    results = [invoke(event) for _ in range(9)]
    hop = json.loads(json.dumps(event))
    hop["id"] = "a-new-id-given-by-a-bus-to-bus-hop"
    results.append(invoke(hop))

    assert all(r == results[0] for r in results)
    records = audit(org, org.members[0])
    assert [(r.phase, r.outcome) for r in records] == [("intent", "pending"), ("outcome", "done")]
    assert org.keys(org.members[0], "alice") == {alice.key_ids[0]: "Inactive"}


def test_user_that_no_longer_exists_is_a_recorded_no_op(org: MotoOrganization) -> None:
    ghost = UserHandle(org.members[0], "ghost", "AIDAGHOSTUSER0000000", ())
    result = invoke(event_for(ghost))
    assert result["summary"]["failed"] == 0
    (record,) = audit(org, org.members[0])
    assert (record.user_id, record.reason, record.outcome) == (
        "AIDAGHOSTUSER0000000",
        "user no longer exists",
        "skipped",
    )


def test_central_exemption_is_honoured_and_audited(org: MotoOrganization) -> None:
    alice = org.add_user(org.members[0], "alice", OLD)
    DynamoDBExemptions(client=org.session(org.security).client("dynamodb"), table_name=STATE_TABLE).put(
        Exemption(
            account_id=org.members[0],
            user_name="alice",
            reason="vendor integration, rotation scheduled",
            owner="secops@example.com",
            expires_at=datetime.now(UTC) + timedelta(days=7),
        )
    )
    result = invoke(event_for(alice))
    assert org.keys(org.members[0], "alice") == {alice.key_ids[0]: "Active"}
    assert result["summary"]["exempted"] == 1
    (record,) = audit(org, org.members[0])
    assert record.decision == "exempt"
    assert "secops@example.com: vendor integration, rotation scheduled" in record.reason


def test_with_verification_an_exemption_counts_only_with_its_exempt_add_record(
    org: MotoOrganization, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AKR_VERIFY_EXEMPTIONS", "true")
    alice = org.add_user(org.members[0], "alice", OLD)
    bob = org.add_user(org.members[0], "bob", OLD)
    dynamodb = org.session(org.security).client("dynamodb")
    now = datetime.now(UTC)
    made = AuditRecord(
        record_id=new_record_id(now),
        account_id=org.members[0],
        user_name="alice",
        owner="secops@example.com",
        decision=EXEMPT_ADD,
        mode=Mode.DELETE,
        reason="exempted user alice",
        thresholds=Thresholds(),
        operator="arn:aws:sts::000000000000:assumed-role/OrganizationAccountAccessRole/op",
        trigger=Trigger.CLI,
        phase=Phase.OUTCOME,
        outcome=Outcome.DONE,
        recorded_at=now,
        expires_at=now + timedelta(days=7),
    )
    DynamoDBAuditLog(client=dynamodb, table_name=AUDIT_TABLE).append(made)
    exemptions = DynamoDBExemptions(client=dynamodb, table_name=STATE_TABLE)
    for name in ("alice", "bob"):
        exemptions.put(
            Exemption(
                account_id=org.members[0],
                user_name=name,
                reason="vendor integration",
                owner="secops@example.com",
                expires_at=now + timedelta(days=7),
                record_id=made.record_id,  # bob's names alice's record: it proves nothing for bob
            )
        )
    invoke(event_for(alice))
    invoke(event_for(bob))
    assert org.keys(org.members[0], "alice") == {alice.key_ids[0]: "Active"}
    assert org.keys(org.members[0], "bob") == {}
    decided = {r.user_name: r for r in audit(org, org.members[0]) if r.phase != Phase.INTENT}
    assert decided["alice"].decision == "exempt"
    assert decided["bob"].decision == "delete"
    assert (
        f"exemption bob#* by secops@example.com ignored: its exempt-add audit record {made.record_id} has "
        "another user"
    ) in decided["bob"].reason


def test_opt_out_tag_is_ignored_unless_configured(org: MotoOrganization) -> None:
    alice = org.add_user(org.members[0], "alice", OLD, tags={"akr-opt-out": "true"})
    invoke(event_for(alice))
    assert org.keys(org.members[0], "alice") == {}


def test_compliant_event_is_acknowledged_without_action(org: MotoOrganization) -> None:
    alice = org.add_user(org.members[0], "alice", OLD)
    event = load_event("config_compliant_rotated")
    retarget(event, account_id=alice.account_id, user_id=alice.user_id)
    assert invoke(event) == {"status": "ignored", "compliance": "COMPLIANT"}
    assert org.keys(org.members[0], "alice") == {alice.key_ids[0]: "Active"}
    assert audit(org, org.members[0]) == []


def test_metrics_are_emitted(org: MotoOrganization, capsys: pytest.CaptureFixture[str]) -> None:
    alice = org.add_user(org.members[0], "alice", OLD)
    invoke(event_for(alice))
    emitted = [json.loads(line) for line in capsys.readouterr().out.splitlines() if '"_aws"' in line]
    (metric_line,) = emitted
    assert metric_line["KeysDeleted"] == [1.0] or metric_line["KeysDeleted"] == 1.0
    assert metric_line["RemediationFailures"] in (0.0, [0.0])


def test_invalid_configuration_fails_at_start_up(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AKR_MODE", "yolo")
    with pytest.raises(ConfigurationError, match="invalid configuration: AKR_MODE"):
        invoke(load_event("config_noncompliant_rotated"))


def test_boto3_session_is_the_security_account(org: MotoOrganization) -> None:
    # Guards the fixture itself: the handler must run as the security account, not the management one.
    assert boto3.Session().client("sts").get_caller_identity()["Account"] == org.security


def test_protected_path_is_recorded_as_exempt(org: MotoOrganization, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AKR_PROTECTED_USER_PATH", "/break-glass/")
    vault = org.add_user(org.members[0], "vault", KeySpec(age_days=300), path="/break-glass/")
    result = invoke(event_for(vault))
    assert org.keys(org.members[0], "vault") == {vault.key_ids[0]: "Active"}
    assert result["summary"]["exempted"] == 1
    (record,) = audit(org, org.members[0])
    assert (record.decision, record.outcome) == ("exempt", "skipped")
    assert record.reason.endswith("exempt: user path /break-glass/ is protected")


def test_a_key_claimed_by_the_other_rules_run_is_left_alone(org: MotoOrganization) -> None:
    alice = org.add_user(org.members[0], "alice", OLD)
    claims = DynamoDBClaims(
        client=org.session(org.security).client("dynamodb"),
        table_name=STATE_TABLE,
        clock=lambda: datetime.now(UTC),
    )
    assert claims.claim(org.members[0], alice.key_ids[0], "delete", owner="event-of-the-other-rule")
    result = invoke(event_for(alice))
    assert org.keys(org.members[0], "alice") == {alice.key_ids[0]: "Active"}
    assert result["summary"]["deleted"] == 0
    (record,) = audit(org, org.members[0])
    assert record.reason.endswith("another run is acting on this key")
