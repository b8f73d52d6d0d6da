"""The credential report: parsing the real CSV, nominating candidates at N-1, N and N+1 days with the
report-age slack and the warning window, and CIS 1.13 (one active key per user)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from pydantic import ValidationError

from remediator.credential_report import (
    MAX_REPORT_AGE,
    ROOT_ROW,
    CredentialReport,
    ReportKey,
    ReportRow,
    RowProblem,
    candidates,
    parse_report,
    users_with_several_active_keys,
)
from remediator.decision import Action, decide
from remediator.facts import KeyFacts, UserFacts
from remediator.policy import PRESETS, Mode, Policy, Thresholds
from remediator.report_findings import user_path

NOW = datetime(2025, 6, 1, 12, 0, tzinfo=UTC)
SECOND = timedelta(seconds=1)
HOUR = timedelta(hours=1)
ACCOUNT = "111122223333"
DEFAULT = Thresholds()
CIS_14 = PRESETS["cis-1.4"]
UNUSED_ONLY = Thresholds(max_key_age_days=365, max_unused_days=90)

HEADER = (
    "user,arn,user_creation_time,password_enabled,password_last_used,password_last_changed,"
    "password_next_rotation,mfa_active,access_key_1_active,access_key_1_last_rotated,"
    "access_key_1_last_used_date,access_key_1_last_used_region,access_key_1_last_used_service,"
    "access_key_2_active,access_key_2_last_rotated,access_key_2_last_used_date,"
    "access_key_2_last_used_region,access_key_2_last_used_service,cert_1_active,cert_1_last_rotated,"
    "cert_2_active,cert_2_last_rotated"
)

# As IAM returns it (GetCredentialReport, Content decoded), anonymised; generated at NOW.
REPORT = f"""{HEADER}
<root_account>,arn:aws:iam::111122223333:root,2019-02-13T09:12:40+00:00,not_supported,2025-05-30T08:01:12+00:00,not_supported,not_supported,true,false,N/A,N/A,N/A,N/A,false,N/A,N/A,N/A,N/A,false,N/A,false,N/A
alice,arn:aws:iam::111122223333:user/alice,2023-01-10T10:00:00+00:00,true,2025-05-31T07:45:02+00:00,2024-11-02T10:00:00+00:00,2025-05-01T10:00:00+00:00,true,true,2025-04-01T09:30:00+00:00,2025-05-31T22:10:00+00:00,eu-west-1,s3,false,N/A,N/A,N/A,N/A,false,N/A,false,N/A
ci-deploy,arn:aws:iam::111122223333:user/service/ci-deploy,2021-06-01T08:00:00+00:00,false,N/A,N/A,N/A,false,true,2024-12-01T08:00:00+00:00,2025-05-31T23:59:00+00:00,us-east-1,cloudformation,true,2025-05-20T08:00:00+00:00,2025-05-31T06:00:00+00:00,us-east-1,sts,false,N/A,false,N/A
carol,arn:aws:iam::111122223333:user/carol,2024-03-05T14:20:00+00:00,true,no_information,2024-03-05T14:20:00+00:00,2025-06-03T14:20:00+00:00,true,false,N/A,N/A,N/A,N/A,false,N/A,N/A,N/A,N/A,false,N/A,false,N/A
dave,arn:aws:iam::111122223333:user/dave,2022-09-09T09:09:09+00:00,false,N/A,N/A,N/A,false,false,2023-01-02T03:04:05+00:00,2023-06-30T12:00:00+00:00,eu-central-1,ec2,true,2025-05-15T10:00:00+00:00,N/A,N/A,N/A,false,N/A,false,N/A
erin,arn:aws:iam::111122223333:user/erin,2025-01-15T12:00:00+00:00,false,N/A,N/A,N/A,false,true,2025-01-15T12:00:00+00:00,N/A,N/A,N/A,false,N/A,N/A,N/A,N/A,false,N/A,false,N/A
"""


def days(n: float) -> timedelta:
    return timedelta(days=n)


def at(value: str) -> datetime:
    return datetime.fromisoformat(value)


NO_KEY = ReportKey(active=False, last_rotated=None, last_used=None)


# --- parse_report ------------------------------------------------------------------------------------


def test_parse_report_reads_every_row_in_order() -> None:
    report = parse_report(REPORT, NOW)

    assert report.generated_at == NOW
    assert [row.user for row in report.rows] == [ROOT_ROW, "alice", "ci-deploy", "carol", "dave", "erin"]
    assert report.rows[2].arn == "arn:aws:iam::111122223333:user/service/ci-deploy"


@pytest.mark.parametrize(
    ("user", "keys", "active_keys"),
    [
        (ROOT_ROW, (NO_KEY, NO_KEY), 0),
        (
            "alice",
            (
                ReportKey(
                    active=True,
                    last_rotated=at("2025-04-01T09:30:00+00:00"),
                    last_used=at("2025-05-31T22:10:00+00:00"),
                ),
                NO_KEY,
            ),
            1,
        ),
        (
            "ci-deploy",
            (
                ReportKey(
                    active=True,
                    last_rotated=at("2024-12-01T08:00:00+00:00"),
                    last_used=at("2025-05-31T23:59:00+00:00"),
                ),
                ReportKey(
                    active=True,
                    last_rotated=at("2025-05-20T08:00:00+00:00"),
                    last_used=at("2025-05-31T06:00:00+00:00"),
                ),
            ),
            2,
        ),
        ("carol", (NO_KEY, NO_KEY), 0),
        (
            "dave",
            (
                ReportKey(
                    active=False,
                    last_rotated=at("2023-01-02T03:04:05+00:00"),
                    last_used=at("2023-06-30T12:00:00+00:00"),
                ),
                ReportKey(active=True, last_rotated=at("2025-05-15T10:00:00+00:00"), last_used=None),
            ),
            1,
        ),
        (
            "erin",
            (ReportKey(active=True, last_rotated=at("2025-01-15T12:00:00+00:00"), last_used=None), NO_KEY),
            1,
        ),
    ],
    ids=["root-no-keys", "one-key", "two-active-keys", "no-keys", "inactive-and-never-used", "never-used"],
)
def test_parse_report_reads_both_key_slots(user: str, keys: tuple[ReportKey, ...], active_keys: int) -> None:
    (row,) = (row for row in parse_report(REPORT, NOW).rows if row.user == user)

    assert row.keys == keys
    assert row.active_keys == active_keys


def test_parsed_times_are_aware_utc() -> None:
    row = parse_report(REPORT, NOW).rows[1]

    assert row.keys[0].last_rotated == datetime(2025, 4, 1, 9, 30, tzinfo=UTC)
    assert row.keys[0].last_rotated.utcoffset() == timedelta(0)


@pytest.mark.parametrize(
    ("last_used", "last_activity"),
    [
        ("2025-05-31T22:10:00+00:00", datetime(2025, 5, 31, 22, 10, tzinfo=UTC)),
        ("N/A", datetime(2025, 4, 1, 9, 30, tzinfo=UTC)),
    ],
    ids=["used", "never-used-counts-from-creation"],
)
def test_last_activity_is_the_last_use_or_the_creation(last_used: str, last_activity: datetime) -> None:
    report = parse_report(report_csv(user_row("u", slot(True, "2025-04-01T09:30:00+00:00", last_used))), NOW)

    assert report.rows[0].keys[0].last_activity == last_activity


def test_root_and_users() -> None:
    report = parse_report(REPORT, NOW)

    assert report.root is not None
    assert report.root.user == ROOT_ROW
    assert report.root.arn == "arn:aws:iam::111122223333:root"
    assert [row.user for row in report.users] == ["alice", "ci-deploy", "carol", "dave", "erin"]


def test_report_without_root_row() -> None:
    report = parse_report(report_csv(user_row("alice")), NOW)

    assert report.root is None
    assert [row.user for row in report.users] == ["alice"]


def test_header_only_report_is_empty() -> None:
    report = parse_report(f"{HEADER}\n", NOW)

    assert report == CredentialReport(generated_at=NOW, rows=())
    assert report.root is None
    assert report.users == ()
    assert candidates(report, DEFAULT, NOW) == ()


# --- candidates: building blocks -----------------------------------------------------------------------


def iso(value: datetime | None) -> str:
    return "N/A" if value is None else value.isoformat()


def slot(active: bool, rotated: datetime | str | None, used: datetime | str | None = None) -> str:
    """The five access_key_N_* columns."""
    rotated_text = rotated if isinstance(rotated, str) else iso(rotated)
    used_text = used if isinstance(used, str) else iso(used)
    where = "N/A,N/A" if used_text == "N/A" else "eu-west-1,iam"
    return f"{'true' if active else 'false'},{rotated_text},{used_text},{where}"


EMPTY_SLOT = slot(False, None)


def user_row(name: str, first: str = EMPTY_SLOT, second: str = EMPTY_SLOT) -> str:
    arn = f"arn:aws:iam::{ACCOUNT}:user/{name}" if name != ROOT_ROW else f"arn:aws:iam::{ACCOUNT}:root"
    return (
        f"{name},{arn},2020-01-01T00:00:00+00:00,false,N/A,N/A,N/A,false,{first},{second},false,N/A,false,N/A"
    )


def report_csv(*rows: str) -> str:
    return "\n".join((HEADER, *rows)) + "\n"


def active(age: timedelta, idle: timedelta | None = None) -> str:
    """An active key created `age` before NOW and last used `idle` before NOW (None: never used)."""
    return slot(True, NOW - age, None if idle is None else NOW - idle)


def nominated(
    first: str,
    *,
    thresholds: Thresholds = DEFAULT,
    generated_at: datetime = NOW,
    warn_days: int = 0,
) -> bool:
    report = parse_report(report_csv(user_row("alice", first)), generated_at)
    found = candidates(report, thresholds, NOW, warn_days=warn_days)
    assert found in ((), ("alice",))
    return found == ("alice",)


# --- candidates: N-1, N, N+1 for both rules, fresh report ----------------------------------------------
# The window is closed: a key at its last compliant instant (N days exactly) is nominated, as `decide`
# warns at exactly warn_days before it; nominating costs one live look, missing a key costs a sweep.


@pytest.mark.parametrize(
    ("thresholds", "first", "expected"),
    [
        # rotation 90, key in daily use
        (DEFAULT, active(days(89), days(1)), False),
        (DEFAULT, active(days(90) - SECOND, days(1)), False),
        (DEFAULT, active(days(90), days(1)), True),
        (DEFAULT, active(days(90) + SECOND, days(1)), True),
        (DEFAULT, active(days(91), days(1)), True),
        # unused 90 counted from the last use, rotation far away
        (UNUSED_ONLY, active(days(200), days(89)), False),
        (UNUSED_ONLY, active(days(200), days(90) - SECOND), False),
        (UNUSED_ONLY, active(days(200), days(90)), True),
        (UNUSED_ONLY, active(days(200), days(91)), True),
        # cis-1.4 unused 45, last used
        (CIS_14, active(days(60), days(44)), False),
        (CIS_14, active(days(60), days(45) - SECOND), False),
        (CIS_14, active(days(60), days(45)), True),
        (CIS_14, active(days(60), days(46)), True),
        # cis-1.4 unused 45, never used: counted from the creation
        (CIS_14, active(days(44)), False),
        (CIS_14, active(days(45) - SECOND), False),
        (CIS_14, active(days(45)), True),
        (CIS_14, active(days(46)), True),
    ],
    ids=[
        "rotation-89d",
        "rotation-90d-1s",
        "rotation-90d",
        "rotation-90d+1s",
        "rotation-91d",
        "unused-idle-89d",
        "unused-idle-90d-1s",
        "unused-idle-90d",
        "unused-idle-91d",
        "cis14-idle-44d",
        "cis14-idle-45d-1s",
        "cis14-idle-45d",
        "cis14-idle-46d",
        "cis14-never-used-44d",
        "cis14-never-used-45d-1s",
        "cis14-never-used-45d",
        "cis14-never-used-46d",
    ],
)
def test_candidates_at_the_thresholds(thresholds: Thresholds, first: str, expected: bool) -> None:
    assert nominated(first, thresholds=thresholds) is expected


# --- candidates: the report's age is taken off the limits, at most four hours --------------------------

THREE_HOURS_AGO = NOW - 3 * HOUR
MOTO_REPORT_TIME = datetime(2015, 1, 1, tzinfo=UTC)  # moto's GeneratedTime: years before NOW
# rotation 90 and unused 30, so that each rule can be moved on its own
SLACK_THRESHOLDS = Thresholds(max_key_age_days=90, max_unused_days=30)


@pytest.mark.parametrize(
    ("generated_at", "first", "expected"),
    [
        # generated 3 h ago: 3 h slack
        (THREE_HOURS_AGO, active(days(90) - 2 * HOUR, days(1)), True),
        (THREE_HOURS_AGO, active(days(90) - 3 * HOUR, days(1)), True),
        (THREE_HOURS_AGO, active(days(90) - 3 * HOUR - SECOND, days(1)), False),
        (THREE_HOURS_AGO, active(days(90) - 4 * HOUR, days(1)), False),
        (THREE_HOURS_AGO, active(days(60), days(30) - 2 * HOUR), True),
        (THREE_HOURS_AGO, active(days(60), days(30) - 4 * HOUR), False),
        (THREE_HOURS_AGO, active(days(30) - 2 * HOUR), True),
        # the same keys on a fresh report are not nominated
        (NOW, active(days(90) - 2 * HOUR, days(1)), False),
        (NOW, active(days(60), days(30) - 2 * HOUR), False),
        (NOW, active(days(30) - 2 * HOUR), False),
        # years old (moto): capped at 4 h
        (MOTO_REPORT_TIME, active(days(90) - 4 * HOUR, days(1)), True),
        (MOTO_REPORT_TIME, active(days(90) - 4 * HOUR - SECOND, days(1)), False),
        (MOTO_REPORT_TIME, active(days(90) - 5 * HOUR, days(1)), False),
        (MOTO_REPORT_TIME, active(days(1), days(1)), False),
        (MOTO_REPORT_TIME, active(days(60), days(30) - 4 * HOUR), True),
        (MOTO_REPORT_TIME, active(days(60), days(30) - 5 * HOUR), False),
        # generated "after" NOW (clock skew): no slack, never a negative one
        (NOW + HOUR, active(days(90) - SECOND, days(1)), False),
        (NOW + HOUR, active(days(90), days(1)), True),
    ],
    ids=[
        "3h-old-rotation-90d-2h",
        "3h-old-rotation-90d-3h",
        "3h-old-rotation-90d-3h-1s",
        "3h-old-rotation-90d-4h",
        "3h-old-unused-30d-2h",
        "3h-old-unused-30d-4h",
        "3h-old-never-used-30d-2h",
        "fresh-rotation-90d-2h",
        "fresh-unused-30d-2h",
        "fresh-never-used-30d-2h",
        "2015-rotation-90d-4h",
        "2015-rotation-90d-4h-1s",
        "2015-rotation-90d-5h",
        "2015-young-key",
        "2015-unused-30d-4h",
        "2015-unused-30d-5h",
        "future-rotation-90d-1s",
        "future-rotation-90d",
    ],
)
def test_report_age_slack(generated_at: datetime, first: str, expected: bool) -> None:
    assert nominated(first, thresholds=SLACK_THRESHOLDS, generated_at=generated_at) is expected


def test_max_report_age_is_four_hours() -> None:
    assert MAX_REPORT_AGE == 4 * HOUR


# --- candidates: the warning window ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("warn_days", "generated_at", "thresholds", "first", "expected"),
    [
        # warn 14, rotation 90: nominated from 76 days on
        (14, NOW, DEFAULT, active(days(75), days(1)), False),
        (14, NOW, DEFAULT, active(days(76) - SECOND, days(1)), False),
        (14, NOW, DEFAULT, active(days(76), days(1)), True),
        (14, NOW, DEFAULT, active(days(77), days(1)), True),
        # warn 14, cis-1.4 unused 45: from 31 days idle on
        (14, NOW, CIS_14, active(days(60), days(30)), False),
        (14, NOW, CIS_14, active(days(60), days(31) - SECOND), False),
        (14, NOW, CIS_14, active(days(60), days(31)), True),
        (14, NOW, CIS_14, active(days(60), days(32)), True),
        # warn 14 plus a 3 h old report
        (14, THREE_HOURS_AGO, DEFAULT, active(days(76) - 2 * HOUR, days(1)), True),
        (14, THREE_HOURS_AGO, DEFAULT, active(days(76) - 4 * HOUR, days(1)), False),
        # no window: the plain limit
        (0, NOW, DEFAULT, active(days(89), days(1)), False),
    ],
    ids=[
        "rotation-75d",
        "rotation-76d-1s",
        "rotation-76d",
        "rotation-77d",
        "cis14-idle-30d",
        "cis14-idle-31d-1s",
        "cis14-idle-31d",
        "cis14-idle-32d",
        "3h-old-rotation-76d-2h",
        "3h-old-rotation-76d-4h",
        "no-window-89d",
    ],
)
def test_warn_days_widen_the_window(
    warn_days: int, generated_at: datetime, thresholds: Thresholds, first: str, expected: bool
) -> None:
    assert nominated(first, thresholds=thresholds, generated_at=generated_at, warn_days=warn_days) is expected


@pytest.mark.parametrize(
    ("warn_days", "due_in"),
    [(14, days(13)), (14, days(14)), (1, days(0)), (1, days(1)), (90, days(90))],
    ids=["14-13d", "14-14d", "1-now", "1-1d", "90-90d"],
)
def test_a_fresh_report_nominates_every_key_decide_warns_about(warn_days: int, due_in: timedelta) -> None:
    """The report only nominates; a key `decide` would warn about must not be lost by the nomination."""
    age = days(90) - due_in
    facts = UserFacts(
        account_id=ACCOUNT,
        user_name="alice",
        user_id="AIDAEXAMPLEUSERID0001",
        keys=(KeyFacts(access_key_id="AKIAAAAAAAAAAAAAAAAA", status="Active", created_at=NOW - age),),
    )
    pol = Policy(mode=Mode.DEACTIVATE, warn_days_before=warn_days)
    (decision,) = decide(facts, pol, (), NOW)
    assert decision.action is Action.WARN

    assert nominated(active(age), thresholds=pol.thresholds, warn_days=warn_days)


# --- candidates: which keys count ------------------------------------------------------------------------


@pytest.mark.parametrize(
    "first",
    [
        slot(False, NOW - days(400)),
        slot(False, NOW - days(400), NOW - days(300)),
        slot(False, None),
    ],
    ids=["inactive-never-used", "inactive-long-unused", "no-key"],
)
def test_inactive_keys_are_never_nominated(first: str) -> None:
    assert not nominated(first, generated_at=MOTO_REPORT_TIME, warn_days=90)


@pytest.mark.parametrize(
    "first",
    [slot(True, None), slot(True, None, NOW - days(1)), slot(True, "not_supported", "no_information")],
    ids=["no-dates", "no-creation-date", "placeholders"],
)
def test_an_active_key_the_report_cannot_date_is_nominated(first: str) -> None:
    assert nominated(first)


def test_either_slot_nominates_and_users_come_back_sorted() -> None:
    young = active(days(10), days(1))
    old = active(days(120), days(1))
    content = report_csv(
        user_row("zoe", young, old),
        user_row("bob", old, young),
        user_row("alice", young, young),
        user_row("carl", slot(False, NOW - days(400)), young),
    )

    assert candidates(parse_report(content, NOW), DEFAULT, NOW) == ("bob", "zoe")


def test_root_account_is_never_a_candidate() -> None:
    old = active(days(400))
    content = report_csv(user_row(ROOT_ROW, old, old), user_row("alice", old))

    assert candidates(parse_report(content, NOW), DEFAULT, NOW) == ("alice",)


def test_candidates_in_the_realistic_report() -> None:
    report = parse_report(REPORT, NOW)

    # ci-deploy: key 1 is 182 days old; erin: never used for 137 days; dave's old key is inactive.
    assert candidates(report, DEFAULT, NOW) == ("ci-deploy", "erin")
    assert candidates(report, CIS_14, NOW) == ("ci-deploy", "erin")
    # dave's active key (17 days 2 h, never used) is due in 27 days 22 h under cis-1.4
    assert candidates(report, CIS_14, NOW, warn_days=27) == ("ci-deploy", "erin")
    assert candidates(report, CIS_14, NOW, warn_days=28) == ("ci-deploy", "dave", "erin")


# --- CIS 1.13: one active key per user ---------------------------------------------------------------


def test_users_with_several_active_keys_in_the_realistic_report() -> None:
    assert users_with_several_active_keys(parse_report(REPORT, NOW).rows) == ("ci-deploy",)


def test_users_with_several_active_keys_ignores_root_and_inactive_keys() -> None:
    young = active(days(10), days(1))
    inactive = slot(False, NOW - days(10))
    content = report_csv(
        user_row(ROOT_ROW, young, young),
        user_row("zoe", young, young),
        user_row("bob", young, inactive),
        user_row("carl", inactive, inactive),
        user_row("alice", young, young),
        user_row("dora"),
    )
    report = parse_report(content, NOW)

    assert users_with_several_active_keys(report.rows) == ("alice", "zoe")
    assert users_with_several_active_keys(report.users) == ("alice", "zoe")
    assert users_with_several_active_keys(()) == ()


# --- rows that do not read -----------------------------------------------------------------------------


def _with_alice(transform: str) -> str:
    """REPORT with alice's row changed: its access_key_1_last_rotated, its active flag ("maybe"), a stray
    comma in its arn, or its fields cut short."""
    lines = REPORT.splitlines()
    names = HEADER.split(",")
    fields = lines[2].split(",")
    if transform == "comma":
        fields[1] += ",unquoted"
    elif transform == "short":
        fields = fields[:9]
    elif transform == "maybe":
        fields[names.index("access_key_1_active")] = transform
    else:
        fields[names.index("access_key_1_last_rotated")] = transform
    lines[2] = ",".join(fields)
    return "\n".join(lines) + "\n"


@pytest.mark.parametrize(
    ("transform", "why"),
    [
        ("2025-13-01T09:30:00+00:00", "access_key_1_last_rotated '2025-13-01T09:30:00+00:00'"),
        ("yesterday", "access_key_1_last_rotated 'yesterday'"),
        ("2025-04-01T09:30:00", "access_key_1_last_rotated '2025-04-01T09:30:00' has no time zone"),
        ("maybe", "access_key_1_active 'maybe'"),
        ("comma", "1 more field(s) than the header"),
        ("short", "no access_key_1_last_rotated"),
    ],
)
def test_a_row_that_does_not_read_is_a_problem_and_the_others_are_read(transform: str, why: str) -> None:
    report = parse_report(_with_alice(transform), NOW)
    assert report.problems == (RowProblem(user="alice", why=why),)
    assert [row.user for row in report.rows] == ["<root_account>", "ci-deploy", "carol", "dave", "erin"]


def test_a_row_without_a_user_is_named_by_its_line() -> None:
    report = parse_report(f"{HEADER}\n,arn,x\n", NOW)
    assert report.problems == (RowProblem(user="line 2", why="no access_key_1_active"),)


@pytest.mark.parametrize(
    ("old", "new", "why"),
    [
        ("eu-west-1,s3", "eu-west-1,s3,x,y", "2 more field(s) than the header"),
        (",false,N/A,N/A,N/A,N/A,", ",TRUE,N/A,N/A,N/A,N/A,", "access_key_2_active 'TRUE'"),
        (
            "2025-05-31T22:10:00+00:00",
            "2025-05-31T22:10:00",
            "access_key_1_last_used_date '2025-05-31T22:10:00' has no time zone",
        ),
    ],
    ids=["two-fields-too-many", "second-slot-active", "naive-last-used"],
)
def test_the_problem_names_the_field_as_it_reads(old: str, new: str, why: str) -> None:
    alice = REPORT.splitlines()[2]
    report = parse_report(REPORT.replace(alice, alice.replace(old, new)), NOW)
    assert report.problems == (RowProblem(user="alice", why=why),)


def test_a_report_that_reads_has_no_problems() -> None:
    assert parse_report(REPORT, NOW).problems == ()


@pytest.mark.parametrize("value", ["N/A", "not_supported", "no_information", ""])
def test_a_time_the_report_does_not_know_is_none(value: str) -> None:
    alice = REPORT.splitlines()[2]
    report = parse_report(REPORT.replace(alice, alice.replace("2025-05-31T22:10:00+00:00", value)), NOW)

    assert report.rows[1].keys[0] == ReportKey(
        active=True, last_rotated=at("2025-04-01T09:30:00+00:00"), last_used=None
    )


def test_no_warning_window_unless_asked() -> None:
    # 89 days 12 h old: due in 12 h, so inside a one-day window and outside none.
    report = parse_report(report_csv(user_row("alice", active(days(89.5), days(1)))), NOW)

    assert candidates(report, DEFAULT, NOW) == ()
    assert candidates(report, DEFAULT, NOW, warn_days=1) == ("alice",)


@pytest.mark.parametrize(
    "record",
    [
        NO_KEY,
        parse_report(REPORT, NOW).rows[1],
        RowProblem(user="alice", why="access_key_1_active 'yes'"),
        parse_report(REPORT, NOW),
    ],
    ids=["key", "row", "problem", "report"],
)
def test_the_records_are_frozen_and_closed(
    record: ReportKey | ReportRow | RowProblem | CredentialReport,
) -> None:
    field = next(iter(type(record).model_fields))
    with pytest.raises(ValidationError):
        setattr(record, field, getattr(record, field))
    with pytest.raises(ValidationError, match="Extra inputs are not permitted"):
        type(record).model_validate({**record.model_dump(), "unknown": 1})


@pytest.mark.parametrize(
    ("arn", "path"),
    [
        ("arn:aws:iam::123456789012:user/alice", "/"),
        ("arn:aws:iam::123456789012:user/break-glass/vault", "/break-glass/"),
        ("arn:aws-us-gov:iam::123456789012:user/break-glass/ops/vault", "/break-glass/ops/"),
    ],
)
def test_a_users_path_is_read_from_its_arn(arn: str, path: str) -> None:
    assert user_path(arn) == path
