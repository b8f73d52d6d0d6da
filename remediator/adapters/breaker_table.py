"""The circuit breaker's items in the state table.

- Counters: pk "breaker#<account>" or "breaker#organization", sk "<UTC day>", attribute `count`; raised
  by one in the journal's intent transaction, on the condition that it is below the cap. They expire a
  few days later (the table's TTL attribute `expiration`).
- The pause: pk "control#pause", sk "organization", written by `akr pause` and deleted by `akr resume`;
  the intent transaction checks that it is absent (ConditionCheck), so a pause stops every run's next
  mutation at once, with no read of its own. The remediator's role may check it, never write it.

A failed condition returns the item as stored (ReturnValuesOnConditionCheckFailure ALL_OLD on each
item of the transaction), which names the count or the pause's operator.
https://docs.aws.amazon.com/amazondynamodb/latest/APIReference/API_TransactWriteItems.html
https://docs.aws.amazon.com/amazondynamodb/latest/APIReference/API_ConditionCheck.html
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from botocore.exceptions import BotoCoreError, ClientError
from pydantic import ValidationError

from remediator.adapters.failures import error_code, translate
from remediator.breaker import ORGANIZATION, Pause

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient

COUNTER_PREFIX = "breaker#"
CONTROL_PREFIX = "control#"
PAUSE_KEY = {"pk": {"S": f"{CONTROL_PREFIX}pause"}, "sk": {"S": ORGANIZATION}}
COUNTER_DAYS_KEPT = 3
"""A counter outlives its day by this much (TTL): long enough to read back a day's count."""


def day_of(now: datetime) -> str:
    return now.strftime("%Y-%m-%d")


def counter_key(scope: str, day: str) -> dict[str, Any]:
    """`scope`: an account id, or ORGANIZATION."""
    return {"pk": {"S": f"{COUNTER_PREFIX}{scope}"}, "sk": {"S": day}}


def count_params(scope: str, now: datetime, cap: int) -> dict[str, Any]:
    """The transaction's Update that counts one mutation, only while the day's count is below `cap`."""
    expires = int((now + timedelta(days=COUNTER_DAYS_KEPT)).timestamp())
    return {
        "Key": counter_key(scope, day_of(now)),
        "UpdateExpression": "SET #count = if_not_exists(#count, :zero) + :one, #expiration = :expires",
        "ConditionExpression": "attribute_not_exists(#count) OR #count < :cap",
        "ExpressionAttributeNames": {"#count": "count", "#expiration": "expiration"},
        "ExpressionAttributeValues": {
            ":zero": {"N": "0"},
            ":one": {"N": "1"},
            ":cap": {"N": str(cap)},
            ":expires": {"N": str(expires)},
        },
        "ReturnValuesOnConditionCheckFailure": "ALL_OLD",
    }


def not_paused_params() -> dict[str, Any]:
    """The transaction's ConditionCheck that no pause is in force."""
    return {
        "Key": PAUSE_KEY,
        "ConditionExpression": "attribute_not_exists(pk)",
        "ReturnValuesOnConditionCheckFailure": "ALL_OLD",
    }


def count_of(item: dict[str, Any] | None) -> int:
    return int(item.get("count", {}).get("N", "0")) if item else 0


def pause_of(item: dict[str, Any] | None) -> Pause | None:
    """The pause an item holds; None when there is none, or it does not parse (still a pause: the
    condition failed on it)."""
    if not item:
        return None
    try:
        return Pause.model_validate(
            {name: item[name].get("S") for name in Pause.model_fields if name in item}
        )
    except (ValidationError, AttributeError):
        return None


class DynamoDBControl:
    """The pause and the day's counts, as the command line reads and writes them."""

    def __init__(self, *, client: DynamoDBClient, table_name: str) -> None:
        self._client = client
        self._table = table_name

    def pause(self) -> Pause | None:
        doing = "dynamodb:GetItem of the pause"
        try:
            item = self._client.get_item(TableName=self._table, Key=PAUSE_KEY, ConsistentRead=True).get(
                "Item"
            )
        except (ClientError, BotoCoreError) as exc:
            raise translate(exc, doing) from exc
        return pause_of(dict(item)) if item else None

    def put_pause(self, pause: Pause) -> bool:
        """False when a pause is in force already (it is kept, with its operator)."""
        item = {
            **PAUSE_KEY,
            "operator": {"S": pause.operator},
            "reason": {"S": pause.reason},
            "since": {"S": pause.since.isoformat()},
            "record_id": {"S": pause.record_id},
        }
        doing = "dynamodb:PutItem of the pause"
        try:
            self._client.put_item(
                TableName=self._table, Item=item, ConditionExpression="attribute_not_exists(pk)"
            )
        except ClientError as exc:
            if error_code(exc) == "ConditionalCheckFailedException":
                return False
            raise translate(exc, doing) from exc
        except BotoCoreError as exc:
            raise translate(exc, doing) from exc
        return True

    def delete_pause(self) -> bool:
        """False when there was no pause."""
        doing = "dynamodb:DeleteItem of the pause"
        try:
            old = self._client.delete_item(TableName=self._table, Key=PAUSE_KEY, ReturnValues="ALL_OLD")
        except (ClientError, BotoCoreError) as exc:
            raise translate(exc, doing) from exc
        return bool(old.get("Attributes"))

    def count(self, scope: str, now: datetime) -> int:
        """The mutations counted today in `scope` (an account id, or ORGANIZATION)."""
        doing = f"dynamodb:GetItem of the {scope} counter"
        try:
            item = self._client.get_item(
                TableName=self._table, Key=counter_key(scope, day_of(now)), ConsistentRead=True
            ).get("Item")
        except (ClientError, BotoCoreError) as exc:
            raise translate(exc, doing) from exc
        return count_of(dict(item) if item else None)
