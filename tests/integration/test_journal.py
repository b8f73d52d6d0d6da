"""The write-ahead journal and the append-only audit log on moto's DynamoDB: each step all or nothing,
a call repeated after a lost reply finds its own writes, and nothing overwrites what another run wrote."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import boto3
import pytest
from moto import mock_aws

from org_bootstrap.demo.simulation import AUDIT_TABLE, STATE_TABLE, create_tables
from remediator.adapters.audit_table import AuditCollisionError, DynamoDBAuditLog
from remediator.adapters.journal import DynamoDBJournal
from remediator.adapters.lifecycle_table import DynamoDBLifecycle
from remediator.audit import AuditRecord, Context, Outcome, Phase, Trigger, record_for_decision
from remediator.decision import Action, Decision
from remediator.errors import TransientError
from remediator.lifecycle import KeyLifecycle, Pending, Stage
from remediator.policy import Mode, Thresholds

NOW = datetime(2026, 11, 28, 12, 0, tzinfo=UTC)
ACCOUNT = "222222222222"
KEY = "AKIAJOURNAL000000001"


@pytest.fixture
def dynamodb() -> Iterator[object]:
    with mock_aws():
        session = boto3.Session(region_name="eu-west-1")
        create_tables(session)
        yield session.client("dynamodb")


def records(dynamodb: object, owner: str) -> tuple[AuditRecord, AuditRecord, KeyLifecycle]:
    context = Context(
        account_id=ACCOUNT, trigger=Trigger.EVENT, event_id=owner, mode=Mode.DELETE, thresholds=Thresholds()
    )
    decision = Decision(
        access_key_id=KEY,
        action=Action.DELETE,
        rules=(),
        reason="created 120 days ago, limit 90",
        key_status="Active",
        key_created_at=NOW - timedelta(days=120),
        key_age_days=120,
        last_used_at=None,
        due_at=None,
    )

    def record(phase: Phase, outcome: Outcome, intent_id: str | None = None) -> AuditRecord:
        return record_for_decision(
            context,
            user_name="alice",
            user_id="AIDAALICE",
            owner=None,
            decision=decision,
            phase=phase,
            outcome=outcome,
            recorded_at=NOW,
            seed=f"{owner}|{phase}",
            intent_id=intent_id,
        )

    intent = record(Phase.INTENT, Outcome.PENDING)
    outcome = record(Phase.OUTCOME, Outcome.DONE, intent.record_id)
    marked = KeyLifecycle(
        account_id=ACCOUNT,
        access_key_id=KEY,
        user_name="alice",
        stage=Stage.DETECTED,
        updated_at=NOW,
        pending=Pending(
            action=Action.DELETE,
            intent_id=intent.record_id,
            owner=owner,
            since=NOW,
            user_id="AIDAALICE",
            reason="r",
        ),
    )
    return intent, outcome, marked


def journal(dynamodb: object, now: datetime = NOW) -> DynamoDBJournal:
    return DynamoDBJournal(
        client=dynamodb,  # type: ignore[arg-type]
        audit_table=AUDIT_TABLE,
        state_table=STATE_TABLE,
        clock=lambda: now,
    )


def audit(dynamodb: object) -> list[AuditRecord]:
    return DynamoDBAuditLog(client=dynamodb, table_name=AUDIT_TABLE).for_account(ACCOUNT, newest_first=False)  # type: ignore[arg-type]


def lifecycle(dynamodb: object) -> KeyLifecycle:
    return DynamoDBLifecycle(client=dynamodb, table_name=STATE_TABLE).for_account(ACCOUNT)[KEY]  # type: ignore[arg-type]


def test_begin_then_settle(dynamodb: object) -> None:
    intent, outcome, marked = records(dynamodb, "event-1")
    assert journal(dynamodb).begin(intent, marked, owner="event-1")
    assert audit(dynamodb) == [intent]
    assert lifecycle(dynamodb).pending == marked.pending
    settled = marked.moved(Stage.DELETED, NOW, "done", pending=None, deleted_at=NOW)
    journal(dynamodb).settle(outcome, settled, owner="event-1")
    assert audit(dynamodb) == sorted([intent, outcome], key=lambda r: r.record_id)
    assert lifecycle(dynamodb) == settled
    claim = dynamodb.get_item(  # type: ignore[attr-defined]
        TableName=STATE_TABLE, Key={"pk": {"S": f"claim#{ACCOUNT}"}, "sk": {"S": KEY}}
    )["Item"]
    assert (claim["owner"]["S"], claim["state"]["S"]) == ("event-1", "finished")


def test_a_key_claimed_by_another_run_is_not_begun_and_nothing_is_written(dynamodb: object) -> None:
    first, _, first_marked = records(dynamodb, "event-1")
    assert journal(dynamodb).begin(first, first_marked, owner="event-1")
    second, _, second_marked = records(dynamodb, "event-2")
    assert not journal(dynamodb, NOW + timedelta(minutes=1)).begin(second, second_marked, owner="event-2")
    assert audit(dynamodb) == [first]
    assert lifecycle(dynamodb).pending == first_marked.pending


def test_a_run_that_holds_a_lapsed_claim_must_settle_the_open_intent_first(dynamodb: object) -> None:
    first, _, first_marked = records(dynamodb, "event-1")
    assert journal(dynamodb).begin(first, first_marked, owner="event-1")
    second, _, second_marked = records(dynamodb, "sweep-1")
    later = journal(dynamodb, NOW + timedelta(hours=1))
    with pytest.raises(TransientError, match="carries an open intent of another run"):
        later.begin(second, second_marked, owner="sweep-1")
    assert audit(dynamodb) == [first]


def test_begin_and_settle_repeated_after_a_lost_reply_find_their_own_writes(dynamodb: object) -> None:
    intent, outcome, marked = records(dynamodb, "event-1")
    assert journal(dynamodb).begin(intent, marked, owner="event-1")
    assert journal(dynamodb).begin(intent, marked, owner="event-1")
    settled = marked.moved(Stage.DELETED, NOW, "done", pending=None, deleted_at=NOW)
    journal(dynamodb).settle(outcome, settled, owner="event-1")
    journal(dynamodb).settle(outcome, settled, owner="event-1")
    assert audit(dynamodb) == sorted([intent, outcome], key=lambda r: r.record_id)


def test_an_outcome_only_settles_its_own_intent(dynamodb: object) -> None:
    intent, _, marked = records(dynamodb, "event-1")
    assert journal(dynamodb).begin(intent, marked, owner="event-1")
    _, stranger, _ = records(dynamodb, "event-2")
    with pytest.raises(TransientError, match=r"the intent \S+ was settled by another run meanwhile"):
        journal(dynamodb).settle(stranger, marked.model_copy(update={"pending": None}), owner="event-1")
    assert lifecycle(dynamodb).pending == marked.pending
    assert audit(dynamodb) == [intent]


def test_a_stage_update_leaves_the_mark_alone(dynamodb: object) -> None:
    intent, _, marked = records(dynamodb, "event-1")
    assert journal(dynamodb).begin(intent, marked, owner="event-1")
    warned = marked.model_copy(update={"pending": None}).moved(Stage.WARNED, NOW, "warned", warned_at=NOW)
    DynamoDBLifecycle(client=dynamodb, table_name=STATE_TABLE).save(warned)  # type: ignore[arg-type]
    stored = lifecycle(dynamodb)
    assert (stored.stage, stored.warned_at, stored.pending) == (Stage.WARNED, NOW, marked.pending)


def test_an_audit_record_appended_twice_is_one_record_and_a_different_one_under_its_id_is_refused(
    dynamodb: object,
) -> None:
    log = DynamoDBAuditLog(client=dynamodb, table_name=AUDIT_TABLE)  # type: ignore[arg-type]
    intent, _, _ = records(dynamodb, "event-1")
    log.append(intent)
    log.append(intent)
    assert audit(dynamodb) == [intent]
    forged = intent.model_copy(update={"decision": "none", "reason": "nothing to see"})
    with pytest.raises(
        AuditCollisionError, match=f"record {intent.record_id} of {ACCOUNT} exists with other content"
    ):
        log.append(forged)
    assert audit(dynamodb) == [intent]
