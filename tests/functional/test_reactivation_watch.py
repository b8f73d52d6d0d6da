"""The reactivation watcher against moto DynamoDB: a forwarded `UpdateAccessKey Status=Active` is explained
only by an `akr undo` record of the same account, key, user and session name within the window; anything
else is logged and counted in UnexplainedReactivations. It never writes.

moto does not deliver CloudTrail events to EventBridge (docs/aws-compatibility.md): the events are the
sample of tests/events/, edited; tests/e2e/test_sweep_undo.py builds one from a real `akr undo`."""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, cast

import boto3
import pytest
from aws_lambda_powertools.utilities.typing import LambdaContext
from moto import mock_aws

from org_bootstrap.demo.simulation import AUDIT_TABLE, create_tables
from remediator import reactivation_handler
from remediator.adapters.audit_table import BY_ACCESS_KEY, DynamoDBAuditLog
from remediator.audit import AuditRecord, Context, Outcome, Phase, Trigger, record_for_decision
from remediator.decision import Action, Decision
from remediator.policy import Mode, Thresholds
from remediator.reactivation_watch import MATCH_WINDOW
from tests.fixtures import load_event
from tests.integration.lambda_context import FakeLambdaContext

REGION = "eu-west-1"
ACCOUNT = "222222222222"
OTHER_ACCOUNT = "333333333333"
KEY = "AKIAEXAMPLEKEY000001"
OTHER_KEY = "AKIAEXAMPLEKEY000002"
USER = "alice"
SESSION = f"akr-undo-{KEY}"
OPERATOR = "arn:aws:sts::222222222222:assumed-role/Operator/jane"
OPERATOR_ROLE = "OrganizationAccountAccessRole"
EVENT_TIME = datetime.fromisoformat("2026-11-20T09:02:04+00:00")


@dataclass(frozen=True)
class Table:
    audit: DynamoDBAuditLog
    calls: list[tuple[str, dict[str, Any]]]
    """Every DynamoDB call the watcher made, with its parameters."""


@pytest.fixture
def table() -> Iterator[Table]:
    with mock_aws():
        session = boto3.Session(region_name=REGION)
        create_tables(session)
        client = session.client("dynamodb")
        calls: list[tuple[str, dict[str, Any]]] = []
        client.meta.events.register(
            "before-parameter-build.dynamodb",
            lambda params, model, **_: calls.append((model.name, dict(params))),
        )
        yield Table(DynamoDBAuditLog(client=client, table_name=AUDIT_TABLE), calls)


def undo_record(
    phase: Phase,
    at: datetime,
    *,
    account: str = ACCOUNT,
    key: str = KEY,
    user: str = USER,
    session: str | None = SESSION,
    action: Action = Action.REACTIVATE,
) -> AuditRecord:
    """A record as remediator/undo.py writes it (its intent before the IAM call, its outcome after)."""
    context = Context(
        account_id=account,
        trigger=Trigger.CLI,
        event_id=f"undo-{key}",
        role_session_name=session,
        operator=OPERATOR,
        mode=Mode.STAGED,
        thresholds=Thresholds(),
    )
    decision = Decision(
        access_key_id=key,
        action=action,
        rules=(),
        reason="undo by the operator",
        key_status="Inactive",
        key_created_at=at - timedelta(days=120),
        key_age_days=120,
        last_used_at=None,
        due_at=None,
    )
    return record_for_decision(
        context,
        user_name=user,
        user_id="AIDAEXAMPLEUSERID0001",
        owner=None,
        decision=decision,
        phase=phase,
        outcome=Outcome.PENDING if phase is Phase.INTENT else Outcome.DONE,
        recorded_at=at,
        seed=f"{key}|{phase}|{at.isoformat()}",
    )


def reactivation(*, role: str = OPERATOR_ROLE, session: str = SESSION) -> dict[str, Any]:
    """CloudTrail's record of the call, forwarded: by `role`'s session `session`, at EVENT_TIME."""
    event = load_event("cloudtrail_update_access_key_active")
    identity = event["detail"]["userIdentity"]
    identity["arn"] = f"arn:aws:sts::{ACCOUNT}:assumed-role/{role}/{session}"
    issuer = identity["sessionContext"]["sessionIssuer"]
    issuer["arn"], issuer["userName"] = f"arn:aws:iam::{ACCOUNT}:role/{role}", role
    return event


