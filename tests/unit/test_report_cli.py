"""The pure checks of `akr report` (org_bootstrap.report_cli): its durations, its target file, its
account, and its line of totals."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest

from org_bootstrap.aws import CliError
from org_bootstrap.observed import Account
from org_bootstrap.organization import OrganizationView
from org_bootstrap.report_cli import check_member, check_target, parse_within, totals_line
from tests.report_samples import sample_report


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("14d", timedelta(days=14)),
        ("2w", timedelta(weeks=2)),
        ("36h", timedelta(hours=36)),
        ("0d", timedelta()),
    ],
)
def test_parse_within_reads_durations(text: str, expected: timedelta) -> None:
    assert parse_within(text) == expected


@pytest.mark.parametrize("text", ["14", "two weeks", "2026-12-31", "-1d", ""])
def test_parse_within_refuses_anything_else(text: str) -> None:
    with pytest.raises(CliError, match=r"is not a duration \(like 14d, 2w, 36h\)"):
        parse_within(text)


def test_parse_within_refuses_a_duration_too_long() -> None:
    with pytest.raises(CliError, match="is too long"):
        parse_within("99999999999w")


def test_check_target(tmp_path: Path) -> None:
    assert check_target(tmp_path / "r.html") == tmp_path / "r.html"
    with pytest.raises(CliError, match=f"the directory {tmp_path / 'no'} does not exist"):
        check_target(tmp_path / "no" / "r.html")
    with pytest.raises(CliError, match="is a directory: name the file to write"):
        check_target(tmp_path)


def test_check_member_knows_every_account_whatever_its_status() -> None:
    view = OrganizationView(
        caller="111111111111",
        management="111111111111",
        organization_id="o-example",
        delegated_admin=False,
        accounts=(
            Account(id="111111111111", name="a", status="ACTIVE"),
            Account(id="222222222222", name="b", status="SUSPENDED"),
        ),
    )
    check_member(view, "222222222222")
    with pytest.raises(
        CliError, match=r"^account 333333333333 is not an account of the organization o-example$"
    ):
        check_member(view, "333333333333")


def test_totals_line() -> None:
    assert totals_line(sample_report().summary(), timedelta(days=14)) == (
        "11 decision(s) in 3 account(s): 1 deactivate, 3 delete, 1 exempt, 4 none, 1 report, 1 warn "
        "(1 pending, 2 done, 1 failed, 7 skipped); 1 failed, 1 without an outcome; 3 exemption(s) in force, "
        "2 expiring within 14 day(s), 1 expired."
    )
