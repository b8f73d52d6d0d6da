"""The sweep function on moto: one message per active account on the queue, whether Organizations answers
with State, Status or both, and an error with its own metric when it lists no ACTIVE account; and the
notice a warning sends through SNS."""

from __future__ import annotations

import gzip
import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import cast

import boto3
import botocore
import pytest
from aws_lambda_powertools.utilities.typing import LambdaContext
from botocore.stub import Stubber

from org_bootstrap.demo.simulation import AUDIT_TABLE, STATE_TABLE, KeySpec, MotoOrganization
from remediator import sweep_handler
from remediator.adapters.organization import NoActiveAccountsError, active_accounts
from remediator.composition import build_remediator
from remediator.policy import Mode
from remediator.settings import Settings
from tests.integration.lambda_context import FakeLambdaContext


@pytest.fixture
def queue(org: MotoOrganization, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    # moto keeps an organization in its management account's backend only: a delegated administrator's
    # ListAccounts sees nothing there. The function runs with the management account's credentials here;
    # test_active_accounts_pages_and_keeps_only_active_ones covers the call itself.
    session = org.session(org.management)
    url = session.client("sqs").create_queue(QueueName="akr-sweep")["QueueUrl"]
    credentials = session.get_credentials()
    assert credentials is not None
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", credentials.access_key)
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", credentials.secret_key)
    monkeypatch.setenv("AWS_SESSION_TOKEN", credentials.token or "")
    monkeypatch.setenv("AKR_AUDIT_TABLE", AUDIT_TABLE)
    monkeypatch.setenv("AKR_STATE_TABLE", STATE_TABLE)
    monkeypatch.setenv("AKR_SWEEP_QUEUE_URL", url)
    sweep_handler.settings.cache_clear()
    yield url
    sweep_handler.settings.cache_clear()


def test_one_message_per_active_account(org: MotoOrganization, queue: str) -> None:
    result = sweep_handler.lambda_handler({"id": "schedule-1"}, cast(LambdaContext, FakeLambdaContext()))
    accounts = {org.management, org.security, *org.members}
    assert result == {"status": "queued", "run_id": "schedule-1", "accounts": len(accounts)}
    sqs = org.session(org.management).client("sqs")
    bodies = []
    while messages := sqs.receive_message(QueueUrl=queue, MaxNumberOfMessages=10).get("Messages", []):
        bodies += [json.loads(m["Body"]) for m in messages]
        sqs.delete_message_batch(
            QueueUrl=queue,
            Entries=[{"Id": m["MessageId"], "ReceiptHandle": m["ReceiptHandle"]} for m in messages],
        )
    assert sorted(bodies, key=lambda b: b["account_id"]) == [
        {"account_id": account, "run_id": "schedule-1"} for account in sorted(accounts)
    ]


@pytest.mark.parametrize(("mode", "swept"), [("off", False), ("report", True), ("enforce", True)])
def test_the_management_account_is_queued_unless_it_is_off(
    org: MotoOrganization, queue: str, monkeypatch: pytest.MonkeyPatch, mode: str, swept: bool
) -> None:
    monkeypatch.setenv("AKR_MANAGEMENT_ACCOUNT_ID", org.management)
    monkeypatch.setenv("AKR_MANAGEMENT_ACCOUNT_MODE", mode)
    result = sweep_handler.lambda_handler({"id": "schedule-2"}, cast(LambdaContext, FakeLambdaContext()))
    others = {org.security, *org.members}
    assert result["accounts"] == len(others) + swept
    sqs = org.session(org.management).client("sqs")
    queued = set()
    while messages := sqs.receive_message(QueueUrl=queue, MaxNumberOfMessages=10).get("Messages", []):
        queued |= {json.loads(m["Body"])["account_id"] for m in messages}
        sqs.delete_message_batch(
            QueueUrl=queue,
            Entries=[{"Id": m["MessageId"], "ReceiptHandle": m["ReceiptHandle"]} for m in messages],
        )
    assert queued == (others | {org.management} if swept else others)


def test_a_warning_reaches_the_topic_with_what_the_owner_needs(org: MotoOrganization) -> None:
    session = org.session(org.security)
    topic = session.client("sns").create_topic(Name="akr-notices")["TopicArn"]
    inbox = session.client("sqs").create_queue(QueueName="inbox")["QueueUrl"]
    inbox_arn = session.client("sqs").get_queue_attributes(QueueUrl=inbox, AttributeNames=["QueueArn"])
    session.client("sns").subscribe(
        TopicArn=topic,
        Protocol="sqs",
        Endpoint=inbox_arn["Attributes"]["QueueArn"],
        Attributes={"RawMessageDelivery": "true"},
    )
    member = org.members[0]
    soon = org.add_user(
        member, "soon", KeySpec(age_days=85, used_days_ago=1), tags={"owner": "team-a@example.com"}
    )
    settings = Settings(
        audit_table=AUDIT_TABLE,
        state_table=STATE_TABLE,
        mode=Mode.DEACTIVATE,
        warn_days_before=7,
        notification_topic_arn=topic,
    )
    remediator = build_remediator(settings, session, sleep=lambda _: None)
    assert remediator.sweep_account(member, region="eu-west-1", label="w1").summary()["warned"] == 1
    assert remediator.sweep_account(member, region="eu-west-1", label="w2").summary()["warned"] == 1

    messages = (
        session.client("sqs").receive_message(QueueUrl=inbox, MaxNumberOfMessages=10).get("Messages", [])
    )
    (message,) = messages  # once per key and due date
    (action,) = json.loads(message["Body"])["actions"]
    assert action["account_id"] == member
    assert action["user_name"] == "soon"
    assert action["access_key_id"] == soon.key_ids[0]
    assert action["owner"] == "team-a@example.com"
    assert action["planned_action"] == "deactivate"
    due = datetime.fromisoformat(action["due_at"])
    assert abs(due - (datetime.now(UTC) + timedelta(days=5))) < timedelta(minutes=5)
    assert org.keys(member, "soon") == {soon.key_ids[0]: "Active"}


def models_without(tmp_path: Path, *fields: str) -> Path:
    """A data path whose Organizations model lacks `fields` in Account, as an older botocore's does (it
    parses only what its model names, so the fields vanish from every answer)."""
    shipped = Path(botocore.__file__).parent / "data" / "organizations" / "2016-11-28"
    source = next(shipped.glob("service-2.json*"))
    raw = gzip.decompress(source.read_bytes()) if source.suffix == ".gz" else source.read_bytes()
    model = json.loads(raw)
    for name in fields:
        del model["shapes"]["Account"]["members"][name]
    target = tmp_path / "organizations" / "2016-11-28"
    target.mkdir(parents=True)
    (target / "service-2.json").write_text(json.dumps(model))
    return tmp_path


@pytest.mark.parametrize(
    "gone",
    ["Status", "State"],
    ids=["State alone, as after 9 September 2026", "Status alone, as an SDK that does not model State"],
)
def test_every_active_account_is_queued_from_either_field(
    org: MotoOrganization, queue: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, gone: str
) -> None:
    monkeypatch.setenv("AWS_DATA_PATH", str(models_without(tmp_path, gone)))
    result = sweep_handler.lambda_handler({"id": "schedule-2"}, cast(LambdaContext, FakeLambdaContext()))
    assert result["accounts"] == len({org.management, org.security, *org.members})


def test_no_active_account_fails_the_sweep_with_its_own_metric(
    org: MotoOrganization,
    queue: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    # An SDK that models neither field: every account comes back without a state.
    monkeypatch.setenv("AWS_DATA_PATH", str(models_without(tmp_path, "State", "Status")))
    with pytest.raises(NoActiveAccountsError) as raised:
        sweep_handler.lambda_handler({"id": "schedule-4"}, cast(LambdaContext, FakeLambdaContext()))
    assert str(raised.value) == (
        "organizations:ListAccounts listed no ACTIVE account (accounts listed: 4 no State or Status): "
        "nothing swept"
    )
    emitted = [json.loads(line) for line in capsys.readouterr().out.splitlines() if '"_aws"' in line]
    (metrics,) = [m for m in emitted if "SweepFoundNoAccounts" in m]
    assert metrics["SweepFoundNoAccounts"] == [1.0]
    assert metrics["service"] == "access-key-remediation"
    sqs = org.session(org.management).client("sqs")
    assert "Messages" not in sqs.receive_message(QueueUrl=queue, MaxNumberOfMessages=10)


def account(account_id: str, **states: str) -> dict[str, object]:
    return {
        "Id": account_id,
        "Arn": f"arn:aws:organizations::111111111111:account/o-abcdefghij/{account_id}",
        "Email": f"{account_id}@example.com",
        "Name": account_id,
        **states,
        "JoinedMethod": "CREATED",
        "JoinedTimestamp": datetime(2025, 1, 1, tzinfo=UTC),
    }


def test_active_accounts_pages_and_keeps_only_active_ones() -> None:
    organizations = boto3.Session(region_name="eu-west-1").client("organizations")
    with Stubber(organizations) as stub:
        stub.add_response(
            "list_accounts",
            {
                "Accounts": [
                    account("222222222222", Status="ACTIVE", State="ACTIVE"),
                    account("333333333333", Status="SUSPENDED", State="SUSPENDED"),
                    account("555555555555", State="PENDING_CLOSURE"),
                    account("666666666666", State="CLOSED"),
                ],
                "NextToken": "n",
            },
            {},
        )
        stub.add_response(
            "list_accounts",
            {"Accounts": [account("444444444444", State="ACTIVE"), account("777777777777", Status="ACTIVE")]},
            {"NextToken": "n"},
        )
        assert active_accounts(organizations) == ["222222222222", "444444444444", "777777777777"]


def test_state_wins_over_status_when_they_differ() -> None:
    organizations = boto3.Session(region_name="eu-west-1").client("organizations")
    with Stubber(organizations) as stub:
        stub.add_response(
            "list_accounts",
            {
                "Accounts": [
                    account("222222222222", Status="ACTIVE", State="ACTIVE"),
                    account("333333333333", Status="ACTIVE", State="PENDING_CLOSURE"),
                ]
            },
            {},
        )
        assert active_accounts(organizations) == ["222222222222"]


def test_no_active_account_names_what_was_listed() -> None:
    organizations = boto3.Session(region_name="eu-west-1").client("organizations")
    with Stubber(organizations) as stub:
        stub.add_response(
            "list_accounts",
            {
                "Accounts": [
                    account("333333333333", State="SUSPENDED"),
                    account("444444444444", State="CLOSED"),
                ]
            },
            {},
        )
        with pytest.raises(NoActiveAccountsError) as raised:
            active_accounts(organizations)
    assert str(raised.value) == (
        "organizations:ListAccounts listed no ACTIVE account (accounts listed: 1 CLOSED, 1 SUSPENDED): "
        "nothing swept"
    )
