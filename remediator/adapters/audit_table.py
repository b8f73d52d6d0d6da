"""The central audit log in DynamoDB: append-only, one item per record.

Keys: `account_id` + `record_id` (time-ordered) for an account's history; index `by_access_key` for one
key's history; index `by_day` for the organization's history by time. The remediator's role may put and
query, never update or delete.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from boto3.dynamodb.types import TypeDeserializer, TypeSerializer
from botocore.exceptions import BotoCoreError, ClientError

from remediator.adapters.failures import translate
from remediator.audit import AuditRecord

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient

BY_ACCESS_KEY = "by_access_key"
BY_DAY = "by_day"
_serializer = TypeSerializer()
_deserializer = TypeDeserializer()


def to_item(record: AuditRecord) -> dict[str, Any]:
    plain = record.model_dump(mode="json", exclude_none=True)
    return {name: _serializer.serialize(value) for name, value in plain.items()}


def from_item(item: dict[str, Any]) -> AuditRecord:
    plain = {name: _deserializer.deserialize(value) for name, value in item.items()}
    plain.pop("day", None)
    if "key_age_days" in plain:
        plain["key_age_days"] = int(plain["key_age_days"])
    plain["thresholds"] = {name: int(value) for name, value in plain["thresholds"].items()}
    return AuditRecord.model_validate(plain)


class DynamoDBAuditLog:
    def __init__(self, *, client: DynamoDBClient, table_name: str) -> None:
        self._client = client
        self._table = table_name

    def append(self, record: AuditRecord) -> None:
        try:
            self._client.put_item(
                TableName=self._table,
                Item=to_item(record),
                # Append-only: a record id is never written twice.
                ConditionExpression="attribute_not_exists(record_id)",
            )
        except (ClientError, BotoCoreError) as exc:
            raise translate(exc, f"dynamodb:PutItem into {self._table}") from exc

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
