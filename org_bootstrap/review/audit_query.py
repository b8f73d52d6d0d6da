"""`akr audit`: the query of the central audit log. The parsing of the filters and the choice of the index
are pure; `run` pages through DynamoDB, newest first by default, and stops at the limit.

Which key condition serves the filters:
- `--access-key-id`: the index `by_access_key` (access_key_id, record_id), one partition;
- `--account`: the table itself (account_id, record_id), one partition;
- otherwise the index `by_day` (day, record_id), one partition per day of the window, newest day first,
  read CONCURRENCY days at a time, and at most MAX_DAYS days: a longer window is refused, with the
  filters that read one partition whatever the window.
The time window is always a range of the sort key, `record_id` ("<ISO time>Z#<random>"); the filters that
are not in the key condition go into the FilterExpression.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import TYPE_CHECKING, Any

from botocore.exceptions import BotoCoreError, ClientError

from org_bootstrap.aws import describe
from org_bootstrap.review.exemptions import ADD, REMOVE
from remediator.adapters.audit_table import BY_ACCESS_KEY, BY_DAY, from_item
from remediator.audit import AuditRecord, Outcome
from remediator.decision import Action
from remediator.run import FINDING

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient

DEFAULT_SINCE = "7d"
DEFAULT_LIMIT = 1000
DEFAULT_PAGE_SIZE = 500
MAX_DAYS = 366
"""The longest window read day by day (without --account or --access-key-id): a year of partitions."""
CONCURRENCY = 8
"""Day partitions queried at once."""
MAX_WITHIN = timedelta(days=3650)
"""The longest duration ahead that parse_within takes."""
BASE_TABLE = "table"
"""The name `plan_queries` gives the table itself, where the others are index names."""

_DURATION = re.compile(r"(\d+)([wdhms])")
_DURATIONS = re.compile(r"(?:\d+[wdhms])+")
_ISO_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")
_UNITS = {"w": "weeks", "d": "days", "h": "hours", "m": "minutes", "s": "seconds"}
_ACCOUNT_ID = re.compile(r"\d{12}")
_AFTER_EVERY_SUFFIX = "#~"
"""Greater than "#<random hex>": the upper bound takes in every record of its last millisecond."""


class QueryError(ValueError):
    """Bad input: the message says what is wrong and what is expected."""


def _iso_date(value: str) -> date | None:
    try:
        return date.fromisoformat(value)
    except ValueError:
        return None


def parse_duration(text: str) -> timedelta | None:
    """A duration (7d, 12h, 30m, 45s, 2w; combined: 1d12h), or None when `text` is not one. Raises
    OverflowError when it does not fit a timedelta."""
    value = text.strip()
    if not _DURATIONS.fullmatch(value):
        return None
    parts = _DURATION.findall(value)
    return sum((timedelta(**{_UNITS[unit]: int(n)}) for n, unit in parts), timedelta())


def parse_within(text: str, *, option: str, examples: str) -> timedelta:
    """A duration ahead of now for `option` (parse_duration's), up to ten years: later than that is no
    horizon anyone plans for, and adding it to now could overflow. `examples` (like "30d, 2w, 12h") go
    into the message of a QueryError. Pure."""
    try:
        within = parse_duration(text)
    except OverflowError:
        within = timedelta.max
    if within is None:
        raise QueryError(f"{option} {text!r} is not a duration (like {examples})")
    if within > MAX_WITHIN:
        raise QueryError(f"{option} {text!r} is longer than {MAX_WITHIN.days} days")
    return within


def parse_instant(text: str, *, now: datetime, option: str) -> datetime:
    """A duration back from `now` (7d, 12h, 30m, 45s, 2w; combined: 1d12h), an ISO date (midnight UTC)
    or an ISO date and time (UTC unless it has an offset)."""
    value = text.strip()
    try:
        duration = parse_duration(value)
        if duration is not None:
            return now - duration
    except OverflowError:
        raise QueryError(f"{option} {text!r} reaches back before the year 1") from None
    parsed: datetime | None = None
    if _ISO_DATE.fullmatch(value):
        day = _iso_date(value)
        parsed = None if day is None else datetime.combine(day, datetime.min.time(), tzinfo=UTC)
    elif _ISO_DATE.match(value):
        try:
            parsed = datetime.fromisoformat(value)
        except ValueError:
            parsed = None
    if parsed is None:
        raise QueryError(
            f"{option} {text!r} is neither a duration (like 7d, 12h, 30m) nor an ISO date or time "
            "(like 2026-11-21 or 2026-11-21T08:00:00Z)"
        )
    return parsed.replace(tzinfo=UTC) if parsed.tzinfo is None else parsed.astimezone(UTC)


DECISIONS = (*(action.value for action in Action), FINDING, ADD, REMOVE)
"""What a record's `decision` can be: the remediator's actions, the sweep's report-only findings (several
active keys, the root user's keys, users under the protected path), and the changes to the exemptions."""


def _choice(allowed: tuple[str, ...], text: str | None, option: str) -> str | None:
    if text is None:
        return None
    value = text.strip().lower()
    if value not in allowed:
        raise QueryError(f"{option} {text!r} is not one of: {', '.join(allowed)}")
    return value


@dataclass(frozen=True)
class AuditQuery:
    since: datetime
    until: datetime
    account_id: str | None = None
    user_name: str | None = None
    access_key_id: str | None = None
    decision: str | None = None
    outcome: str | None = None
    limit: int = DEFAULT_LIMIT
    newest_first: bool = True

    @property
    def lowest_record_id(self) -> str:
        return record_stamp(self.since)

    @property
    def highest_record_id(self) -> str:
        return record_stamp(self.until) + _AFTER_EVERY_SUFFIX


def record_stamp(instant: datetime) -> str:
    """The time part of a record id (remediator.audit.new_record_id)."""
    return instant.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


def parse_query(
    *,
    now: datetime,
    since: str | None = None,
    until: str | None = None,
    account_id: str | None = None,
    user_name: str | None = None,
    access_key_id: str | None = None,
    decision: str | None = None,
    outcome: str | None = None,
    limit: int = DEFAULT_LIMIT,
    oldest_first: bool = False,
) -> AuditQuery:
    """The command's options as a query, or a QueryError. Pure."""
    start = parse_instant(since or DEFAULT_SINCE, now=now, option="--since")
    end = now if until is None else parse_instant(until, now=now, option="--until")
    if start > end:
        raise QueryError(
            f"--since {since or DEFAULT_SINCE} ({start:%Y-%m-%d %H:%M:%S} UTC) is after --until "
            f"{until or 'now'} ({end:%Y-%m-%d %H:%M:%S} UTC)"
        )
    if account_id is not None and _ACCOUNT_ID.fullmatch(account_id) is None:
        raise QueryError(f"--account {account_id!r} is not an account id (12 digits)")
    spanned = (end.date() - start.date()).days + 1
    if account_id is None and access_key_id is None and spanned > MAX_DAYS:
        raise QueryError(
            f"--since {since or DEFAULT_SINCE} spans {spanned} days: without --account or --access-key-id "
            f"the audit log is read one day at a time, {MAX_DAYS} days at most; narrow the window, or "
            "name the account or the key (one query, whatever the window)"
        )
    if limit < 1:
        raise QueryError(f"--limit {limit} is not a positive number")
    return AuditQuery(
        since=start,
        until=end,
        account_id=account_id,
        user_name=user_name,
        access_key_id=access_key_id,
        decision=_choice(DECISIONS, decision, "--decision"),
        outcome=_choice(tuple(o.value for o in Outcome), outcome, "--outcome"),
        limit=limit,
        newest_first=not oldest_first,
    )


@dataclass(frozen=True)
class KeyQuery:
    """One DynamoDB Query: the index (None for the table) and its expressions."""

    index: str | None
    hash_name: str
    hash_value: str
    filters: dict[str, str] = field(default_factory=dict)
    """Attribute -> the value it must equal: the filters that are not in the key condition."""

    @property
    def index_label(self) -> str:
        return self.index or BASE_TABLE


def days(since: datetime, until: datetime, *, newest_first: bool) -> list[str]:
    """The `day` partitions (UTC) of the window, in the order they are read."""
    first, last = since.astimezone(UTC).date(), until.astimezone(UTC).date()
    listed = [(first + timedelta(days=n)).isoformat() for n in range((last - first).days + 1)]
    return listed[::-1] if newest_first else listed


def plan_queries(query: AuditQuery) -> list[KeyQuery]:
    """The Queries that together return the query's records, in order. Pure."""
    wanted = {
        "account_id": query.account_id,
        "access_key_id": query.access_key_id,
        "user_name": query.user_name,
        "decision": query.decision,
        "outcome": query.outcome,
    }

    def rest(without: str) -> dict[str, str]:
        return {name: value for name, value in wanted.items() if value is not None and name != without}

    if query.access_key_id is not None:
        return [KeyQuery(BY_ACCESS_KEY, "access_key_id", query.access_key_id, rest("access_key_id"))]
    if query.account_id is not None:
        return [KeyQuery(None, "account_id", query.account_id, rest("account_id"))]
    return [
        KeyQuery(BY_DAY, "day", day, rest("day"))
        for day in days(query.since, query.until, newest_first=query.newest_first)
    ]


def query_arguments(
    table_name: str, key_query: KeyQuery, query: AuditQuery, *, page_size: int
) -> dict[str, Any]:
    """The arguments of the Query paginator. Pure. Attribute names go through placeholders: `day` is a
    DynamoDB reserved word."""
    names = {"#h": key_query.hash_name, "#r": "record_id"}
    values: dict[str, Any] = {
        ":h": {"S": key_query.hash_value},
        ":from": {"S": query.lowest_record_id},
        ":to": {"S": query.highest_record_id},
    }
    conditions = []
    for n, (name, value) in enumerate(sorted(key_query.filters.items())):
        names[f"#f{n}"] = name
        values[f":f{n}"] = {"S": value}
        conditions.append(f"#f{n} = :f{n}")
    arguments: dict[str, Any] = {
        "TableName": table_name,
        "KeyConditionExpression": "#h = :h AND #r BETWEEN :from AND :to",
        "ExpressionAttributeNames": names,
        "ExpressionAttributeValues": values,
        "ScanIndexForward": not query.newest_first,
        "PaginationConfig": {"PageSize": page_size},
    }
    if key_query.index is not None:
        arguments["IndexName"] = key_query.index
    if conditions:
        arguments["FilterExpression"] = " AND ".join(conditions)
    return arguments


@dataclass(frozen=True)
class AuditPage:
    records: list[AuditRecord]
    truncated: bool
    """True when more records match than --limit let through."""
    index: str


class AuditReadError(Exception):
    """DynamoDB refused or failed the query: the message names the call."""


Progress = Callable[[int, int, int], None]
"""(partitions read, partitions in all, records so far)."""


def _items(client: DynamoDBClient, arguments: dict[str, Any]) -> Iterator[dict[str, Any]]:
    paginator = client.get_paginator("query")
    for page in paginator.paginate(**arguments):
        yield from page["Items"]


def run(
    client: DynamoDBClient,
    table_name: str,
    query: AuditQuery,
    *,
    page_size: int = DEFAULT_PAGE_SIZE,
    concurrency: int = CONCURRENCY,
    on_progress: Progress | None = None,
) -> AuditPage:
    """The planned Queries, `concurrency` at a time (each reads at most one record past the limit), in
    order; stops one record past the limit. The client is shared by the threads: clients are
    thread-safe."""
    key_queries = plan_queries(query)
    index = key_queries[0].index_label

    def read(key_query: KeyQuery) -> list[AuditRecord]:
        found: list[AuditRecord] = []
        for item in _items(client, query_arguments(table_name, key_query, query, page_size=page_size)):
            found.append(from_item(item))
            if len(found) > query.limit:
                break
        return found

    records: list[AuditRecord] = []
    try:
        with ThreadPoolExecutor(max_workers=concurrency, thread_name_prefix="akr-audit") as pool:
            for start in range(0, len(key_queries), concurrency):
                batch = key_queries[start : start + concurrency]
                for found in pool.map(read, batch):
                    for record in found:
                        if len(records) == query.limit:
                            return AuditPage(records, truncated=True, index=index)
                        records.append(record)
                if on_progress is not None:
                    on_progress(start + len(batch), len(key_queries), len(records))
    except (ClientError, BotoCoreError) as exc:
        raise AuditReadError(f"dynamodb:Query on {table_name}: {describe(exc)}") from exc
    return AuditPage(records, truncated=False, index=index)
