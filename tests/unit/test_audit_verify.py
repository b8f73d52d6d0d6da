"""The comparison of `akr audit verify`: each kind of finding, what is not a finding (retried batches, a
backfill the stream also delivered, a record still within the archiver's lag), and the lag's boundary."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from org_bootstrap.review.archive_backfill import BackfillRefusedError, to_backfill
from org_bootstrap.review.audit_verify import (
    ARCHIVER_LAG,
    FindingKind,
    TableRecord,
    Verification,
    summary_line,
    table_record,
    verify,
)
from remediator.archive_format import ArchiveLine, line_from_item, line_from_stream_record, record_sha256

NOW = datetime(2026, 12, 7, 12, 0, tzinfo=UTC)
SINCE = NOW - timedelta(days=1)
ACCOUNT = "111111111111"
_sequence = iter(range(10**6))


def item(minutes_ago: float, suffix: str = "00ff", decision: str = "delete") -> dict[str, Any]:
    at = NOW - timedelta(minutes=minutes_ago)
    stamp = at.strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"
    return {
        "account_id": {"S": ACCOUNT},
        "record_id": {"S": f"{stamp}#{suffix}"},
        "day": {"S": at.strftime("%Y-%m-%d")},
        "recorded_at": {"S": at.isoformat()},
        "decision": {"S": decision},
        "key_age_days": {"N": "91"},
    }


def streamed(event: str, new: dict[str, Any] | None, old: dict[str, Any] | None = None) -> ArchiveLine:
    image = new or old
    assert image is not None
    data: dict[str, Any] = {
        "Keys": {"account_id": image["account_id"], "record_id": image["record_id"]},
        "SequenceNumber": str(4200000000000000000000 + next(_sequence)),
        "ApproximateCreationDateTime": NOW.timestamp() - 60 + next(_sequence) / 1000,
    }
    if new is not None:
        data["NewImage"] = new
    if old is not None:
        data["OldImage"] = old
    return line_from_stream_record({"eventID": f"e-{next(_sequence)}", "eventName": event, "dynamodb": data})


def run(table: list[dict[str, Any]], lines: list[ArchiveLine], now: datetime = NOW) -> Verification:
    return verify([table_record(i) for i in table], lines, since=SINCE, until=now, now=now)


def test_every_record_archived_unchanged_is_clean() -> None:
    a, b = item(60, "aa"), item(30, "bb")
    result = run([a, b], [streamed("INSERT", a), streamed("INSERT", b)])
    assert result.clean
    assert (result.records, result.lines, result.archived, result.recent) == (2, 2, 2, 0)
    assert (
        summary_line(result)
        == "clean: 2 record(s) in the table, 2 archive line(s), every record archived unchanged"
    )


def test_a_retried_batch_and_a_backfill_of_the_same_record_are_not_findings() -> None:
    a = item(60)
    again = line_from_item(a, read_at=NOW, operation_id="2026-12-07T12:00:00.000Z#op")
    result = run([a], [streamed("INSERT", a), streamed("INSERT", a), again])
    assert result.clean
    assert (result.lines, result.archived) == (3, 1)


def test_a_record_rewritten_in_place_is_altered_by_its_hash() -> None:
    original = item(60)
    rewritten = {**original, "decision": {"S": "none"}}
    result = run([rewritten], [streamed("INSERT", original)])
    (finding,) = result.findings
    assert (finding.kind, finding.record_id) == (FindingKind.ALTERED, original["record_id"]["S"])
    assert (finding.table_sha256, finding.archive_sha256) == (
        record_sha256(rewritten),
        record_sha256(original),
    )
    assert finding.detail == (
        f"the table's hash {record_sha256(rewritten)[:12]} is not the archived {record_sha256(original)[:12]}"
    )


def test_a_modify_in_the_archive_is_altered_even_when_the_table_matches_its_new_image() -> None:
    original = item(60)
    rewritten = {**original, "decision": {"S": "none"}}
    result = run([rewritten], [streamed("INSERT", original), streamed("MODIFY", rewritten, original)])
    (finding,) = result.findings
    assert finding.kind is FindingKind.ALTERED
    assert f"{record_sha256(original)[:12]} -> {record_sha256(rewritten)[:12]}" in finding.detail
    assert "1 MODIFY event(s) archived" in finding.detail


def test_archived_lines_that_disagree_with_one_another_are_altered() -> None:
    original = item(60)
    other = {**original, "decision": {"S": "none"}}
    result = run([original], [streamed("INSERT", other), streamed("INSERT", original)])
    (finding,) = result.findings
    assert finding.kind is FindingKind.ALTERED
    assert finding.detail.startswith("archived with 2 different hashes")


def test_a_record_gone_from_the_table_is_deleted() -> None:
    a, b = item(60, "aa"), item(30, "bb")
    result = run([b], [streamed("INSERT", a), streamed("INSERT", b)])
    (finding,) = result.findings
    assert (finding.kind, finding.record_id, finding.detail) == (
        FindingKind.DELETED,
        a["record_id"]["S"],
        "archived, not in the table",
    )
    assert finding.table_sha256 is None


def test_a_remove_in_the_archive_is_deleted_even_when_the_record_was_put_back() -> None:
    a = item(60)
    removed = streamed("REMOVE", None, a)
    result = run([a], [streamed("INSERT", a), removed, streamed("INSERT", a)])
    (finding,) = result.findings
    assert finding.kind is FindingKind.DELETED
    assert finding.detail == (
        f"archived, in the table again; removed at {removed.approximate_time:%Y-%m-%d %H:%M:%S} UTC"
    )


def test_a_record_the_archive_never_got_is_not_archived() -> None:
    a, b = item(60 * 26, "aa"), item(30, "bb")
    result = run([a, b], [streamed("INSERT", b)])
    (finding,) = result.findings
    assert (finding.kind, finding.record_id, finding.detail) == (
        FindingKind.NOT_ARCHIVED,
        a["record_id"]["S"],
        "in the table, not in the archive, 1 day(s) old",
    )
    assert (
        summary_line(result) == "1 finding(s): 1 not-archived (2 record(s) in the table, 1 archive line(s))"
    )


@pytest.mark.parametrize(
    ("age", "finding"),
    [
        (ARCHIVER_LAG - timedelta(seconds=1), False),
        (ARCHIVER_LAG, True),
        (ARCHIVER_LAG + timedelta(seconds=1), True),
    ],
)
def test_the_archivers_lag_is_allowed_to_the_second(age: timedelta, finding: bool) -> None:
    record = item(0)
    result = run([record], [], now=NOW + age)
    assert bool(result.missing) is finding
    assert result.recent == (0 if finding else 1)
    if not finding:
        assert summary_line(result).endswith("; 1 too recent to be archived yet")


def test_the_lag_is_fifteen_minutes() -> None:
    assert timedelta(minutes=15) == ARCHIVER_LAG


def test_findings_come_by_account_then_time_one_per_record() -> None:
    a, b, c = item(90, "aa"), item(60, "bb"), item(30, "cc")
    other = {**item(120, "dd"), "account_id": {"S": "222222222222"}}
    rewritten = {**b, "decision": {"S": "none"}}
    result = run([rewritten, c, other], [streamed("INSERT", a), streamed("INSERT", b)])
    assert [(f.account_id, f.kind) for f in result.findings] == [
        (ACCOUNT, FindingKind.DELETED),
        (ACCOUNT, FindingKind.ALTERED),
        (ACCOUNT, FindingKind.NOT_ARCHIVED),
        ("222222222222", FindingKind.NOT_ARCHIVED),
    ]
    assert summary_line(result) == (
        "4 finding(s): 1 altered, 1 deleted, 2 not-archived (3 record(s) in the table, 2 archive line(s))"
    )


def test_a_records_time_is_its_recorded_at_else_its_ids() -> None:
    with_time = item(60)
    without = {k: v for k, v in with_time.items() if k != "recorded_at"}
    assert (
        table_record(with_time).recorded_at == table_record(without).recorded_at == NOW - timedelta(hours=1)
    )


def test_a_backfill_takes_only_the_never_archived_and_refuses_over_tampering() -> None:
    a, b = item(60, "aa"), item(30, "bb")
    records: list[TableRecord] = [table_record(a), table_record(b)]
    missing = verify(records, [streamed("INSERT", b)], since=SINCE, until=NOW, now=NOW)
    assert [r.record_id for r in to_backfill(missing, records)] == [a["record_id"]["S"]]
    rewritten = [table_record({**b, "decision": {"S": "none"}}), table_record(a)]
    tampered = verify(rewritten, [streamed("INSERT", b)], since=SINCE, until=NOW, now=NOW)
    with pytest.raises(BackfillRefusedError) as refused:
        to_backfill(tampered, rewritten)
    assert str(refused.value) == (
        "the window has 1 altered or deleted record(s), reported above: a backfill never archives over "
        "tampering; investigate them first, then backfill a window without them (--since/--until, --account)"
    )
