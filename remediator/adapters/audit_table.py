"""The central audit log in DynamoDB: append-only, one item per record.

Keys: `account_id` + `record_id` (time-ordered) for an account's history; index `by_access_key` for one
key's history; index `by_day` for the organization's history by time. The remediator's role may put and
query, never update or delete.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from boto3.dynamodb.types import TypeDeserializer, TypeSerializer
from botocore.exceptions import BotoCoreError, ClientError
from pydantic import ValidationError

from remediator.adapters.failures import error_code, translate
from remediator.audit import AuditRecord, id_stamp
from remediator.errors import PermanentError

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient

logger = logging.getLogger(__name__)
BY_ACCESS_KEY = "by_access_key"
BY_DAY = "by_day"
BY_REVOKED = "by_revoked"
_serializer = TypeSerializer()
_deserializer = TypeDeserializer()
_READ_FIELDS = frozenset(AuditRecord.model_fields)
"""What a record is read into: its model's fields (not the computed `day`, which the model derives)."""


def to_item(record: AuditRecord) -> dict[str, Any]:
    plain = record.model_dump(mode="json", exclude_none=True)
    return {name: _serializer.serialize(value) for name, value in plain.items()}


def from_item(item: dict[str, Any]) -> AuditRecord:
    """The record, without the attributes this version does not know: a record written by a newer
    remediator (which may add fields) stays readable by an older akr, which shows what it knows of it."""
    plain = {name: _deserializer.deserialize(value) for name, value in item.items() if name in _READ_FIELDS}
    if "key_age_days" in plain:
        plain["key_age_days"] = int(plain["key_age_days"])
    plain["thresholds"] = {name: int(value) for name, value in plain["thresholds"].items()}
    return AuditRecord.model_validate(plain)


def append_params(record: AuditRecord) -> dict[str, Any]:
    """The conditional put of one record (PutItem's parameters, or a transaction's Put). Append-only: a
    record id is never written twice; on a collision DynamoDB returns what is stored, to compare."""
    return {
        "Item": to_item(record),
        "ConditionExpression": "attribute_not_exists(record_id)",
        "ReturnValuesOnConditionCheckFailure": "ALL_OLD",
    }


def same_record(stored: dict[str, Any] | None, record: AuditRecord) -> bool:
    """Whether the item found under `record`'s id is `record` itself: a put that was applied, then
    retried because its reply was lost, finds its own record, which is success, not a collision."""
    if not stored:
        return False
    plain = {name: _deserializer.deserialize(value) for name, value in stored.items()}
    mine = {name: _deserializer.deserialize(value) for name, value in to_item(record).items()}
    return plain == mine


def stored(client: DynamoDBClient, table: str, record: AuditRecord) -> bool:
    """Whether `record` itself is in the table, read consistently (a Query on its key: the role may query,
    not get). For a write whose every attempt went unanswered: it may have been applied all the same."""
    try:
        items = client.query(
            TableName=table,
            KeyConditionExpression="account_id = :a AND record_id = :r",
            ExpressionAttributeValues={":a": {"S": record.account_id}, ":r": {"S": record.record_id}},
            ConsistentRead=True,
        )["Items"]
    except (ClientError, BotoCoreError):
        return False  # cannot tell: the write is taken as failed, and the caller's error goes on
    return bool(items) and same_record(dict(items[0]), record)


class AuditCollisionError(PermanentError):
    """A record id is taken by a different record: never overwritten, never taken as ours."""