class Lines(logging.Handler):
    """The watcher's log records, as the JSON lines would carry them: message, level and the extra keys."""

    def __init__(self) -> None:
        super().__init__()
        self.lines: list[dict[str, Any]] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append({**record.__dict__, "message": record.getMessage(), "level": record.levelname})


def invoke(table: Table, event: Any, capsys: pytest.CaptureFixture[str]) -> tuple[dict[str, Any], Any]:
    """The handler's answer, the values it emitted for UnexplainedReactivations (embedded metric format on
    stdout), and its log records."""
    captured = Lines()
    underlying = logging.getLogger(reactivation_handler.logger.name)
    underlying.addHandler(captured)
    original = reactivation_handler.runtime
    reactivation_handler.runtime = lambda: table.audit  # type: ignore[assignment]
    try:
        answer = reactivation_handler.lambda_handler(event, cast(LambdaContext, FakeLambdaContext()))
    finally:
        reactivation_handler.runtime = original
        underlying.removeHandler(captured)
    printed = [json.loads(line) for line in capsys.readouterr().out.splitlines() if '"_aws"' in line]
    metrics = [m["UnexplainedReactivations"] for m in printed]
    return answer, (metrics, captured.lines)


def put(table: Table, *records: AuditRecord) -> None:
    for record in records:
        table.audit.append(record)
    table.calls.clear()


def test_an_undo_with_its_records_is_explained_and_counts_nothing(
    table: Table, capsys: pytest.CaptureFixture[str]
) -> None:
    intent = undo_record(Phase.INTENT, EVENT_TIME - timedelta(seconds=2))
    put(table, intent, undo_record(Phase.OUTCOME, EVENT_TIME + timedelta(seconds=1)))
    answer, (metrics, logs) = invoke(table, reactivation(), capsys)
    assert answer == {"status": "explained", "record_id": intent.record_id}
    assert metrics == [[0.0]]
    (line,) = [log for log in logs if log["message"] == "key made active by akr undo"]
    assert (line["level"], line["operator"], line["access_key_id"]) == ("INFO", OPERATOR, KEY)
    # One query of the key's index over the window, nothing else (what ReactivationWatchRole grants).
    assert [(name, params.get("IndexName")) for name, params in table.calls] == [("Query", BY_ACCESS_KEY)]


@pytest.mark.parametrize(
    "offset",
    [MATCH_WINDOW, -MATCH_WINDOW, MATCH_WINDOW - timedelta(seconds=1)],
    ids=["window after", "window before", "just inside"],
)
def test_a_record_at_the_edge_of_the_window_explains_the_call(
    table: Table, capsys: pytest.CaptureFixture[str], offset: timedelta
) -> None:
    put(table, undo_record(Phase.OUTCOME, EVENT_TIME + offset))
    answer, (metrics, _) = invoke(table, reactivation(), capsys)
    assert answer["status"] == "explained"
    assert metrics == [[0.0]]


def test_the_member_role_making_a_key_active_is_unexplained_and_alarmed(
    table: Table, capsys: pytest.CaptureFixture[str]
) -> None:
    # No undo record at all: the member role never reactivates (undo goes through the operator's role).
    answer, (metrics, logs) = invoke(table, load_event("cloudtrail_update_access_key_active"), capsys)
    assert answer["status"] == "unexplained"
    assert metrics == [[1.0]]
    (line,) = [log for log in logs if log["message"] == "key made active without an akr undo record"]
    assert line["level"] == "ERROR"
    assert (line["account_id"], line["access_key_id"], line["user_name"], line["role"]) == (
        ACCOUNT,
        KEY,
        USER,
        f"arn:aws:iam::{ACCOUNT}:role/AccessKeyRemediationRole",
    )


def later(delta: timedelta) -> AuditRecord:
    return undo_record(Phase.OUTCOME, EVENT_TIME + delta)


