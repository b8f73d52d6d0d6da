"""An audit record's item in the table and back: what an older akr reads of a record a newer remediator
wrote (an attribute it does not know is left out, the rest is read as written)."""

from __future__ import annotations

from datetime import UTC, datetime

from remediator.adapters.audit_table import from_item, to_item
from remediator.audit import AuditRecord, Outcome, Phase, Trigger
from remediator.policy import Mode, Thresholds

RECORD = AuditRecord(
    record_id="2026-12-07T10:00:00.000Z#0123456789abcdef",
    account_id="111111111111",
    user_name="ci",
    access_key_id="AKIAOLDKEY0000000001",
    key_age_days=91,
    decision="delete",
    mode=Mode.DELETE,
    reason="older than 90 days",
    thresholds=Thresholds(),
    trigger=Trigger.EVENT,
    phase=Phase.OUTCOME,
    outcome=Outcome.DONE,
    recorded_at=datetime(2026, 12, 7, 10, tzinfo=UTC),
)


def test_a_record_reads_back_as_written() -> None:
    item = to_item(RECORD)
    assert item["day"] == {"S": "2026-12-07"}, "the by-day index's partition is stored"
    assert from_item(item) == RECORD


def test_an_attribute_a_newer_version_added_is_left_out_not_an_error() -> None:
    item = {**to_item(RECORD), "circuit": {"M": {"tripped": {"BOOL": True}}}, "archived_sha": {"S": "ab"}}
    assert from_item(item) == RECORD
