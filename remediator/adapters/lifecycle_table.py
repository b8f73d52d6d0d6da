"""Key lifecycles in the state table: pk "key#<account>", sk "<access key id>", one item per key."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from boto3.dynamodb.types import TypeDeserializer, TypeSerializer
from botocore.exceptions import BotoCoreError, ClientError

from remediator.adapters.failures import translate
from remediator.lifecycle import KeyLifecycle

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient

_serializer = TypeSerializer()
_deserializer = TypeDeserializer()


def _pk(account_id: str) -> str:
    return f"key#{account_id}"


class DynamoDBLifecycle:
    def __init__(self, *, client: DynamoDBClient, table_name: str) -> None:
        self._client = client
        self._table = table_name

    def for_account(self, account_id: str) -> dict[str, KeyLifecycle]:
        found: dict[str, KeyLifecycle] = {}
        pages = self._client.get_paginator("query").paginate(
            TableName=self._table,
            KeyConditionExpression="pk = :pk",
            ExpressionAttributeValues={":pk": {"S": _pk(account_id)}},
        )
        try:
            for page in pages:
                for item in page["Items"]:
                    plain: dict[str, Any] = {k: _deserializer.deserialize(v) for k, v in item.items()}
                    plain.pop("pk")
                    plain.pop("sk")
                    lifecycle = KeyLifecycle.model_validate(plain)
                    found[lifecycle.access_key_id] = lifecycle
        except (ClientError, BotoCoreError) as exc:
            raise translate(exc, f"dynamodb:Query key lifecycles of {account_id}") from exc
        return found

    def save(self, lifecycle: KeyLifecycle) -> None:
        plain = lifecycle.model_dump(mode="json", exclude_none=True)
        item = {k: _serializer.serialize(v) for k, v in plain.items()}
        item["pk"] = {"S": _pk(lifecycle.account_id)}
        item["sk"] = {"S": lifecycle.access_key_id}
        try:
            self._client.put_item(TableName=self._table, Item=item)
        except (ClientError, BotoCoreError) as exc:
            raise translate(exc, f"dynamodb:PutItem lifecycle of {lifecycle.access_key_id}") from exc
