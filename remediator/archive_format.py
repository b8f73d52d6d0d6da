"""The audit archive's format, shared by the archiver that writes it and `akr audit verify` that reads it.

A record is hashed as it is stored: its DynamoDB attribute-value map (the stream's NewImage/OldImage, a
low-level GetItem/Query's Item), serialized with sorted keys and no spaces. The same bytes give the same
hash on both sides, so a record altered in the table no longer matches its archived hash.

An archive object holds the lines of one stream batch for one (day, account), as JSON Lines under
`<day>/<account>/`; the day and account are the record's own (`day`, `account_id`), so a verification of a
window reads exactly the prefixes of its days.
"""

from __future__ import annotations

import base64
import hashlib
import json
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict

ARCHIVE_PREFIX = "audit/"
"""Every archive object's key starts with it (the bucket is the central stack's AuditArchiveBucketName)."""

AttributeMap = Mapping[str, Any]
"""A DynamoDB item in attribute-value form: {"account_id": {"S": "111111111111"}, ...}."""
StreamEvent = Literal["INSERT", "MODIFY", "REMOVE", "BACKFILL"]
"""The stream's event names, and BACKFILL: a record read from the table by `akr audit verify --backfill`
because the stream (24 hours) no longer held it."""

_SETS = ("SS", "NS", "BS")


def _binary(value: Any) -> Any:
    # A Lambda event carries binary as base64 text, boto3 as bytes: both hash as the base64 text.
    return base64.b64encode(value).decode() if isinstance(value, bytes | bytearray) else value


def _canonical_value(value: Any) -> Any:
    """Sets have no order in DynamoDB: sorted, so that two reads of one item hash alike. Lists and maps
    keep their order (a map's keys are sorted by the serializer) and are canonicalized inside."""
    if not isinstance(value, Mapping) or len(value) != 1:
        return value
    ((kind, inner),) = value.items()
    if kind == "B":
        return {kind: _binary(inner)}
    if kind in _SETS:
        return {kind: sorted(_binary(v) for v in inner)}
    if kind == "L":
        return {kind: [_canonical_value(v) for v in inner]}
    if kind == "M":
        return {kind: {k: _canonical_value(v) for k, v in inner.items()}}
    return {kind: inner}


def canonical_bytes(image: AttributeMap) -> bytes:
    canonical = {name: _canonical_value(value) for name, value in image.items()}
    return json.dumps(canonical, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def record_sha256(image: AttributeMap) -> str:
    return hashlib.sha256(canonical_bytes(image)).hexdigest()


def _text(image: AttributeMap | None, name: str) -> str:
    value = (image or {}).get(name, {})
    return str(value.get("S", "")) if isinstance(value, Mapping) else ""


class ArchiveLine(BaseModel):
    """One stream record, archived. `sha256` is the hash of the record as it now stands (None once
    removed); `old_sha256` of what it was before a MODIFY or REMOVE, which is tamper evidence."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    event: StreamEvent
    event_id: str
    sequence_number: str
    approximate_time: datetime
    account_id: str
    record_id: str
    day: str
    sha256: str | None
    old_sha256: str | None
    new_image: dict[str, Any] | None
    old_image: dict[str, Any] | None

    @property
    def altered(self) -> bool:
        """A MODIFY or REMOVE: the table is append-only, so any such event is someone rewriting it."""
        return self.event in ("MODIFY", "REMOVE")


def line_from_stream_record(record: Mapping[str, Any]) -> ArchiveLine:
    """The raw DynamoDB stream record (as Lambda delivers it), unchanged images included.
    https://docs.aws.amazon.com/amazondynamodb/latest/APIReference/API_streams_StreamRecord.html"""
    data = record["dynamodb"]
    new, old = data.get("NewImage"), data.get("OldImage")
    keys = data["Keys"]
    image = new or old or keys
    return ArchiveLine(
        event=record["eventName"],
        event_id=record["eventID"],
        sequence_number=str(data["SequenceNumber"]),
        approximate_time=datetime.fromtimestamp(float(data["ApproximateCreationDateTime"]), UTC),
        account_id=_text(keys, "account_id"),
        record_id=_text(keys, "record_id"),
        day=_text(image, "day") or _text(keys, "record_id")[:10],
        sha256=record_sha256(new) if new is not None else None,
        old_sha256=record_sha256(old) if old is not None else None,
        new_image=dict(new) if new is not None else None,
        old_image=dict(old) if old is not None else None,
    )


def line_from_item(item: AttributeMap, *, read_at: datetime, operation_id: str) -> ArchiveLine:
    """A record read from the table (low-level attribute-value form), for a backfill: it carries no stream
    sequence; `operation_id` is the backfill's own audit record id."""
    return ArchiveLine(
        event="BACKFILL",
        event_id=operation_id,
        sequence_number="",
        approximate_time=read_at,
        account_id=_text(item, "account_id"),
        record_id=_text(item, "record_id"),
        day=_text(item, "day") or _text(item, "record_id")[:10],
        sha256=record_sha256(item),
        old_sha256=None,
        new_image=dict(item),
        old_image=None,
    )


def object_key(prefix: str, line: ArchiveLine) -> str:
    """Where the batch's lines of `line`'s (day, account) go. Named by the first line's sequence number,
    so a retried batch writes the same key (a new object version: Object Lock keeps both)."""
    return f"{prefix}{line.day}/{line.account_id}/{line.sequence_number}.jsonl"


def day_prefix(prefix: str, day: str, account_id: str | None = None) -> str:
    return f"{prefix}{day}/" + (f"{account_id}/" if account_id else "")


def to_json_lines(lines: list[ArchiveLine]) -> bytes:
    return b"".join(line.model_dump_json().encode() + b"\n" for line in lines)


def from_json_lines(body: bytes) -> list[ArchiveLine]:
    return [ArchiveLine.model_validate_json(text) for text in body.splitlines() if text.strip()]


def backfill_object_key(prefix: str, day: str, account_id: str, operation_id: str) -> str:
    """Where a backfill puts the lines of one (day, account): named by the backfill's audit record id
    (made safe for a key), beside the stream's objects and never over one of them."""
    safe = "".join(c if c.isalnum() or c in ".-" else "-" for c in operation_id)
    return f"{prefix}{day}/{account_id}/backfill-{safe}.jsonl"
