"""The state table's adapters on moto: claims on keys and central exemptions."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING

import boto3
import pytest
from botocore.exceptions import ClientError
from moto import mock_aws

from org_bootstrap.demo.simulation import STATE_TABLE, create_tables
from org_bootstrap.deploy.exemption_links import unlinked_exemptions
from remediator.adapters.claims import CLAIM_TTL, DynamoDBClaims, finish_params
from remediator.adapters.exemption_table import DynamoDBExemptions
from remediator.exemptions import Exemption

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient

ACCOUNT = "222222222222"
NOW = datetime(2026, 11, 28, 12, 0, tzinfo=UTC)


@pytest.fixture
def dynamodb() -> Iterator[DynamoDBClient]:
    with mock_aws():
        session = boto3.Session(region_name="eu-west-1")
        create_tables(session)
        yield session.client("dynamodb")


def test_claims_hold_one_owner_until_they_lapse(dynamodb: DynamoDBClient) -> None:
    now = [NOW]
    claims = DynamoDBClaims(client=dynamodb, table_name=STATE_TABLE, clock=lambda: now[0])
    assert claims.claim(ACCOUNT, "AKIAEXAMPLEKEY00001", "delete", owner="event-a")
    assert not claims.claim(ACCOUNT, "AKIAEXAMPLEKEY00001", "delete", owner="event-b")
    assert claims.claim(ACCOUNT, "AKIAEXAMPLEKEY00001", "delete", owner="event-a"), "a retry keeps its claim"
    assert not claims.claim(ACCOUNT, "AKIAEXAMPLEKEY00001", "reactivate", owner="event-b"), "any action"
    assert claims.claim(ACCOUNT, "AKIAEXAMPLEKEY00002", "delete", owner="event-b"), "another key"
    now[0] = NOW + CLAIM_TTL + timedelta(seconds=1)
    assert claims.claim(ACCOUNT, "AKIAEXAMPLEKEY00001", "delete", owner="event-b"), "a lapsed claim"


def test_exemptions_round_trip(dynamodb: DynamoDBClient) -> None:
    store = DynamoDBExemptions(client=dynamodb, table_name=STATE_TABLE)
    exemption = Exemption(
        account_id=ACCOUNT,
        user_name="ci",
        access_key_id="AKIAEXAMPLEKEY00001",
        reason="migration",
        owner="platform",
        expires_at=NOW + timedelta(days=3),
    )
    store.put(exemption)
    assert store.for_account(ACCOUNT) == [exemption]
    assert store.for_account("333333333333") == []
    linked = exemption.model_copy(update={"record_id": "2026-11-28T12:00:00.000Z#0123456789abcdef"})
    store.put(linked)
    assert store.for_account(ACCOUNT) == [linked]


@pytest.mark.parametrize(
    "broken",
    [
        {"user_name": None},  # would otherwise read as a wildcard: fail closed
        {"expires_at": "2026-12-01T00:00:00"},  # naive time
        {"reason": None},
    ],
    ids=["no-user", "naive-expiry", "no-reason"],
)
def test_invalid_exemption_items_exempt_nobody_and_break_nothing(
    dynamodb: DynamoDBClient, broken: dict[str, str | None], caplog: pytest.LogCaptureFixture
) -> None:
    item = {
        "pk": f"exemption#{ACCOUNT}",
        "sk": "ci#*",
        "account_id": ACCOUNT,
        "user_name": "ci",
        "reason": "migration",
        "owner": "platform",
        "expires_at": "2026-12-01T00:00:00+00:00",
    } | broken
    dynamodb.put_item(TableName=STATE_TABLE, Item={k: {"S": v} for k, v in item.items() if v is not None})
    assert DynamoDBExemptions(client=dynamodb, table_name=STATE_TABLE).for_account(ACCOUNT) == []
    assert "invalid exemption ignored" in caplog.text


def test_an_undo_may_take_over_a_finished_claim_but_a_run_may_not(dynamodb: DynamoDBClient) -> None:
    claims = DynamoDBClaims(client=dynamodb, table_name=STATE_TABLE, clock=lambda: NOW)
    assert claims.claim(ACCOUNT, "AKIAEXAMPLEKEY00001", "deactivate", owner="sweep-a")
    assert not claims.claim(ACCOUNT, "AKIAEXAMPLEKEY00001", "reactivate", owner="undo", after_finished=True)
    dynamodb.update_item(TableName=STATE_TABLE, **finish_params(ACCOUNT, "AKIAEXAMPLEKEY00001", "sweep-a"))
    # A run that read the key before the deactivation still stands aside until the claim lapses...
    assert not claims.claim(ACCOUNT, "AKIAEXAMPLEKEY00001", "deactivate", owner="event-b")
    # ...while an operator's undo need not wait.
    assert claims.claim(ACCOUNT, "AKIAEXAMPLEKEY00001", "reactivate", owner="undo", after_finished=True)
    with pytest.raises(ClientError, match="ConditionalCheckFailed"):  # not the holder: refused
        dynamodb.update_item(
            TableName=STATE_TABLE, **finish_params(ACCOUNT, "AKIAEXAMPLEKEY00001", "someone-else")
        )
    assert not claims.claim(ACCOUNT, "AKIAEXAMPLEKEY00001", "reactivate", owner="undo-2", after_finished=True)


def test_an_exemption_is_deleted_by_user_and_key(dynamodb: DynamoDBClient) -> None:
    store = DynamoDBExemptions(client=dynamodb, table_name=STATE_TABLE)
    whole_user = Exemption(
        account_id=ACCOUNT, user_name="ci", reason="migration", owner="platform", expires_at=NOW
    )
    one_key = whole_user.model_copy(update={"access_key_id": "AKIAEXAMPLEKEY00001"})
    store.put(whole_user)
    store.put(one_key)
    assert not store.delete(ACCOUNT, "ci", "AKIAEXAMPLEKEY00002"), "no such exemption"
    assert not store.delete("333333333333", "ci", None), "another account"
    assert store.delete(ACCOUNT, "ci", None)
    assert store.for_account(ACCOUNT) == [one_key]
    assert not store.delete(ACCOUNT, "ci", None), "already gone"


def test_the_deploy_finds_the_exemptions_in_force_without_their_record(dynamodb: DynamoDBClient) -> None:
    store = DynamoDBExemptions(client=dynamodb, table_name=STATE_TABLE)
    base = Exemption(
        account_id=ACCOUNT, user_name="ci", reason="r", owner="o", expires_at=NOW + timedelta(days=3)
    )
    store.put(base)
    store.put(base.model_copy(update={"user_name": "*", "account_id": "333333333333"}))
    store.put(base.model_copy(update={"user_name": "linked", "record_id": "2026-11-28T12:00:00.000Z#01"}))
    store.put(base.model_copy(update={"user_name": "expired", "expires_at": NOW - timedelta(seconds=1)}))
    DynamoDBClaims(client=dynamodb, table_name=STATE_TABLE, clock=lambda: NOW).claim(
        ACCOUNT, "AKIAEXAMPLEKEY00001", "delete", owner="event-a"
    )
    assert unlinked_exemptions(dynamodb, STATE_TABLE, now=NOW) == (f"{ACCOUNT} ci#*", "333333333333 *#*")
