"""Key lifecycles in the state table: pk "key#<account>", sk "<access key id>", one item per key.

The item carries the key's stage and dates, and, while a mutation is under way, its pending mark
(remediator.lifecycle.Pending). Writes are updates of named attributes, never whole-item puts: a run that
moves a key's stage (a warning, a detection) must not wipe a mark that another run's journal set.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from boto3.dynamodb.types import TypeDeserializer, TypeSerializer
from botocore.exceptions import BotoCoreError, ClientError

from remediator.adapters.failures import translate
from remediator.lifecycle import KeyLifecycle

if TYPE_CHECKING:
    from collections.abc import Iterable

    from mypy_boto3_dynamodb import DynamoDBClient

_serializer = TypeSerializer()
_deserializer = TypeDeserializer()
PENDING = "pending"
_FIELDS = tuple(name for name in KeyLifecycle.model_fields if name != PENDING)


def lifecycle_pk(account_id: str) -> str:
    return f"key#{account_id}"


def key_of(account_id: str, access_key_id: str) -> dict[str, Any]:
    return {"pk": {"S": lifecycle_pk(account_id)}, "sk": {"S": access_key_id}}


def from_item(item: dict[str, Any]) -> KeyLifecycle:
    plain: dict[str, Any] = {k: _deserializer.deserialize(v) for k, v in item.items()}
    plain.pop("pk")
    plain.pop("sk")
    return KeyLifecycle.model_validate(plain)


def parse_lifecycles(items: Iterable[dict[str, Any]]) -> dict[str, KeyLifecycle]:
    """Access key id -> lifecycle, from the items of an account's lifecycle partition."""
    found: dict[str, KeyLifecycle] = {}
    for item in items:
        lifecycle = from_item(item)
        found[lifecycle.access_key_id] = lifecycle
    return found


class _Update:
    """An UpdateExpression built attribute by attribute, with placeholders for every name and value."""

    def __init__(self) -> None:
        self.sets: list[str] = []
        self.removes: list[str] = []
        self.names: dict[str, str] = {}
        self.values: dict[str, Any] = {}

    def name(self, attribute: str) -> str:
        placeholder = f"#n{len(self.names)}"
        self.names[placeholder] = attribute
        return placeholder

    def value(self, value: Any) -> str:
        placeholder = f":v{len(self.values)}"
        self.values[placeholder] = _serializer.serialize(value)
        return placeholder

    def set(self, attribute: str, value: Any, *, if_absent: bool = False) -> None:
        name, placeholder = self.name(attribute), self.value(value)
        self.sets.append(
            f"{name} = if_not_exists({name}, {placeholder})" if if_absent else f"{name} = {placeholder}"
        )

    def remove(self, attribute: str) -> None:
        self.removes.append(self.name(attribute))

    def params(self, condition: str | None = None) -> dict[str, Any]:
        expression = " ".join(
            part
            for part in (
                f"SET {', '.join(self.sets)}" if self.sets else "",
                f"REMOVE {', '.join(self.removes)}" if self.removes else "",
            )
            if part
        )
        params: dict[str, Any] = {"UpdateExpression": expression, "ExpressionAttributeNames": self.names}
        if self.values:
            params["ExpressionAttributeValues"] = self.values
        if condition:
            params["ConditionExpression"] = condition
        return params


def stage_update(lifecycle: KeyLifecycle, *, clear_pending: bool = False) -> _Update:
    """Set the lifecycle's fields (remove those it has not), leaving or clearing the pending mark."""
    plain = lifecycle.model_dump(mode="json", exclude={PENDING})
    update = _Update()
    for field in _FIELDS:
        if plain.get(field) is None:
            update.remove(field)
        else:
            update.set(field, plain[field])
    if clear_pending:
        update.remove(PENDING)
    return update


def mark_params(marked: KeyLifecycle, *, owner: str) -> dict[str, Any]:
    """Set the pending mark `marked` carries; the key's other fields only where the item has none yet.
    Refused when a mark of another run is there (it must be settled first)."""
    assert marked.pending is not None  # noqa: S101
    update = _Update()
    plain = marked.model_dump(mode="json", exclude={PENDING}, exclude_none=True)
    for field, value in plain.items():
        update.set(field, value, if_absent=True)
    pending, owner_name = update.name(PENDING), update.name("owner")
    update.sets.append(f"{pending} = {update.value(marked.pending.model_dump(mode='json'))}")
    condition = f"attribute_not_exists({pending}) OR {pending}.{owner_name} = {update.value(owner)}"
    return {"Key": key_of(marked.account_id, marked.access_key_id), **update.params(condition)}


def settle_params(settled: KeyLifecycle, *, intent_id: str) -> dict[str, Any]:
    """Move the key to `settled`'s stage and clear the mark of `intent_id`, and only of that intent."""
    update = stage_update(settled, clear_pending=True)
    pending, intent = update.name(PENDING), update.name("intent_id")
    condition = f"{pending}.{intent} = {update.value(intent_id)}"
    return {"Key": key_of(settled.account_id, settled.access_key_id), **update.params(condition)}


class DynamoDBLifecycle:
    def __init__(self, *, client: DynamoDBClient, table_name: str) -> None:
        self._client = client
        self._table = table_name

    def for_account(self, account_id: str) -> dict[str, KeyLifecycle]:
        pages = self._client.get_paginator("query").paginate(
            TableName=self._table,
            KeyConditionExpression="pk = :pk",
            ExpressionAttributeValues={":pk": {"S": lifecycle_pk(account_id)}},
            ConsistentRead=True,  # a mark set a moment ago must be seen
        )
        try:
            return parse_lifecycles(item for page in pages for item in page["Items"])
        except (ClientError, BotoCoreError) as exc:
            raise translate(exc, f"dynamodb:Query key lifecycles of {account_id}") from exc

    def save(self, lifecycle: KeyLifecycle) -> None:
        """The key's stage and dates; its pending mark, if any, stays as it is."""
        params = stage_update(lifecycle).params()
        try:
            self._client.update_item(
                TableName=self._table, Key=key_of(lifecycle.account_id, lifecycle.access_key_id), **params
            )
        except (ClientError, BotoCoreError) as exc:
            raise translate(exc, f"dynamodb:UpdateItem lifecycle of {lifecycle.access_key_id}") from exc
