"""Central exemptions in the state table: pk "exemption#<account>", sk "<user or *>#<key or *>"."""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from botocore.exceptions import BotoCoreError, ClientError
from pydantic import ValidationError

from remediator.adapters.failures import translate
from remediator.exemptions import Exemption, RejectedExemption

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient
    from mypy_boto3_dynamodb.type_defs import AttributeValueTypeDef

_ANY_KEY = "*"
logger = logging.getLogger(__name__)


def exemption_pk(account_id: str) -> str:
    return f"exemption#{account_id}"


def _sk(exemption: Exemption) -> str:
    return f"{exemption.user_name}#{exemption.access_key_id or _ANY_KEY}"


@dataclass(frozen=True)
class ExemptionsRead:
    valid: tuple[Exemption, ...]
    """Every item that parses, expired ones included; decide() ignores those."""
    rejected: tuple[RejectedExemption, ...]
    """Items that do not parse (missing fields, a time without a zone, a bare date)."""


class DynamoDBExemptions:
    def __init__(self, *, client: DynamoDBClient, table_name: str) -> None:
        self._client = client
        self._table = table_name

    def read(self, account_id: str) -> ExemptionsRead:
        """The account's exemption items, in one query (all pages)."""
        pages = self._client.get_paginator("query").paginate(
            TableName=self._table,
            KeyConditionExpression="pk = :pk",
            ExpressionAttributeValues={":pk": {"S": exemption_pk(account_id)}},
        )
        try:
            items = [item for page in pages for item in page["Items"]]
        except (ClientError, BotoCoreError) as exc:
            raise translate(exc, f"dynamodb:Query exemptions of {account_id}") from exc
        return parse_exemptions(account_id, items)

    def for_account(self, account_id: str) -> list[Exemption]:
        """Every exemption item of the account that parses, expired ones included."""
        return list(self.read(account_id).valid)

    def put(self, exemption: Exemption) -> None:
        item: dict[str, AttributeValueTypeDef] = {
            "pk": {"S": exemption_pk(exemption.account_id)},
            "sk": {"S": _sk(exemption)},
            "account_id": {"S": exemption.account_id},
            "user_name": {"S": exemption.user_name},
            "reason": {"S": exemption.reason},
            "owner": {"S": exemption.owner},
            "expires_at": {"S": exemption.expires_at.isoformat()},
        }
        if exemption.created_at:
            item["created_at"] = {"S": exemption.created_at.isoformat()}
        if exemption.record_id:
            item["record_id"] = {"S": exemption.record_id}
        if exemption.access_key_id:
            item["access_key_id"] = {"S": exemption.access_key_id}
        try:
            self._client.put_item(TableName=self._table, Item=item)
        except (ClientError, BotoCoreError) as exc:
            raise translate(exc, f"dynamodb:PutItem exemption in {self._table}") from exc

    def link(self, exemption: Exemption, record_id: str) -> bool:
        """Give an exemption written without it the id of its exempt-add record; False when the item is gone,
        already linked, or no longer has the owner and expiry the record was written for."""
        return self._conditional(
            "UpdateItem",
            lambda: self._client.update_item(
                TableName=self._table,
                Key={"pk": {"S": exemption_pk(exemption.account_id)}, "sk": {"S": _sk(exemption)}},
                UpdateExpression="SET record_id = :r",
                ConditionExpression=(
                    "attribute_exists(pk) AND attribute_not_exists(record_id) AND #o = :o AND expires_at = :e"
                ),
                ExpressionAttributeNames={"#o": "owner"},
                ExpressionAttributeValues={
                    ":r": {"S": record_id},
                    ":o": {"S": exemption.owner},
                    ":e": {"S": exemption.expires_at.isoformat()},
                },
            ),
        )

    def delete(self, account_id: str, user_name: str, access_key_id: str | None) -> bool:
        """Remove one exemption; False when there was none with exactly that user and key."""
        key: dict[str, AttributeValueTypeDef] = {
            "pk": {"S": exemption_pk(account_id)},
            "sk": {"S": f"{user_name}#{access_key_id or _ANY_KEY}"},
        }
        return self._conditional(
            "DeleteItem",
            lambda: self._client.delete_item(
                TableName=self._table, Key=key, ConditionExpression="attribute_exists(pk)"
            ),
        )

    def _conditional(self, action: str, write: Callable[[], object]) -> bool:
        """Run a conditional write; False when its condition failed."""
        try:
            write()
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") == "ConditionalCheckFailedException":
                return False
            raise translate(exc, f"dynamodb:{action} exemption in {self._table}") from exc
        except BotoCoreError as exc:
            raise translate(exc, f"dynamodb:{action} exemption in {self._table}") from exc
        return True


def parse_exemptions(account_id: str, items: Iterable[dict[str, AttributeValueTypeDef]]) -> ExemptionsRead:
    """The account's exemption items, each parsed or rejected with the reason."""
    valid: list[Exemption] = []
    rejected: list[RejectedExemption] = []
    for item in items:
        parsed = _from_item(account_id, item)
        if isinstance(parsed, Exemption):
            valid.append(parsed)
        else:
            rejected.append(parsed)
    return ExemptionsRead(tuple(valid), tuple(rejected))


def _from_item(account_id: str, item: dict[str, AttributeValueTypeDef]) -> Exemption | RejectedExemption:
    """The exemption, or what is wrong with the item. Fails closed: a broken exemption exempts nobody
    (never everybody) and never stops the account's remediation; it is reported, not dropped."""
    plain = {name: value.get("S") for name, value in item.items()}
    try:
        return Exemption.model_validate(
            {
                "account_id": plain.get("account_id"),
                "user_name": plain.get("user_name"),
                "access_key_id": plain.get("access_key_id"),
                "reason": plain.get("reason"),
                "owner": plain.get("owner"),
                "expires_at": plain.get("expires_at"),
                "created_at": plain.get("created_at"),
                "record_id": plain.get("record_id"),
            }
        )
    except ValidationError as exc:
        why = "; ".join(
            f"{'.'.join(map(str, e['loc']))} {e['input']!r}: {e['msg'].lower()}" for e in exc.errors()
        )
        logger.error(
            "invalid exemption ignored", extra={"pk": plain.get("pk"), "sk": plain.get("sk"), "error": why}
        )
        return RejectedExemption(
            account_id=account_id, item=str(plain.get("sk") or "?"), owner=plain.get("owner"), why=why
        )
