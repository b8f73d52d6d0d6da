"""The archive's format: the same stored record hashes alike however it was read, and a stream record
becomes one archive line with both images and their hashes."""

from __future__ import annotations

import base64
import hashlib
from datetime import UTC, datetime
from typing import Any

from remediator.archive_format import (
    canonical_bytes,
    from_json_lines,
    line_from_item,
    line_from_stream_record,
    object_key,
    record_sha256,
    to_json_lines,
)

ITEM = {
    "account_id": {"S": "111111111111"},
    "record_id": {"S": "2026-12-07T10:00:00.000Z#00ff"},
    "day": {"S": "2026-12-07"},
    "key_age_days": {"N": "91"},
    "decision": {"S": "delete"},
}


def test_the_hash_is_of_the_sorted_compact_attribute_map() -> None:
    expected = (
        '{"account_id":{"S":"111111111111"},"day":{"S":"2026-12-07"},"decision":{"S":"delete"},'
        '"key_age_days":{"N":"91"},"record_id":{"S":"2026-12-07T10:00:00.000Z#00ff"}}'
    )
    assert canonical_bytes(ITEM) == expected.encode()
    assert record_sha256(ITEM) == hashlib.sha256(expected.encode()).hexdigest()


def test_attribute_order_sets_order_and_binary_form_do_not_change_the_hash() -> None:
    reordered = dict(reversed(list(ITEM.items())))
    assert record_sha256(reordered) == record_sha256(ITEM)
    assert record_sha256({"s": {"SS": ["b", "a"]}}) == record_sha256({"s": {"SS": ["a", "b"]}})
    as_bytes = {"b": {"B": b"\x00\x01"}, "bs": {"BS": [b"\x02", b"\x01"]}}
    as_text = {
        "b": {"B": base64.b64encode(b"\x00\x01").decode()},
        "bs": {"BS": [base64.b64encode(b"\x01").decode(), base64.b64encode(b"\x02").decode()]},
    }
    assert record_sha256(as_bytes) == record_sha256(as_text)


def test_any_change_of_a_value_changes_the_hash() -> None:
    assert record_sha256({**ITEM, "decision": {"S": "none"}}) != record_sha256(ITEM)
    assert record_sha256({**ITEM, "key_age_days": {"N": "91.0"}}) != record_sha256(ITEM)


def stream_record(event: str, new: dict[str, Any] | None, old: dict[str, Any] | None) -> dict[str, Any]:
    data = {
        "Keys": {"account_id": ITEM["account_id"], "record_id": ITEM["record_id"]},
        "SequenceNumber": "4200000000000000000001",
        "ApproximateCreationDateTime": 1796637600.0,
    }
    if new is not None:
        data["NewImage"] = new
    if old is not None:
        data["OldImage"] = old
    return {"eventID": "e-1", "eventName": event, "dynamodb": data}


def test_an_insert_is_archived_with_its_hash_and_a_modify_with_both() -> None:
    inserted = line_from_stream_record(stream_record("INSERT", ITEM, None))
    assert (inserted.event, inserted.sha256, inserted.old_sha256) == ("INSERT", record_sha256(ITEM), None)
    assert not inserted.altered
    rewritten = {**ITEM, "decision": {"S": "none"}}
    modified = line_from_stream_record(stream_record("MODIFY", rewritten, ITEM))
    assert (modified.sha256, modified.old_sha256) == (record_sha256(rewritten), record_sha256(ITEM))
    assert modified.altered
    removed = line_from_stream_record(stream_record("REMOVE", None, ITEM))
    assert (removed.sha256, removed.old_sha256, removed.day) == (None, record_sha256(ITEM), "2026-12-07")
    assert removed.altered


def test_lines_are_keyed_by_the_records_day_and_account_and_round_trip() -> None:
    line = line_from_stream_record(stream_record("INSERT", ITEM, None))
    assert object_key("audit/", line) == "audit/2026-12-07/111111111111/4200000000000000000001.jsonl"
    assert from_json_lines(to_json_lines([line, line])) == [line, line]


def test_a_backfilled_record_is_a_line_of_its_own_kind_with_the_hash_of_the_item() -> None:
    read_at = datetime(2026, 12, 7, 12, tzinfo=UTC)
    line = line_from_item(ITEM, read_at=read_at, operation_id="2026-12-07T12:00:00.000Z#aa")
    assert (line.event, line.sha256, line.day, line.account_id) == (
        "BACKFILL",
        record_sha256(ITEM),
        "2026-12-07",
        "111111111111",
    )
    assert not line.altered
