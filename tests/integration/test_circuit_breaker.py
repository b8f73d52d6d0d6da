"""The circuit breaker and the pause on moto, through the Lambda handler (the event path) and the sweep
worker: the IAM state after the runs, the audit records, the metric.

Caps at N-1, N and N+1: with a cap of N per account, the first N violating users are acted on and the
rest are recorded as `report` with the cap named in the reason."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import pytest

from org_bootstrap.demo.simulation import AUDIT_TABLE, STATE_TABLE, KeySpec, MotoOrganization
from remediator import handler
from remediator.adapters.breaker_table import DynamoDBControl
from remediator.audit import AuditRecord
from remediator.breaker import ORGANIZATION, Pause
from remediator.composition import build_remediator
from remediator.policy import Mode
from remediator.settings import Settings
from remediator.worker_handler import handle_batch
from tests.functional.test_sweep import sqs_event
from tests.integration.test_handler import audit, event_for, invoke

OLD = KeySpec(age_days=120, used_days_ago=1)
CAP = 2


def control(org: MotoOrganization) -> DynamoDBControl:
    return DynamoDBControl(client=org.session(org.security).client("dynamodb"), table_name=STATE_TABLE)


def metrics_of(out: str) -> list[dict[str, Any]]:
    return [json.loads(line) for line in out.splitlines() if '"_aws"' in line]


def value(metric: dict[str, Any], name: str) -> float:
    found = metric[name]
    return float(sum(found) if isinstance(found, list) else found)


def held(records: list[AuditRecord]) -> list[AuditRecord]:
    return [r for r in records if r.decision == "report" and "held back" in r.reason]


@pytest.mark.usefixtures("as_security_account")
@pytest.mark.parametrize("users", [CAP - 1, CAP, CAP + 1])
def test_event_path_stops_at_the_account_cap(
    org: MotoOrganization, users: int, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("AKR_MAX_ACTIONS_PER_ACCOUNT", str(CAP))
    member = org.members[0]
    handles = [org.add_user(member, f"user-{i}", OLD) for i in range(users)]

    for user in handles:
        invoke(event_for(user))

    remaining = [org.keys(member, user.user_name) for user in handles]
    assert remaining[: min(users, CAP)] == [{}] * min(users, CAP)
    assert remaining[CAP:] == [{user.key_ids[0]: "Active"} for user in handles[CAP:]]
    records = audit(org, member)
    assert [(r.user_name, r.phase, r.outcome) for r in held(records)] == [
        (user.user_name, "decision", "skipped") for user in handles[CAP:]
    ]
    day = datetime.now(UTC).strftime("%Y-%m-%d")
    for record in held(records):
        assert record.reason.endswith(
            f"delete held back: circuit breaker: {CAP} actions in account {member} on {day}, the cap "
            f"AKR_MAX_ACTIONS_PER_ACCOUNT is {CAP}; the rest of the day runs as report: reported, not changed"
        )
    tripped = sum(value(m, "CircuitBreakerTripped") for m in metrics_of(capsys.readouterr().out))
    assert tripped == max(0, users - CAP)
    assert control(org).count(member, datetime.now(UTC)) == min(users, CAP)


@pytest.mark.usefixtures("as_security_account")
def test_the_organization_cap_holds_every_account(
    org: MotoOrganization, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AKR_MAX_ACTIONS_PER_DAY", "1")
    first, second = org.members
    acted = org.add_user(first, "acted", OLD)
    kept = org.add_user(second, "kept", OLD)

    invoke(event_for(acted))
    invoke(event_for(kept))

    assert org.keys(first, "acted") == {}
    assert org.keys(second, "kept") == {kept.key_ids[0]: "Active"}
    (record,) = held(audit(org, second))
    assert "circuit breaker: 1 actions in the organization" in record.reason
    assert "AKR_MAX_ACTIONS_PER_DAY is 1" in record.reason
    assert control(org).count(ORGANIZATION, datetime.now(UTC)) == 1


def test_the_sweep_stops_at_the_account_cap(org: MotoOrganization) -> None:
    member = org.members[0]
    handles = [org.add_user(member, f"user-{i}", OLD) for i in range(CAP + 1)]
    settings = Settings(
        audit_table=AUDIT_TABLE, state_table=STATE_TABLE, mode=Mode.DELETE, max_actions_per_account=CAP
    )
    remediator = build_remediator(settings, org.session(org.security), sleep=lambda _: None)
    event = sqs_event(json.dumps({"account_id": member, "run_id": "daily-1"}))

    assert handle_batch(event, None, remediator, "eu-west-1") == {"batchItemFailures": []}

    assert [org.keys(member, user.user_name) for user in handles] == [
        {},
        {},
        {handles[CAP].key_ids[0]: "Active"},
    ]
    records = audit(org, member)
    (record,) = held(records)
    assert (record.user_name, record.trigger) == (handles[CAP].user_name, "sweep")
    assert f"the cap AKR_MAX_ACTIONS_PER_ACCOUNT is {CAP}" in record.reason
    result = remediator.sweep_account(member, region="eu-west-1", label="again")
    assert result.breaker_tripped == 1
    assert result.summary()["reported"] == 1


@pytest.mark.usefixtures("as_security_account")
def test_pause_turns_the_next_event_and_sweep_into_report_and_resume_restores(
    org: MotoOrganization, capsys: pytest.CaptureFixture[str]
) -> None:
    member = org.members[0]
    by_event = org.add_user(member, "by-event", OLD)
    by_sweep = org.add_user(org.members[1], "by-sweep", OLD)
    since = datetime(2026, 12, 7, 22, 0, tzinfo=UTC)
    pause = Pause(
        operator="arn:aws:sts::1:assumed-role/ops/alice", reason="incident 42", since=since, record_id="r-1"
    )
    assert control(org).put_pause(pause)

    invoke(event_for(by_event))
    remediator = build_remediator(
        Settings(audit_table=AUDIT_TABLE, state_table=STATE_TABLE),
        org.session(org.security),
        sleep=lambda _: None,
    )
    swept = remediator.sweep_account(org.members[1], region="eu-west-1", label="paused")

    assert org.keys(member, "by-event") == {by_event.key_ids[0]: "Active"}
    assert org.keys(org.members[1], "by-sweep") == {by_sweep.key_ids[0]: "Active"}
    expected = (
        "delete held back: paused by arn:aws:sts::1:assumed-role/ops/alice since 2026-12-07 22:00 UTC "
        "(incident 42; akr pause, record r-1): reported, not changed"
    )
    for account in (member, org.members[1]):
        (record,) = held(audit(org, account))
        assert record.reason.endswith(expected)
    assert swept.paused == 1
    assert swept.breaker_tripped == 0
    assert sum(value(m, "KeysHeldByPause") for m in metrics_of(capsys.readouterr().out)) == 1
    # Nothing was counted while paused.
    assert control(org).count(ORGANIZATION, datetime.now(UTC)) == 0

    assert control(org).delete_pause()
    handler.runtime.cache_clear()
    later = event_for(by_event)  # a later evaluation: the first is answered from the idempotency record
    later["id"] = "resumed"
    later["detail"]["newEvaluationResult"]["resultRecordedTime"] = "2026-12-08T00:00:00.000Z"
    invoke(later)
    remediator.sweep_account(org.members[1], region="eu-west-1", label="resumed")

    assert org.keys(member, "by-event") == {}
    assert org.keys(org.members[1], "by-sweep") == {}