@pytest.mark.parametrize(
    "record",
    [
        undo_record(Phase.OUTCOME, EVENT_TIME, account=OTHER_ACCOUNT),
        undo_record(Phase.OUTCOME, EVENT_TIME, key=OTHER_KEY),
        undo_record(Phase.OUTCOME, EVENT_TIME, user="bob"),
        undo_record(Phase.OUTCOME, EVENT_TIME, session="akr-undo-AKIAEXAMPLEKEY000009"),
        undo_record(Phase.OUTCOME, EVENT_TIME, session=None),
        undo_record(Phase.OUTCOME, EVENT_TIME, action=Action.DEACTIVATE),
        later(MATCH_WINDOW + timedelta(milliseconds=1)),
        later(-MATCH_WINDOW - timedelta(milliseconds=1)),
        later(-timedelta(days=3)),
    ],
    ids=[
        "another account",
        "another key",
        "another user",
        "another session name",
        "no session name",
        "a deactivation",
        "just after the window",
        "just before the window",
        "an older undo of the same key",
    ],
)
def test_a_record_of_anything_else_explains_nothing(
    table: Table, capsys: pytest.CaptureFixture[str], record: AuditRecord
) -> None:
    put(table, record)
    answer, (metrics, _) = invoke(table, reactivation(), capsys)
    assert answer["status"] == "unexplained"
    assert metrics == [[1.0]]


def test_an_undo_record_does_not_explain_the_member_role_using_its_session_name(
    table: Table, capsys: pytest.CaptureFixture[str]
) -> None:
    # akr undo never acts through the member role. The remediator, which does, may append audit records:
    # an undo record matching its call in every field, session name included, still explains nothing.
    put(table, undo_record(Phase.INTENT, EVENT_TIME))
    answer, _ = invoke(table, reactivation(role="AccessKeyRemediationRole", session=SESSION), capsys)
    assert answer["status"] == "unexplained"


@pytest.mark.parametrize(
    ("edit", "reason"),
    [
        (
            lambda e: e.update(account="999999999999"),
            "event rejected: envelope account 999999999999 differs from detail.recipientAccountId "
            "222222222222",
        ),
        (
            lambda e: e.pop("account"),
            "event rejected: the envelope account is missing: EventBridge always sets it, so this event did "
            "not come through the bus",
        ),
        (
            lambda e: e["detail"]["requestParameters"].update(status="Inactive"),
            "event rejected: detail.requestParameters.status: Input should be 'Active'",
        ),
        (
            lambda e: e["detail"].pop("eventTime"),
            "event rejected: detail.eventTime: Field required",
        ),
    ],
    ids=["forged account", "no envelope account", "a deactivation", "no event time"],
)
def test_a_malformed_event_is_answered_counted_as_unexplained_and_makes_no_call(
    table: Table, capsys: pytest.CaptureFixture[str], edit: Any, reason: str
) -> None:
    event = reactivation()
    edit(event)
    answer, (metrics, logs) = invoke(table, event, capsys)
    assert answer == {"status": "rejected", "reason": reason}
    assert metrics == [[1.0]]
    assert [log["reason"] for log in logs if log["level"] == "ERROR"] == [reason]
    assert table.calls == []


def test_an_unreadable_audit_log_counts_the_call_as_unexplained(
    table: Table, capsys: pytest.CaptureFixture[str]
) -> None:
    # Rather than Lambda's two retries and a dropped event: the alarm fires, the log names the call.
    missing = DynamoDBAuditLog(client=table.audit._client, table_name="no-such-table")
    answer, (metrics, logs) = invoke(Table(missing, table.calls), reactivation(), capsys)
    assert answer["status"] == "unchecked"
    assert "ResourceNotFoundException" in answer["error"]
    assert metrics == [[1.0]]
    assert any(log["message"].startswith("audit log unreadable") for log in logs)


def test_the_watcher_writes_nothing(table: Table, capsys: pytest.CaptureFixture[str]) -> None:
    put(table, undo_record(Phase.OUTCOME, EVENT_TIME))
    invoke(table, reactivation(), capsys)
    invoke(table, load_event("cloudtrail_update_access_key_active"), capsys)
    assert {name for name, _ in table.calls} == {"Query"}
