"""The IAM credential report: which users are worth a live look. Pure.

The report lists every user's keys in one CSV, so an account scan costs a few calls whatever its size. It
can be up to four hours old, so it only nominates candidates: every decision is taken on the user's live
IAM state. Keys are not named in the report; slot 1 and 2 carry `last_rotated` (the key's creation) and
`last_used_date` ("N/A" when never used).
https://docs.aws.amazon.com/IAM/latest/UserGuide/id_credentials_getting-report.html
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable
from datetime import datetime, timedelta

from pydantic import AwareDatetime, BaseModel, ConfigDict

from remediator.policy import Thresholds

ROOT_ROW = "<root_account>"
# IAM regenerates the report at most every four hours; a report is never older than that.
MAX_REPORT_AGE = timedelta(hours=4)


class ReportKey(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    active: bool
    last_rotated: AwareDatetime | None
    last_used: AwareDatetime | None

    @property
    def last_activity(self) -> datetime | None:
        return self.last_used or self.last_rotated


class ReportRow(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    user: str
    arn: str
    keys: tuple[ReportKey, ...]

    @property
    def active_keys(self) -> int:
        return sum(1 for key in self.keys if key.active)


class RowProblem(BaseModel):
    """A row of the report that does not read: the user is read live instead, and a finding says why."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    user: str
    why: str


class CredentialReport(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    generated_at: AwareDatetime
    rows: tuple[ReportRow, ...]
    problems: tuple[RowProblem, ...] = ()

    @property
    def users(self) -> tuple[ReportRow, ...]:
        return tuple(row for row in self.rows if row.user != ROOT_ROW)

    @property
    def root(self) -> ReportRow | None:
        return next((row for row in self.rows if row.user == ROOT_ROW), None)


def parse_report(content: str, generated_at: datetime) -> CredentialReport:
    """Row by row: a row that does not read (a malformed time, a stray comma, a missing column) is a
    problem naming the user and the field; the other rows are read as usual."""
    rows: list[ReportRow] = []
    problems: list[RowProblem] = []
    reader = csv.DictReader(io.StringIO(content), restkey=_EXTRA)
    for record in reader:
        user = record.get("user") or f"line {reader.line_num}"
        try:
            rows.append(_row(record))
        except _UnreadableError as exc:
            problems.append(RowProblem(user=user, why=str(exc)))
    return CredentialReport(generated_at=generated_at, rows=tuple(rows), problems=tuple(problems))


_EXTRA = "\x00extra"
_REQUIRED = (
    "user",
    "arn",
    *(
        f"access_key_{slot}_{field}"
        for slot in (1, 2)
        for field in ("active", "last_rotated", "last_used_date")
    ),
)


class _UnreadableError(ValueError):
    pass


def _row(record: dict[str, str | None]) -> ReportRow:
    if record.get(_EXTRA):
        raise _UnreadableError(f"{len(record[_EXTRA] or ())} more field(s) than the header")
    missing = [name for name in _REQUIRED if record.get(name) is None]
    if missing:
        raise _UnreadableError(f"no {missing[0]}")
    keys = []
    for slot in (1, 2):
        active = record[f"access_key_{slot}_active"]
        if active not in ("true", "false"):
            raise _UnreadableError(f"access_key_{slot}_active {active!r}")
        keys.append(
            ReportKey(
                active=active == "true",
                last_rotated=_time(record, f"access_key_{slot}_last_rotated"),
                last_used=_time(record, f"access_key_{slot}_last_used_date"),
            )
        )
    return ReportRow(user=str(record["user"]), arn=str(record["arn"]), keys=tuple(keys))


def _time(record: dict[str, str | None], field: str) -> datetime | None:
    value = record.get(field)
    if not value or value in ("N/A", "not_supported", "no_information"):
        return None
    try:
        moment = datetime.fromisoformat(value)
    except ValueError as exc:
        raise _UnreadableError(f"{field} {value!r}") from exc
    if moment.tzinfo is None:
        raise _UnreadableError(f"{field} {value!r} has no time zone")
    return moment


def candidates(
    report: CredentialReport, thresholds: Thresholds, now: datetime, *, warn_days: int = 0
) -> tuple[str, ...]:
    """Users with an active key that breaks a rule, or will within `warn_days`, by the report's data.
    The report's own age is taken off the limits, so that a key that crossed its limit since the report
    was made is still nominated."""
    slack = min(max(now - report.generated_at, timedelta(0)), MAX_REPORT_AGE) + timedelta(days=warn_days)
    max_age = timedelta(days=thresholds.max_key_age_days) - slack
    max_unused = timedelta(days=thresholds.max_unused_days) - slack
    return tuple(
        sorted(
            row.user
            for row in report.users
            if any(_nominated(key, now, max_age, max_unused) for key in row.keys if key.active)
        )
    )


def _nominated(key: ReportKey, now: datetime, max_age: timedelta, max_unused: timedelta) -> bool:
    if key.last_rotated is None or key.last_activity is None:
        return True  # an active key the report cannot date: look at it live
    # >=: decide() warns at exactly warn_days before the due date, so the window is closed at this end.
    return now - key.last_rotated >= max_age or now - key.last_activity >= max_unused


def users_with_several_active_keys(rows: Iterable[ReportRow]) -> tuple[str, ...]:
    """CIS v1.4+ 1.13: at most one active access key per user."""
    return tuple(sorted(row.user for row in rows if row.user != ROOT_ROW and row.active_keys > 1))
