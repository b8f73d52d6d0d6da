"""Central exemptions in the state table: pk "exemption#<account>", sk "<user or *>#<key or *>"."""

from __future__ import annotations

from typing import TYPE_CHECKING

from botocore.exceptions import BotoCoreError, ClientError

from remediator.adapters.failures import translate
from remediator.exemptions import ANY_USER, Exemption

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient
    from mypy_boto3_dynamodb.type_defs import AttributeValueTypeDef

_ANY_KEY = "*"


def _pk(account_id: str) -> str:
    return f"exemption#{account_id}"


def _sk(exemption: Exemption) -> str:
    return f"{exemption.user_name}#{exemption.access_key_id or _ANY_KEY}"


class DynamoDBExemptions:
    def __init__(self, *, client: DynamoDBClient, table_name: str) -> None:
        self._client = client
        self._table = table_name

    def for_account(self, account_id: str) -> list[Exemption]:
        """Every exemption recorded for the account, expired ones included; decide() ignores those."""
        found: list[Exemption] = []
        pages = self._client.get_paginator("query").paginate(
            TableName=self._table,
            KeyConditionExpression="pk = :pk",
            ExpressionAttributeValues={":pk": {"S": _pk(account_id)}},
        )
        try:
            for page in pages:
                found.extend(_from_item(item) for item in page["Items"])
        except (ClientError, BotoCoreError) as exc:
            raise translate(exc, f"dynamodb:Query exemptions of {account_id}") from exc
        return found

    def put(self, exemption: Exemption) -> None:
        item: dict[str, AttributeValueTypeDef] = {
            "pk": {"S": _pk(exemption.account_id)},
            "sk": {"S": _sk(exemption)},
            "account_id": {"S": exemption.account_id},
            "user_name": {"S": exemption.user_name},
            "reason": {"S": exemption.reason},
            "owner": {"S": exemption.owner},
            "expires_at": {"S": exemption.expires_at.isoformat()},
        }
        if exemption.access_key_id:
            item["access_key_id"] = {"S": exemption.access_key_id}
        try:
            self._client.put_item(TableName=self._table, Item=item)
        except (ClientError, BotoCoreError) as exc:
            raise translate(exc, f"dynamodb:PutItem exemption in {self._table}") from exc


def _from_item(item: dict[str, AttributeValueTypeDef]) -> Exemption:
    key = item.get("access_key_id", {}).get("S")
    return Exemption(
        account_id=item["account_id"]["S"],
        user_name=item.get("user_name", {}).get("S", ANY_USER),
        access_key_id=key,
        reason=item["reason"]["S"],
        owner=item["owner"]["S"],
        expires_at=item["expires_at"]["S"],  # type: ignore[arg-type]  # pydantic parses ISO 8601
    )
