"""The one-request read of an account's exemptions and key lifecycles (remediator.adapters.account_state).

It reads the items the two Query adapters read, in the layout they are written in: nothing in a deployed
table changes, and an exemption written before the upgrade protects its key after it. moto does not page
ExecuteStatement (no NextToken, Limit ignored), so the paging is tested on a botocore Stubber.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

import boto3
import pytest
from boto3.dynamodb.types import TypeSerializer
from botocore.stub import Stubber
from moto import mock_aws

from org_bootstrap.demo.simulation import STATE_TABLE, create_tables
from remediator.adapters.account_state import DynamoDBAccountState
from remediator.adapters.claims import DynamoDBClaims
from remediator.adapters.exemption_table import DynamoDBExemptions
from remediator.adapters.lifecycle_table import DynamoDBLifecycle, key_of
from remediator.errors import PermanentError
from remediator.exemptions import Exemption
from remediator.lifecycle import KeyLifecycle, Stage

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient

ACCOUNT = "222222222222"
OTHER = "333333333333"
NOW = datetime(2026, 11, 28, 12, 0, tzinfo=UTC)
STATEMENT = f'SELECT * FROM "{STATE_TABLE}" WHERE "pk" = ? OR "pk" = ?'  # noqa: S608


@pytest.fixture
def dynamodb() -> Iterator[DynamoDBClient]:
    with mock_aws():
        session = boto3.Session(region_name="eu-west-1")
        create_tables(session)
        yield session.client("dynamodb")


def exemption(account_id: str, user_name: str, key: str | None = None) -> Exemption:
    return Exemption(
        account_id=account_id,
        user_name=user_name,
        access_key_id=key,
        reason="vendor integration",
        owner="ops@example.com",
        expires_at=NOW + timedelta(days=10),
    )


def lifecycle(account_id: str, key: str, stage: Stage = Stage.DETECTED) -> KeyLifecycle:
    return KeyLifecycle(
        account_id=account_id,
        access_key_id=key,
        user_name="alice",
        stage=stage,
        detected_at=NOW,
        updated_at=NOW,
    )


def test_one_read_answers_what_the_two_queries_answer(dynamodb: DynamoDBClient) -> None:
    exemptions = DynamoDBExemptions(client=dynamodb, table_name=STATE_TABLE)
    lifecycles = DynamoDBLifecycle(client=dynamodb, table_name=STATE_TABLE)
    # Items as every earlier release wrote them, of this account, of another, and of other partitions.
    for item in (exemption(ACCOUNT, "ci"), exemption(ACCOUNT, "alice", "AKIAEXAMPLEKEY00001")):
        exemptions.put(item)
    exemptions.put(exemption(OTHER, "ci"))
    lifecycles.save(lifecycle(ACCOUNT, "AKIAEXAMPLEKEY00001"))
    lifecycles.save(lifecycle(ACCOUNT, "AKIAEXAMPLEKEY00002", Stage.DEACTIVATED))
    lifecycles.save(lifecycle(OTHER, "AKIAEXAMPLEKEY00003"))
    DynamoDBClaims(client=dynamodb, table_name=STATE_TABLE, clock=lambda: NOW).claim(
        ACCOUNT, "AKIAEXAMPLEKEY00001", "delete", owner="event-a"
    )
    # A broken exemption is read and rejected (fail closed, reported), as by the Query.
    dynamodb.put_item(
        TableName=STATE_TABLE,
        Item={"pk": {"S": f"exemption#{ACCOUNT}"}, "sk": {"S": "bob#*"}, "user_name": {"S": "bob"}},
    )

    read, found = DynamoDBAccountState(client=dynamodb, table_name=STATE_TABLE).read(ACCOUNT)

    alone = exemptions.read(ACCOUNT)
    assert sorted(read.valid, key=lambda e: e.user_name) == sorted(alone.valid, key=lambda e: e.user_name)
    assert {e.user_name for e in read.valid} == {"ci", "alice"}
    assert [r.item for r in read.rejected] == [r.item for r in alone.rejected] == ["bob#*"]
    assert found == lifecycles.for_account(ACCOUNT)
    assert set(found) == {"AKIAEXAMPLEKEY00001", "AKIAEXAMPLEKEY00002"}
    assert found["AKIAEXAMPLEKEY00002"].stage is Stage.DEACTIVATED


def test_an_account_without_state_reads_empty(dynamodb: DynamoDBClient) -> None:
    read, found = DynamoDBAccountState(client=dynamodb, table_name=STATE_TABLE).read(ACCOUNT)
    assert (tuple(read.valid), tuple(read.rejected), found) == ((), (), {})


def exemption_item(record: Exemption) -> dict[str, Any]:
    """The item DynamoDBExemptions.put writes."""
    captured: list[dict[str, Any]] = []

    class Capture:
        def put_item(self, **request: Any) -> None:
            captured.append(request["Item"])

    DynamoDBExemptions(client=Capture(), table_name=STATE_TABLE).put(record)  # type: ignore[arg-type]
    return captured[0]


def lifecycle_item(record: KeyLifecycle) -> dict[str, Any]:
    plain = record.model_dump(mode="json", exclude_none=True)
    return key_of(record.account_id, record.access_key_id) | {
        name: TypeSerializer().serialize(value) for name, value in plain.items()
    }


def test_every_page_is_read_empty_ones_included() -> None:
    client = boto3.client("dynamodb", region_name="eu-west-1")
    first, second = exemption(ACCOUNT, "ci"), lifecycle(ACCOUNT, "AKIAEXAMPLEKEY00001")
    request = {
        "Statement": STATEMENT,
        "Parameters": [{"S": f"exemption#{ACCOUNT}"}, {"S": f"key#{ACCOUNT}"}],
        "ConsistentRead": True,
    }
    with Stubber(client) as stub:
        stub.add_response("execute_statement", {"Items": [exemption_item(first)], "NextToken": "t1"}, request)
        # DynamoDB may answer a page with no items and a token: the read goes on.
        stub.add_response(
            "execute_statement", {"Items": [], "NextToken": "t2"}, request | {"NextToken": "t1"}
        )
        stub.add_response(
            "execute_statement", {"Items": [lifecycle_item(second)]}, request | {"NextToken": "t2"}
        )
        read, found = DynamoDBAccountState(client=client, table_name=STATE_TABLE).read(ACCOUNT)
        stub.assert_no_pending_responses()
    assert list(read.valid) == [first]
    assert found == {"AKIAEXAMPLEKEY00001": second}


def test_a_refused_read_says_what_failed() -> None:
    client = boto3.client("dynamodb", region_name="eu-west-1")
    with Stubber(client) as stub:
        stub.add_client_error(
            "execute_statement", "AccessDeniedException", "not authorized to perform dynamodb:PartiQLSelect"
        )
        with pytest.raises(PermanentError) as caught:
            DynamoDBAccountState(client=client, table_name=STATE_TABLE).read(ACCOUNT)
    assert str(caught.value) == (
        f"dynamodb:ExecuteStatement exemptions and key lifecycles of {ACCOUNT}: AccessDeniedException: "
        "not authorized to perform dynamodb:PartiQLSelect"
    )


@pytest.mark.parametrize("name", ['state" OR pk <> "', "ab", "state table"])
def test_a_name_that_is_no_table_name_is_refused(name: str) -> None:
    client = boto3.client("dynamodb", region_name="eu-west-1")
    with pytest.raises(ValueError, match="not a DynamoDB table name"):
        DynamoDBAccountState(client=client, table_name=name)
