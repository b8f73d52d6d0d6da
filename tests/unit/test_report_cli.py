"""The pure checks of `akr report` (org_bootstrap.commands.report): its durations, its target file, its
account, its line of totals, and what it prints."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta
from pathlib import Path

import pytest
import typer

from org_bootstrap.aws import CliError
from org_bootstrap.commands.options import Output
from org_bootstrap.commands.render import fail
from org_bootstrap.commands.report import (
    check_target,
    show,
    totals_line,
)
from org_bootstrap.deploy.observed import Account
from org_bootstrap.deploy.organization import OrganizationView, check_member
from org_bootstrap.review.audit_query import QueryError, parse_within
from tests.report_samples import A, record, sample_report


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
    assert within(text) == expected


def within(text: str) -> timedelta:
    """--expiring-within as the command reads it: the parser it shares with `akr scan --within`."""
    return parse_within(text, option="--expiring-within", examples="14d, 2w, 36h")


@pytest.mark.parametrize("text", ["14", "two weeks", "2026-12-31", "-1d", ""])
def test_parse_within_refuses_anything_else(text: str) -> None:
    with pytest.raises(QueryError, match=r"is not a duration \(like 14d, 2w, 36h\)"):
        within(text)


@pytest.mark.parametrize("text", ["3651d", "99999999999w"])
def test_parse_within_refuses_a_duration_too_long(text: str) -> None:
    # Ten years at most, as `akr scan --within`: a longer one would overflow once added to now.
    with pytest.raises(QueryError) as raised:
        within(text)
    assert str(raised.value) == f"--expiring-within {text!r} is longer than 3650 days"


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


def test_paths_and_decision_names_are_printed_as_they_are(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Rich markup would eat "[x]" and "[bold]", and stop at a closing tag such as "[/tmp]"."""
    written = tmp_path / "[x]" / "[/tmp] report.html"
    odd = record(timedelta(hours=1), A, "u", "AKIAX", "[bold]odd", "decision", "skipped", "r")
    summary = replace(sample_report(), records=[odd]).summary()
    show(written, summary, timedelta(days=14), truncated=True, limit=5)
    lines = capsys.readouterr().out.splitlines()
    assert lines[0] == f"Wrote {written}"
    assert lines[1].startswith("1 decision(s) in 1 account(s): 1 [bold]odd (1 skipped)")
    assert lines[2] == "Stopped at --limit 5: there are more records; narrow the window or raise --limit."


def test_errors_are_printed_as_they_are(capsys: pytest.CaptureFixture[str]) -> None:
    message = "--html /tmp/[x]/[/tmp]: the directory /tmp/[x] does not exist"
    exit_ = fail("report", message, Output.TABLE)
    assert isinstance(exit_, typer.Exit)
    assert exit_.exit_code == 1
    assert capsys.readouterr().err == f"error: {message}\n"
    fail("report", message, Output.JSON)
    assert f'"error": "{message}"' in capsys.readouterr().out
