"""The report's header says whether its window was verified against the audit archive: clean, the
findings, or not verified and why."""

from __future__ import annotations

import re
from dataclasses import replace

from org_bootstrap.review.audit_verify import Finding, FindingKind, Verification
from org_bootstrap.review.report.header import ArchiveCheck
from org_bootstrap.review.report.html import render_html
from tests.report_samples import NOW, sample_report

SINCE = NOW.replace(day=1)


def header_line(check: ArchiveCheck | None) -> str | None:
    page = render_html(replace(sample_report(), archive=check))
    found = re.search(r'<p class="([^"]*)" id="verification">([^<]*)</p>', page)
    return None if found is None else f"{found.group(1)} | {found.group(2)}"


def test_a_clean_window_says_so_in_the_header() -> None:
    clean = Verification(since=SINCE, until=NOW, checked_at=NOW, records=12, lines=13, archived=12)
    assert header_line(ArchiveCheck(clean)) == (
        "meta clean | Archive verification: clean: 12 record(s) in the table, 13 archive line(s), every "
        "record archived unchanged."
    )


def test_findings_are_counted_in_the_header_as_a_warning() -> None:
    findings = (
        Finding(FindingKind.ALTERED, "111111111111", "2026-12-01T00:00:00.000Z#aa", "rewritten"),
        Finding(FindingKind.NOT_ARCHIVED, "111111111111", "2026-12-01T01:00:00.000Z#bb", "missing"),
    )
    found = Verification(since=SINCE, until=NOW, checked_at=NOW, records=12, lines=11, findings=findings)
    assert header_line(ArchiveCheck(found)) == (
        "warn findings | Archive verification: 2 finding(s): 1 altered, 1 not-archived (12 record(s) in the "
        "table, 11 archive line(s)); akr audit verify over the same window lists them."
    )


def test_a_window_that_could_not_be_verified_says_why_escaped() -> None:
    assert header_line(ArchiveCheck(reason="no archive <yet>")) == (
        "warn not-verified | Archive verification: not verified: no archive &lt;yet&gt;."
    )


def test_a_report_made_without_a_check_has_no_such_line() -> None:
    assert header_line(None) is None
