"""`akr audit`'s query, the pure part: the window's parsing, the bad input, and which index serves which
filters (org_bootstrap.review.audit_query)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest

from org_bootstrap.review.audit_query import (
    MAX_DAYS,
    AuditQuery,
    KeyQuery,
    QueryError,
    days,
    parse_instant,
    parse_query,
    plan_queries,
    query_arguments,
    record_stamp,
    run,
)
from remediator.adapters.audit_table import to_item
from remediator.audit import AuditRecord, Outcome, Phase, Trigger
from remediator.decision import Action
from remediator.policy import Mode, Thresholds

NOW = datetime(2026, 11, 28, 6, 30, 15, 123456, tzinfo=UTC)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("7d", NOW - timedelta(days=7)),
        ("12h", NOW - timedelta(hours=12)),
        ("30m", NOW - timedelta(minutes=30)),
        ("45s", NOW - timedelta(seconds=45)),
        ("2w", NOW - timedelta(weeks=2)),
        ("1d12h", NOW - timedelta(days=1, hours=12)),
        ("0d", NOW),
        (" 7d ", NOW - timedelta(days=7)),
        ("2026-11-21", datetime(2026, 11, 21, tzinfo=UTC)),
        ("2026-11-21T08:15:00Z", datetime(2026, 11, 21, 8, 15, tzinfo=UTC)),
        ("2026-11-21T08:15:00", datetime(2026, 11, 21, 8, 15, tzinfo=UTC)),
        ("2026-11-21T10:15:00+02:00", datetime(2026, 11, 21, 8, 15, tzinfo=UTC)),
        ("2026-11-21 08:15", datetime(2026, 11, 21, 8, 15, tzinfo=UTC)),
    ],
)
def test_an_instant_is_a_duration_back_from_now_or_an_iso_date_or_time(text: str, expected: datetime) -> None:
    parsed = parse_instant(text, now=NOW, option="--since")
    assert parsed == expected
    assert parsed.tzinfo is not None


@pytest.mark.parametrize(
    "text", ["", "7", "d", "7x", "-7d", "7 d", "7days", "yesterday", "2026-13-01", "2026-11-21Tnope", "1.5h"]
)
def test_a_malformed_instant_is_refused_with_the_option_named(text: str) -> None:
    with pytest.raises(QueryError) as caught:
        parse_instant(text, now=NOW, option="--until")
    assert str(caught.value) == (
        f"--until {text!r} is neither a duration (like 7d, 12h, 30m) nor an ISO date or time "
        "(like 2026-11-21 or 2026-11-21T08:00:00Z)"
    )


def test_a_duration_before_the_year_one_is_refused() -> None:
    with pytest.raises(QueryError, match=r"--since '99999999d' reaches back before the year 1"):
        parse_instant("99999999d", now=NOW, option="--since")


def test_the_defaults_are_the_last_seven_days_newest_first_at_most_1000() -> None:
    assert parse_query(now=NOW) == AuditQuery(
        since=NOW - timedelta(days=7), until=NOW, limit=1000, newest_first=True
    )


def test_the_options_become_the_query() -> None:
    query = parse_query(
        now=NOW,
        since="2026-11-01",
        until="1d",
        account_id="111111111111",
        user_name="alice",
        access_key_id="AKIAEXAMPLE",
        decision="DEACTIVATE",
        outcome="failed",
        limit=5,
        oldest_first=True,
    )
    assert query == AuditQuery(
        since=datetime(2026, 11, 1, tzinfo=UTC),
        until=NOW - timedelta(days=1),
        account_id="111111111111",
        user_name="alice",
        access_key_id="AKIAEXAMPLE",
        decision=Action.DEACTIVATE,
        outcome=Outcome.FAILED,
        limit=5,
        newest_first=False,
    )


@pytest.mark.parametrize(
    ("options", "message"),
    [
        (
            {"since": "1d", "until": "2d"},
            "--since 1d (2026-11-27 06:30:15 UTC) is after --until 2d (2026-11-26 06:30:15 UTC)",
        ),
        (
            {"since": "2026-12-01"},
            "--since 2026-12-01 (2026-12-01 00:00:00 UTC) is after --until now (2026-11-28 06:30:15 UTC)",
        ),
        (
            {"decision": "nuke"},
            "--decision 'nuke' is not one of: none, report, warn, exempt, deactivate, delete, reactivate",
        ),
        ({"outcome": "ok"}, "--outcome 'ok' is not one of: pending, done, failed, skipped"),
        ({"account_id": "12345"}, "--account '12345' is not an account id (12 digits)"),
        ({"limit": 0}, "--limit 0 is not a positive number"),
        ({"since": "soon"}, "--since 'soon' is neither a duration"),
    ],
)
def test_bad_options_are_refused_with_a_clear_message(options: dict[str, object], message: str) -> None:
    with pytest.raises(QueryError) as caught:
        parse_query(now=NOW, **options)  # type: ignore[arg-type]
    assert str(caught.value).startswith(message)


def test_a_key_is_read_from_its_index_with_the_other_filters_on_top() -> None:
    query = parse_query(
        now=NOW, access_key_id="AKIAEXAMPLE", account_id="111111111111", decision="delete", user_name="bob"
    )
    assert plan_queries(query) == [
        KeyQuery(
            "by_access_key",
            "access_key_id",
            "AKIAEXAMPLE",
            {"account_id": "111111111111", "user_name": "bob", "decision": "delete"},
        )
    ]


def test_an_account_is_read_from_the_table() -> None:
    query = parse_query(now=NOW, account_id="111111111111", outcome="done")
    (only,) = plan_queries(query)
    assert only == KeyQuery(None, "account_id", "111111111111", {"outcome": "done"})
    assert only.index_label == "table"


def test_the_organization_is_read_day_by_day_newest_day_first() -> None:
    query = parse_query(now=NOW, since="2d", user_name="carol")
    assert plan_queries(query) == [
        KeyQuery("by_day", "day", day, {"user_name": "carol"})
        for day in ("2026-11-28", "2026-11-27", "2026-11-26")
    ]
    oldest_first = parse_query(now=NOW, since="2d", oldest_first=True)
    assert [q.hash_value for q in plan_queries(oldest_first)] == ["2026-11-26", "2026-11-27", "2026-11-28"]


def test_the_days_of_a_window_are_utc_days() -> None:
    since = datetime(2026, 11, 27, 23, 30, tzinfo=UTC)
    until = datetime(2026, 11, 28, 1, 30, tzinfo=timezone(timedelta(hours=2)))  # 2026-11-27 23:30 UTC
    assert days(since, until, newest_first=True) == ["2026-11-27"]
    assert days(since, since, newest_first=False) == ["2026-11-27"]


def test_the_window_is_a_range_of_record_ids_that_takes_in_its_last_millisecond() -> None:
    query = parse_query(now=NOW, since="2026-11-21T08:00:00Z")
    assert query.lowest_record_id == "2026-11-21T08:00:00.000Z"
    assert query.highest_record_id == "2026-11-28T06:30:15.123Z#~"
    last = record_stamp(NOW) + "#ffffffffffffffff"
    assert query.lowest_record_id < "2026-11-21T08:00:00.000Z#0000000000000000"
    assert last < query.highest_record_id


def test_the_query_arguments_name_every_attribute_through_a_placeholder() -> None:
    query = parse_query(now=NOW, since="1d", user_name="dave", decision="warn", oldest_first=True)
    (first, _) = plan_queries(query)
    assert query_arguments("audit", first, query, page_size=25) == {
        "TableName": "audit",
        "IndexName": "by_day",
        "KeyConditionExpression": "#h = :h AND #r BETWEEN :from AND :to",
        "FilterExpression": "#f0 = :f0 AND #f1 = :f1",
        "ExpressionAttributeNames": {"#h": "day", "#r": "record_id", "#f0": "decision", "#f1": "user_name"},
        "ExpressionAttributeValues": {
            ":h": {"S": "2026-11-27"},
            ":from": {"S": "2026-11-27T06:30:15.123Z"},
            ":to": {"S": "2026-11-28T06:30:15.123Z#~"},
            ":f0": {"S": "warn"},
            ":f1": {"S": "dave"},
        },
        "ScanIndexForward": True,
        "PaginationConfig": {"PageSize": 25},
    }


def test_the_table_query_has_no_index_and_no_filter_when_none_is_left() -> None:
    query = parse_query(now=NOW, account_id="111111111111")
    arguments = query_arguments("audit", plan_queries(query)[0], query, page_size=500)
    assert "IndexName" not in arguments
    assert "FilterExpression" not in arguments
    assert arguments["ScanIndexForward"] is False
    assert arguments["ExpressionAttributeNames"] == {"#h": "account_id", "#r": "record_id"}


class FakePaginator:
    """Pages of a `query` per partition, as the arguments ask for them."""

    def __init__(self, partitions: dict[str, list[AuditRecord]], calls: list[dict[str, Any]]) -> None:
        self._partitions = partitions
        self._calls = calls

    def paginate(self, **arguments: Any) -> Iterator[dict[str, Any]]:
        self._calls.append(arguments)
        records = self._partitions.get(arguments["ExpressionAttributeValues"][":h"]["S"], [])
        ordered = sorted(records, key=lambda r: r.record_id, reverse=not arguments["ScanIndexForward"])
        size = arguments["PaginationConfig"]["PageSize"]
        for start in range(0, len(ordered), size):
            yield {"Items": [to_item(r) for r in ordered[start : start + size]]}


class FakeClient:
    def __init__(self, partitions: dict[str, list[AuditRecord]]) -> None:
        self.calls: list[dict[str, Any]] = []
        self._partitions = partitions

    def get_paginator(self, name: str) -> FakePaginator:
        assert name == "query"
        return FakePaginator(self._partitions, self.calls)


def audit_record(at: datetime, name: str) -> AuditRecord:
    return AuditRecord(
        record_id=f"{record_stamp(at)}#{name}",
        account_id="111111111111",
        decision="none",
        mode=Mode.STAGED,
        reason=name,
        thresholds=Thresholds(),
        trigger=Trigger.SWEEP,
        phase=Phase.DECISION,
        outcome=Outcome.DONE,
        recorded_at=at,
    )


def test_run_reads_the_days_in_order_and_stops_one_past_the_limit() -> None:
    today = [audit_record(NOW - timedelta(minutes=n), f"t{n}") for n in (1, 2, 3)]
    yesterday = [audit_record(NOW - timedelta(days=1, minutes=n), f"y{n}") for n in (1, 2)]
    client = FakeClient({"2026-11-28": today, "2026-11-27": yesterday})
    query = parse_query(now=NOW, since="3d", limit=4)
    page = run(client, "audit", query, page_size=2)  # type: ignore[arg-type]
    assert [r.reason for r in page.records] == ["t1", "t2", "t3", "y1"]
    assert (page.truncated, page.index) == (True, "by_day")
    # The window's days are read CONCURRENCY at a time; the ones not started when the limit is reached
    # are not read at all.
    queried = {c["ExpressionAttributeValues"][":h"]["S"] for c in client.calls}
    assert {"2026-11-28", "2026-11-27"} <= queried <= {"2026-11-28", "2026-11-27", "2026-11-26", "2026-11-25"}
    exact = run(client, "audit", parse_query(now=NOW, since="3d", limit=5), page_size=2)  # type: ignore[arg-type]
    assert ([r.reason for r in exact.records], exact.truncated) == (["t1", "t2", "t3", "y1", "y2"], False)
    oldest = run(client, "audit", parse_query(now=NOW, since="3d", oldest_first=True), page_size=1)  # type: ignore[arg-type]
    assert [r.reason for r in oldest.records] == ["y2", "y1", "t3", "t2", "t1"]


def test_the_days_are_read_in_parallel_batches_and_progress_is_told() -> None:
    partitions = {
        (NOW - timedelta(days=n)).date().isoformat(): [audit_record(NOW - timedelta(days=n), f"d{n}")]
        for n in range(20)
    }
    client = FakeClient(partitions)
    told: list[tuple[int, int, int]] = []
    page = run(
        client,  # type: ignore[arg-type]
        "audit",
        parse_query(now=NOW, since="19d"),
        concurrency=8,
        on_progress=lambda done, total, records: told.append((done, total, records)),
    )
    assert [r.reason for r in page.records] == [f"d{n}" for n in range(20)]  # newest day first
    assert told == [(8, 20, 8), (16, 20, 16), (20, 20, 20)]


@pytest.mark.parametrize(
    ("options", "refused"),
    [
        ({"since": f"{MAX_DAYS - 1}d"}, False),
        ({"since": f"{MAX_DAYS}d"}, True),
        ({"since": "100000d"}, True),
        ({"since": "100000d", "account_id": "111111111111"}, False),
        ({"since": "100000d", "access_key_id": "AKIAKEY0000000000001"}, False),
    ],
)
def test_a_window_read_day_by_day_is_capped(options: dict[str, Any], refused: bool) -> None:
    if not refused:
        parse_query(now=NOW, **options)
        return
    with pytest.raises(QueryError) as raised:
        parse_query(now=NOW, **options)
    spanned = int(options["since"][:-1]) + 1
    assert str(raised.value) == (
        f"--since {options['since']} spans {spanned} days: without --account or --access-key-id the audit "
        f"log is read one day at a time, {MAX_DAYS} days at most; narrow the window, or name the account "
        "or the key (one query, whatever the window)"
    )


def test_the_sweeps_findings_can_be_asked_for() -> None:
    """Users under the protected path, the root user's keys and several active keys are findings."""
    assert parse_query(now=NOW, decision="FINDING").decision == "finding"