class DynamoDBAuditLog:
    def __init__(self, *, client: DynamoDBClient, table_name: str) -> None:
        self._client = client
        self._table = table_name

    def append(self, record: AuditRecord) -> None:
        doing = f"dynamodb:PutItem into {self._table}"
        try:
            self._client.put_item(TableName=self._table, **append_params(record))
        except ClientError as exc:
            if error_code(exc) != "ConditionalCheckFailedException":
                if stored(self._client, self._table, record):
                    return  # applied, though no reply said so
                raise translate(exc, doing) from exc
            found: Any = exc.response.get("Item")
            if not same_record(found, record):
                raise AuditCollisionError(
                    f"{doing}: record {record.record_id} of {record.account_id} exists with other content"
                ) from exc
        except BotoCoreError as exc:
            if stored(self._client, self._table, record):
                return
            raise translate(exc, doing) from exc

    def find(self, account_id: str, record_id: str) -> AuditRecord | None:
        """One record by its key, read consistently (a Query: the remediator may query, not get); None when
        there is none, or it does not parse (logged: a record that cannot be read proves nothing)."""
        doing = f"dynamodb:Query record {record_id} of {account_id} in {self._table}"
        try:
            items = self._client.query(
                TableName=self._table,
                KeyConditionExpression="account_id = :a AND record_id = :r",
                ExpressionAttributeValues={":a": {"S": account_id}, ":r": {"S": record_id}},
                ConsistentRead=True,
            )["Items"]
        except (ClientError, BotoCoreError) as exc:
            raise translate(exc, doing) from exc
        if not items:
            return None
        try:
            return from_item(dict(items[0]))
        except (ValidationError, KeyError, TypeError, ValueError) as exc:
            logger.error("unreadable audit record", extra={"record_id": record_id, "error": str(exc)})
            return None

    def revoked_by(self, account_id: str, record_id: str) -> str | None:
        """The id of an exempt-remove record of the account that revokes the exempt-add `record_id`, or None
        (the sparse index by_revoked: at most a few keys, whatever the account's history)."""
        doing = f"dynamodb:Query {BY_REVOKED} for {record_id} in {self._table}"
        try:
            items = self._client.query(
                TableName=self._table,
                IndexName=BY_REVOKED,
                KeyConditionExpression="revokes = :r",
                ExpressionAttributeValues={":r": {"S": record_id}},
            )["Items"]
        except (ClientError, BotoCoreError) as exc:
            raise translate(exc, doing) from exc
        return next((i["record_id"]["S"] for i in items if i["account_id"]["S"] == account_id), None)

    def for_account(self, account_id: str, *, newest_first: bool = True) -> list[AuditRecord]:
        """Every record of one account, all pages, newest first by default."""
        records: list[AuditRecord] = []
        paginator = self._client.get_paginator("query")
        pages = paginator.paginate(
            TableName=self._table,
            KeyConditionExpression="account_id = :a",
            ExpressionAttributeValues={":a": {"S": account_id}},
            ScanIndexForward=not newest_first,
        )
        try:
            for page in pages:
                records.extend(from_item(item) for item in page["Items"])
        except (ClientError, BotoCoreError) as exc:
            raise translate(exc, f"dynamodb:Query on {self._table}") from exc
        return records

    def for_key_between(self, access_key_id: str, start: datetime, end: datetime) -> list[AuditRecord]:
        """One key's records with recorded_at in [start, end], all pages (the index by_access_key: record
        ids begin with their time, so the range is a key condition; a record that does not parse is logged
        and left out, as in `find`)."""
        doing = f"dynamodb:Query {BY_ACCESS_KEY} for {access_key_id} in {self._table}"
        pages = self._client.get_paginator("query").paginate(
            TableName=self._table,
            IndexName=BY_ACCESS_KEY,
            KeyConditionExpression="access_key_id = :k AND record_id BETWEEN :lo AND :hi",
            ExpressionAttributeValues={
                ":k": {"S": access_key_id},
                ":lo": {"S": id_stamp(start.astimezone(UTC))},
                # "~" sorts after the "#<hex>" suffix of every id stamped `end`.
                ":hi": {"S": f"{id_stamp(end.astimezone(UTC))}~"},
            },
        )
        records: list[AuditRecord] = []
        try:
            for page in pages:
                for item in page["Items"]:
                    try:
                        records.append(from_item(dict(item)))
                    except (ValidationError, KeyError, TypeError, ValueError) as exc:
                        where = {"record_id": str(item.get("record_id", {}).get("S")), "error": str(exc)}
                        logger.error("unreadable audit record", extra=where)
        except (ClientError, BotoCoreError) as exc:
            raise translate(exc, doing) from exc
        return records
