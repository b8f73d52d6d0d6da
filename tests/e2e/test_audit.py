"""`akr audit` end to end against a moto server, after a real `akr deploy`: audit records written into the
deployed audit table (remediator.adapters.audit_table, as the remediator writes them) at known times, then
queried with each filter, each index, each output format, small pages and a limit; and the bad input.

One organization per module (per xdist worker).
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import pytest
from typer.testing import Result

from org_bootstrap.commands.audit import CSV_COLUMNS
from remediator.adapters.audit_table import DynamoDBAuditLog
from remediator.audit import AuditRecord, Outcome, Phase, Trigger, new_record_id
from remediator.policy import Mode, Thresholds
from tests.e2e.akr import akr, as_json
from tests.moto_server import ServerOrganization

pytestmark = pytest.mark.slow


# name -> (age, account (0: first member, 1: second), user, key, decision, phase, outcome)
RECORDS = {
    "a": (timedelta(minutes=30), 0, "alice", "AKIAALICE00000000001", "deactivate", "outcome", "done"),
    "b": (timedelta(hours=1), 0, "alice", "AKIAALICE00000000001", "deactivate", "intent", "pending"),
    "c": (timedelta(hours=5), 1, "bob", "AKIABOB0000000000001", "delete", "outcome", "failed"),
    "d": (timedelta(days=2), 1, "bob", "AKIABOB0000000000001", "warn", "decision", "done"),
    "e": (timedelta(days=3), 0, "carol", "AKIACAROL00000000001", "none", "decision", "done"),
    "f": (timedelta(days=6), 1, "dave", "AKIADAVE000000000001", "exempt", "decision", "done"),
    "g": (timedelta(days=10), 0, "alice", "AKIAALICE00000000001", "warn", "decision", "done"),
    "h": (timedelta(days=20), 1, "bob", "AKIABOB0000000000001", "report", "decision", "done"),
}
FAILURE = "AccessDenied: not authorized to perform iam:DeleteAccessKey"


@dataclass(frozen=True)
class Audited:
    organization: ServerOrganization
    audit_table: str
    records: dict[str, AuditRecord]
    written_at: datetime

    def query(self, *args: str) -> Result:
        return akr(self.organization, "audit", "--security-account", self.organization.security, *args)

    def ids(self, names: str) -> list[str]:
        return [self.records[name].record_id for name in names]

    def rows(self, *args: str) -> list[str]:
        """The record ids of a JSON query, in the order printed."""
        result = self.query(*args, "--output", "json")
        assert result.exit_code == 0, result.output
        return [record["record_id"] for record in as_json(result)["result"]["records"]]


def record(organization: ServerOrganization, now: datetime, name: str) -> AuditRecord:
    age, member, user, key, decision, phase, outcome = RECORDS[name]
    recorded_at = now - age
    return AuditRecord(
        record_id=new_record_id(recorded_at),
        account_id=organization.members[member],
        user_name=user,
        user_id=f"AIDA{user.upper()}",
        access_key_id=key,
        rule="rotation" if decision in {"deactivate", "delete", "report", "warn"} else "",
        decision=decision,
        mode=Mode.STAGED,
        reason=f"record {name}",
        thresholds=Thresholds(),
        trigger=Trigger.SWEEP if name in "adeh" else Trigger.EVENT,
        phase=Phase(phase),
        outcome=Outcome(outcome),
        error=FAILURE if outcome == "failed" else None,
        recorded_at=recorded_at,
    )


@pytest.fixture(scope="module")
def audited(organization: ServerOrganization) -> Audited:
    result = akr(
        organization,
        "deploy",
        "--security-account",
        organization.security,
        "--targets",
        organization.workloads_ou,
        "--mode",
        "staged",
        "--yes",
        "--output",
        "json",
    )
    assert result.exit_code == 0, result.output
    table = as_json(result)["result"]["audit_table"]
    now = datetime.now(UTC)
    records = {name: record(organization, now, name) for name in RECORDS}
    log = DynamoDBAuditLog(client=organization.client("dynamodb", organization.security), table_name=table)
    for written in records.values():
        log.append(written)
    return Audited(organization, table, records, now)


# -- the filters and the indexes ---------------------------------------------------------------------


def test_the_default_is_the_last_seven_days_of_the_organization_newest_first(audited: Audited) -> None:
    result = audited.query("--output", "json")
    assert result.exit_code == 0, result.output
    payload = as_json(result)
    assert (payload["command"], payload["status"], payload["changed"]) == ("audit", "ok", False)
    assert payload["query"]["limit"] == 1000
    assert payload["query"]["newest_first"] is True
    body = payload["result"]
    assert (body["audit_table"], body["index"], body["count"], body["truncated"]) == (
        audited.audit_table,
        "by_day",
        6,
        False,
    )
    assert [r["record_id"] for r in body["records"]] == audited.ids("abcdef")
    assert body["records"][2] == audited.records["c"].model_dump(mode="json", exclude={"day"})
    assert body["records"][2]["error"] == FAILURE


def test_a_wider_window_and_the_oldest_first(audited: Audited) -> None:
    assert audited.rows("--since", "30d") == audited.ids("abcdefgh")
    assert audited.rows("--since", "30d", "--oldest-first") == audited.ids("hgfedcba")
    assert audited.rows("--since", "30d", "--until", "8d") == audited.ids("gh")
    assert audited.rows("--since", "1d12h") == audited.ids("abc")
    assert audited.rows("--since", "90m") == audited.ids("ab")


def test_iso_dates_and_times_bound_the_window(audited: Audited) -> None:
    four_days_ago = (audited.written_at - timedelta(days=4)).date().isoformat()
    assert audited.rows("--since", four_days_ago) == audited.ids("abcde")
    until = (audited.written_at - timedelta(hours=3)).strftime("%Y-%m-%dT%H:%M:%SZ")
    assert audited.rows("--since", four_days_ago, "--until", until) == audited.ids("cde")


def test_an_account_is_read_from_the_table(audited: Audited) -> None:
    second = audited.organization.members[1]
    result = audited.query("--account", second, "--since", "30d", "--output", "json")
    assert result.exit_code == 0, result.output
    assert as_json(result)["result"]["index"] == "table"
    assert audited.rows("--account", second, "--since", "30d") == audited.ids("cdfh")
    assert audited.rows("--account", second) == audited.ids("cdf")
    assert audited.rows("--account", audited.organization.security) == []


def test_a_key_is_read_from_its_index(audited: Audited) -> None:
    key = "AKIAALICE00000000001"
    result = audited.query("--access-key-id", key, "--since", "30d", "--output", "json")
    assert result.exit_code == 0, result.output
    assert as_json(result)["result"]["index"] == "by_access_key"
    assert audited.rows("--access-key-id", key, "--since", "30d") == audited.ids("abg")
    assert audited.rows(
        "--access-key-id", key, "--decision", "deactivate", "--outcome", "done"
    ) == audited.ids("a")
    second = audited.organization.members[1]
    assert audited.rows("--access-key-id", key, "--account", second) == []


def test_user_decision_and_outcome_filters(audited: Audited) -> None:
    assert audited.rows("--user", "bob") == audited.ids("cd")
    assert audited.rows("--user", "bob", "--since", "30d") == audited.ids("cdh")
    assert audited.rows("--decision", "warn", "--since", "30d") == audited.ids("dg")
    assert audited.rows("--outcome", "failed") == audited.ids("c")
    assert audited.rows("--outcome", "pending", "--decision", "deactivate") == audited.ids("b")
    assert audited.rows("--user", "nobody") == []


def test_small_pages_and_the_limit(audited: Audited) -> None:
    assert audited.rows("--since", "30d", "--page-size", "1") == audited.ids("abcdefgh")
    assert audited.rows("--since", "30d", "--oldest-first", "--page-size", "2") == audited.ids("hgfedcba")
    result = audited.query("--since", "30d", "--limit", "3", "--page-size", "2", "--output", "json")
    assert result.exit_code == 0, result.output
    body = as_json(result)["result"]
    assert ([r["record_id"] for r in body["records"]], body["count"], body["truncated"]) == (
        audited.ids("abc"),
        3,
        True,
    )
    first = audited.organization.members[0]
    exact = audited.query("--account", first, "--since", "30d", "--limit", "4", "--output", "json")
    body = as_json(exact)["result"]
    assert ([r["record_id"] for r in body["records"]], body["truncated"]) == (audited.ids("abeg"), False)


# -- the output formats -------------------------------------------------------------------------------


def test_csv_has_a_header_and_one_row_per_record(audited: Audited) -> None:
    result = audited.query("--user", "bob", "--since", "30d", "--output", "csv")
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    assert lines[0] == ",".join(CSV_COLUMNS)
    rows = list(csv.DictReader(io.StringIO(result.stdout)))
    c = audited.records["c"]
    assert [
        (r["record_id"], r["account_id"], r["user_name"], r["access_key_id"], r["decision"], r["outcome"])
        for r in rows
    ] == [
        (audited.records[name].record_id, c.account_id, "bob", "AKIABOB0000000000001", decision, outcome)
        for name, decision, outcome in (
            ("c", "delete", "failed"),
            ("d", "warn", "done"),
            ("h", "report", "done"),
        )
    ]
    assert (rows[0]["error"], rows[1]["error"]) == (FAILURE, "")
    assert (rows[0]["max_key_age_days"], rows[0]["max_unused_days"]) == ("90", "90")
    assert rows[0]["recorded_at"] == c.recorded_at.isoformat().replace("+00:00", "Z")
    assert len(lines) == 4


def test_csv_with_no_records_is_the_header_alone(audited: Audited) -> None:
    result = audited.query("--user", "nobody", "--output", "csv")
    assert result.exit_code == 0, result.output
    assert result.stdout == ",".join(CSV_COLUMNS) + "\n"


def test_the_table_lists_the_records_and_the_count(audited: Audited) -> None:
    result = audited.query("--account", audited.organization.members[1])
    assert result.exit_code == 0, result.output
    out = result.stdout
    for name in "cdf":
        assert f"record {name}" in out
    assert "record h" not in out
    assert out.index("record c") < out.index("record d") < out.index("record f")
    assert "AKIABOB0000000000001" in out
    assert "failed" in out
    assert "3 record(s), newest first (read from table)" in out
    limited = audited.query("--limit", "2")
    assert (
        "2 record(s), newest first (read from by_day); stopped at --limit 2: there are more" in limited.stdout
    )


def test_the_table_says_when_nothing_matches(audited: Audited) -> None:
    result = audited.query("--user", "nobody")
    assert result.exit_code == 0, result.output
    assert result.stdout.startswith("No audit records from ")
    assert result.stdout.rstrip().endswith("UTC match.")


# -- bad input ----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("--since", "7days"), "--since '7days' is neither a duration (like 7d, 12h, 30m) nor an ISO date"),
        (("--until", "yesterday"), "--until 'yesterday' is neither a duration"),
        (("--since", "1d", "--until", "2d"), "--since 1d ("),
        (
            ("--decision", "nuke"),
            "--decision 'nuke' is not one of: none, report, warn, exempt, deactivate, delete, reactivate, "
            "finding, exempt-add, exempt-remove",
        ),
        (("--outcome", "ok"), "--outcome 'ok' is not one of: pending, done, failed, skipped"),
        (("--account", "999999999999"), "account 999999999999 is not an account of the organization o-"),
    ],
)
def test_bad_input_is_refused_with_a_clear_message(
    audited: Audited, args: tuple[str, ...], message: str
) -> None:
    result = audited.query(*args, "--output", "json")
    assert result.exit_code == 1
    payload = as_json(result)
    assert (payload["command"], payload["status"]) == ("audit", "error")
    assert payload["error"].startswith(message)
    on_terminal = audited.query(*args)
    assert on_terminal.exit_code == 1
    assert on_terminal.stdout == ""
    assert f"error: {message}" in " ".join(on_terminal.stderr.split())


def test_since_after_until_names_both(audited: Audited) -> None:
    result = audited.query("--since", "1d", "--until", "2d", "--output", "json")
    error = as_json(result)["error"]
    assert " is after --until 2d (" in error


def test_without_a_deployment_it_says_to_deploy(audited: Audited) -> None:
    member = audited.organization.members[0]
    result = akr(audited.organization, "audit", "--security-account", member, "--output", "json")
    assert result.exit_code == 1
    assert as_json(result)["error"].endswith("run akr deploy first")
