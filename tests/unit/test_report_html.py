"""The HTML report (org_bootstrap.review.report: html, summary, charts), pure: the decisions it shows,
its numbers, its escaping, that it refers to nothing outside itself, and its size limits."""

from __future__ import annotations

import base64
import hashlib
import re
import time
from collections.abc import Callable
from dataclasses import replace
from datetime import timedelta
from html.parser import HTMLParser

import pytest

from org_bootstrap.review.report.charts import colour
from org_bootstrap.review.report.html import ReportData, page_assets, render_html
from org_bootstrap.review.report.summary import (
    axis_days,
    decision_rows,
    exemption_view,
    result_of,
    summarize,
)
from remediator.audit import Trigger
from remediator.policy import Mode, Thresholds
from tests.report_samples import (
    AXIS,
    BY_DECISION,
    BY_OUTCOME,
    BY_RESULT,
    IMAGE_USER,
    NOW,
    PER_ACCOUNT,
    PER_DAY,
    ROWS,
    SCRIPT,
    A,
    B,
    C,
    exemptions,
    record,
    records,
    sample_report,
)


class _Page(HTMLParser):
    """The elements of a page that matter here: tags with their attributes, and the text of its script
    and style blocks."""

    def __init__(self) -> None:
        super().__init__()
        self.tags: list[tuple[str, dict[str, str | None]]] = []
        self.scripts: list[str] = []
        self.styles: list[str] = []
        self._block: list[str] | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, dict(attrs)))
        blocks = {"script": self.scripts, "style": self.styles}
        if tag in blocks:
            blocks[tag].append("")
            self._block = blocks[tag]

    def handle_endtag(self, tag: str) -> None:
        if tag in {"script", "style"}:
            self._block = None

    def handle_data(self, data: str) -> None:
        if self._block is not None:
            self._block[-1] += data

    def all(self, tag: str, **attributes: str) -> list[dict[str, str | None]]:
        return [
            attrs
            for name, attrs in self.tags
            if name == tag and all(attrs.get(k) == v for k, v in attributes.items())
        ]


def parsed(page: str) -> _Page:
    parser = _Page()
    parser.feed(page)
    parser.close()
    return parser


@pytest.fixture(scope="module")
def page() -> str:
    return render_html(sample_report())


# -- which records are rows ---------------------------------------------------------------------------


def test_one_row_per_decision_the_outcome_replacing_its_intent() -> None:
    rows = decision_rows(records())
    assert len(rows) == ROWS
    assert [row.record.record_id for row in rows] == sorted((r.record.record_id for r in rows), reverse=True)
    alice = [row for row in rows if row.record.access_key_id == "AKIAALICE00000000001"]
    assert [(row.record.phase.value, row.record.outcome.value) for row in alice] == [("outcome", "done")]


def test_an_intent_without_an_outcome_is_a_row_of_its_own_and_flagged(page: str) -> None:
    rows = decision_rows(records())
    unfinished = [row for row in rows if row.unfinished]
    assert [(r.record.user_name, r.record.decision, r.record.outcome.value) for r in unfinished] == [
        ("dave", "delete", "pending")
    ]
    assert page.count('class="o-pending unfinished"') == 1
    assert page.count("no outcome recorded") == 1
    assert "1 intent(s) without an outcome" in page


def test_an_outcome_closes_only_the_intent_of_its_own_run() -> None:
    """Two runs acting on one key: the second run's intent stays open when only the first finished."""
    first = record(timedelta(hours=3), A, "u", "AKIAKEY0000000000001", "delete", "intent", "pending", "r")
    done = record(timedelta(hours=2), A, "u", "AKIAKEY0000000000001", "delete", "outcome", "done", "r")
    other = record(timedelta(hours=1), A, "u", "AKIAKEY0000000000001", "delete", "intent", "pending", "r")
    other = other.model_copy(update={"role_session_name": "akr-event-2"})
    rows = decision_rows([done, other, first])
    assert [(row.record.record_id, row.unfinished) for row in rows] == [
        (other.record_id, True),
        (done.record_id, False),
    ]


def test_an_outcome_before_its_intent_in_the_window_does_not_close_a_later_intent() -> None:
    done = record(timedelta(hours=2), A, "u", "AKIAKEY0000000000001", "delete", "outcome", "done", "r")
    later = record(timedelta(hours=1), A, "u", "AKIAKEY0000000000001", "delete", "intent", "pending", "r")
    assert [row.unfinished for row in decision_rows([later, done])] == [True, False]


@pytest.mark.parametrize(("intent_suffix", "outcome_suffix"), [("0" * 16, "f" * 16), ("f" * 16, "0" * 16)])
def test_an_intent_and_its_outcome_in_one_millisecond_are_one_row(
    intent_suffix: str, outcome_suffix: str
) -> None:
    """record_id orders by millisecond, then by its random suffix: either record may sort first."""
    intent = record(timedelta(hours=1), A, "u", "AKIAKEY0000000000001", "delete", "intent", "pending", "r")
    done = record(timedelta(hours=1), A, "u", "AKIAKEY0000000000001", "delete", "outcome", "done", "r")
    stamp = intent.record_id.split("#")[0]
    intent = intent.model_copy(update={"record_id": f"{stamp}#{intent_suffix}"})
    done = done.model_copy(update={"record_id": f"{stamp}#{outcome_suffix}"})
    rows = decision_rows([intent, done])
    assert [(row.record.record_id, row.unfinished) for row in rows] == [(done.record_id, False)]
    summary = summarize([done, intent], [], now=NOW, since=NOW - timedelta(days=1), until=NOW)
    assert summary.unfinished == 0
    page = render_html(replace(sample_report(), records=[intent, done]))
    assert "no outcome recorded" not in page
    assert 'id="unfinished"' not in page


# -- the numbers --------------------------------------------------------------------------------------


def test_totals_per_account_and_per_day() -> None:
    summary = sample_report().summary()
    totals = summary.totals()
    assert totals.decisions == ROWS
    assert totals.by_decision == BY_DECISION
    assert totals.by_outcome == BY_OUTCOME
    assert (totals.accounts, totals.failures, totals.unfinished) == (3, 1, 1)
    assert {account: dict(counts) for account, counts in summary.per_account.items()} == PER_ACCOUNT
    assert list(summary.per_account) == [A, B, C]
    assert {day: dict(counts) for day, counts in summary.per_day.items()} == PER_DAY
    assert summary.days == AXIS
    assert summary.decision_names == ["none", "delete", "deactivate", "exempt", "report", "warn"]


def test_the_page_shows_the_totals(page: str) -> None:
    tiles = re.findall(r'<span class="n">(\d+)</span><span class="l">([^<]+)</span>', page)
    assert {label: int(n) for n, label in tiles} == {
        "decisions": ROWS,
        **BY_RESULT,
        "accounts": 3,
        "exemptions in force": 3,
    }


def test_the_charts_have_one_bar_per_account_and_per_day_with_titles(page: str) -> None:
    tags = parsed(page)
    accounts = tags.all("g", **{"class": "bar"})
    assert [a.get("data-account") for a in accounts if a.get("data-account")] == [A, B, C]
    assert [a.get("data-day") for a in accounts if a.get("data-day")] == sorted(PER_DAY)
    segments = tags.all("rect", **{"class": "seg"})
    expected = sum(len(c) for c in PER_ACCOUNT.values()) + sum(len(c) for c in PER_DAY.values())
    assert len(segments) == expected
    for segment in segments:
        assert segment["fill"] == colour(str(segment["data-decision"]))
    for chart in ("chart-accounts", "chart-days"):
        (svg,) = tags.all("svg", id=chart)
        assert svg["role"] == "img"
        assert svg["aria-labelledby"] == f"{chart}-title {chart}-desc"
        assert tags.all("title", id=f"{chart}-title")
    assert "<title>222222222222: 3 decisions</title>" in page
    assert "<title>2026-11-25: report 1</title>" in page
    assert '<title id="chart-accounts-title">Decisions per account</title>' in page


def test_one_colour_per_decision_in_charts_legend_and_table(page: str) -> None:
    (style,) = parsed(page).styles
    for decision in BY_DECISION:
        name = f"sw-{colour(decision).removeprefix('#')}"
        assert f'<span class="sw {name}"></span>{decision}' in page
        assert f".{name} {{ background: {colour(decision)}; }}" in style
    assert len({colour(decision) for decision in BY_DECISION}) == len(BY_DECISION)
    assert colour("something-new") == colour("something-new")


def test_the_decision_table_has_every_row_with_its_columns(page: str) -> None:
    tags = parsed(page)
    rows = [attrs for name, attrs in tags.tags if name == "tr" and attrs.get("data-decision")]
    assert len(rows) == ROWS
    assert sum(1 for r in rows if r["data-decision"] == "delete") == BY_DECISION["delete"]
    assert sum(1 for r in rows if r["data-account"] == C) == 5
    header = re.findall(r'<button type="button" data-col="\d+">([^<]+)</button>', page)
    assert header == [
        "time (UTC)",
        "account",
        "user",
        "access key id",
        "decision",
        "result",
        "started by",
        "policy",
        "key age",
        "last used",
        "reason",
        "error",
    ]
    assert f'<output id="counter" aria-live="polite">{ROWS} of {ROWS} rows</output>' in page
    assert "<td>never</td>" in page  # a key never used


def test_failures_list_the_error(page: str) -> None:
    section = page[page.index('<section id="failed">') : page.index("</section>", page.index('id="failed"'))]
    assert "AccessDenied: User is not authorized to perform: iam:UpdateAccessKey" in section
    assert section.count("<tr>") == 2  # the header and the one failure


def test_exemptions_expiring_and_expired(page: str) -> None:
    view = exemption_view(exemptions(), now=NOW, within=timedelta(days=14))
    assert view.in_force == 3
    assert [(e.user_name, e.expires_at - NOW) for e in view.expiring] == [
        ("carol", timedelta(days=3)),
        ("alice", timedelta(days=14)),
    ]
    assert [e.user_name for e in view.expired] == ["frank"]
    assert "3 exemption(s) in force; 2 expire within 14 days; 1 expired and still stored." in page
    assert '<span class="soon">expires in 3 days</span>' in page
    assert page.count('<span class="flag">expired</span>') == 1
    assert "sandbox" not in page  # in force for 60 days: counted, not listed
    narrower = render_html(replace(sample_report(), expiring_within=timedelta(days=5)))
    assert "3 exemption(s) in force; 1 expire within 5 days; 1 expired" in narrower


# -- safety ---------------------------------------------------------------------------------------------


def test_every_value_is_escaped(page: str) -> None:
    assert SCRIPT not in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    assert IMAGE_USER not in page
    assert "&lt;img src=x onerror=&quot;alert(2)&quot;&gt;" in page
    assert "vendor &lt;b&gt;tool&lt;/b&gt;" in page
    assert "<title>Audit report &lt;test&gt;</title>" in page
    tags = parsed(page)
    assert [name for name, _ in tags.tags].count("script") == 1
    assert not tags.all("img")
    assert not [attrs for _, attrs in tags.tags if any(k.startswith("on") for k in attrs)]


def test_nothing_outside_the_page_is_referred_to(page: str) -> None:
    tags = parsed(page)
    assert not re.search(r"https?:|//[a-z]", page, flags=re.IGNORECASE)
    assert not re.search(r"@import|url\(", page, flags=re.IGNORECASE)
    for _, attrs in tags.tags:
        assert "src" not in attrs
        assert "href" not in attrs
    assert page.count("</script>") == 1
    assert "</script" not in "".join(tags.scripts)


def _sha256(text: str) -> str:
    return "'sha256-" + base64.b64encode(hashlib.sha256(text.encode()).digest()).decode() + "'"


@pytest.mark.parametrize("empty", [False, True])
def test_the_policy_allows_exactly_the_inline_script_and_style_by_hash(page: str, empty: bool) -> None:
    if empty:
        page = render_html(replace(sample_report(), records=(), exemptions=()))
    tags = parsed(page)
    (policy,) = tags.all("meta", **{"http-equiv": "Content-Security-Policy"})
    (script,), (style,) = tags.scripts, tags.styles
    directives = dict(d.strip().split(" ", 1) for d in str(policy["content"]).split(";"))
    assert directives == {
        "default-src": "'none'",
        "script-src": _sha256(script),
        "style-src": _sha256(style),
    }
    assert "unsafe-inline" not in page
    assert "unsafe-hashes" not in page


def test_no_element_has_a_style_attribute(page: str) -> None:
    """The policy refuses style attributes: a colour in one would be dropped by the browser."""
    assert not [(name, attrs) for name, attrs in parsed(page).tags if "style" in attrs]
    assert not re.search(r"\sstyle\s*=", page)


def test_a_reason_cannot_end_the_script_or_style_block() -> None:
    nasty = record(timedelta(hours=1), A, "</style>", "AKIAX", "none", "decision", "skipped", "</script><b>")
    page = render_html(replace(sample_report(), records=[nasty]))
    assert page.count("</script>") == 1
    assert page.count("</style>") == 1


# -- edges ----------------------------------------------------------------------------------------------


def test_zero_records_says_so_plainly() -> None:
    data = ReportData(title="Empty", generated_at=NOW, since=NOW - timedelta(days=30), until=NOW)
    page = render_html(data)
    assert (
        '<p class="empty" id="empty">No audit records from 2026-10-29 12:00 to 2026-11-28 12:00 UTC.</p>'
        in page
    )
    assert "<svg" not in page
    assert 'id="decisions"' not in page
    assert "0 exemption(s) in force; 0 expire within 14 days; 0 expired and still stored." in page
    assert data.summary().totals().decisions == 0


def test_a_truncated_read_is_said() -> None:
    page = render_html(replace(sample_report(), truncated=True))
    assert "Only 14 records were read and more match" in page


def test_a_long_window_starts_its_axis_at_the_first_day_with_records() -> None:
    since = NOW - timedelta(days=400)
    assert axis_days(since, NOW, ["2026-11-20"])[0] == "2026-11-20"
    assert axis_days(NOW - timedelta(days=30), NOW, ["2026-11-20"])[0] == "2026-10-29"
    assert axis_days(NOW - timedelta(days=2), NOW, ["2026-11-20"])[0] == "2026-11-20"
    assert axis_days(since, NOW, [])[0] == "2025-10-24"


def test_records_outside_the_window_still_get_their_day() -> None:
    summary = summarize(records(), [], now=NOW, since=NOW - timedelta(days=1), until=NOW)
    assert summary.days[0] == "2026-11-22"
    assert set(summary.per_day) <= set(summary.days)


def test_thousands_of_records_render(record_property: Callable[[str, object], None]) -> None:
    many = [
        record(
            timedelta(minutes=9 * n),
            f"{100000000000 + n % 40:012d}",
            f"user-{n}",
            f"AKIA{n:016d}",
            ("none", "delete", "warn", "exempt", "report")[n % 5],
            "decision" if n % 5 != 1 else "outcome",
            "skipped" if n % 5 != 1 else ("failed" if n % 50 == 1 else "done"),
            f"reason {n}",
        )
        for n in range(5000)
    ]
    data = replace(sample_report(), records=many, since=NOW - timedelta(days=32))
    started = time.perf_counter()
    page = render_html(data)
    elapsed = time.perf_counter() - started
    record_property("render_seconds_5000_records", round(elapsed, 3))
    assert page.count("<tr class=") == 5000
    assert page.count('<g class="bar" data-account=') == 40
    assert "5000 of 5000 rows" in page


# -- who, what started it, the policy, the accounts' names, paper ----------------------------------------


def test_skipped_is_told_apart_into_no_action_and_already_gone() -> None:
    nothing = record(timedelta(hours=3), A, "u", "AKIAKEY0000000000001", "none", "decision", "skipped", "r")
    intent = record(timedelta(hours=2), A, "u", "AKIAKEY0000000000002", "delete", "intent", "pending", "r")
    gone = record(timedelta(hours=1), A, "u", "AKIAKEY0000000000002", "delete", "outcome", "skipped", "r")
    assert [result_of(r) for r in (nothing, intent, gone)] == ["no action", "pending", "already gone"]
    page = render_html(replace(sample_report(), records=[nothing, intent, gone]))
    tiles = {
        label: n
        for n, label in re.findall(r'<span class="n">(\d+)</span><span class="l">([^<]+)</span>', page)
    }
    assert (tiles["no action"], tiles["already gone"]) == ("1", "1")
    assert 'data-outcome="already gone"' in page


def test_each_decision_shows_who_what_started_it_and_the_policy_in_force() -> None:
    by_hand = record(timedelta(hours=1), A, "u", "AKIAKEY0000000000001", "reactivate", "outcome", "done", "r")
    by_hand = by_hand.model_copy(
        update={
            "trigger": Trigger.CLI,
            "operator": "arn:aws:sts::111111111111:assumed-role/ops/alice",
            "mode": Mode.STAGED,
            "thresholds": Thresholds(max_key_age_days=90, max_unused_days=45),
        }
    )
    page = render_html(replace(sample_report(), records=[by_hand]))
    row = page[page.index('<tr class="o-done" data-decision="reactivate"') :]
    row = row[: row.index("</tr>")]
    assert (
        '<td data-v="done" class="outcome">done</td>'
        '<td data-v="cli" class="by">cli<br><span class="sub">'
        "arn:aws:sts::111111111111:assumed-role/ops/alice</span></td>"
        '<td data-v="staged">staged<br><span class="sub">90/45 days</span></td>'
    ) in row
    assert "Policy in force: mode staged, rotation after 90 days, unused after 45 days." in page


def test_account_names_stand_beside_their_ids_and_the_exemptions_name_who_added_them() -> None:
    added = record(timedelta(days=2), B, "carol", None, "exempt-add", "outcome", "done", "exempted")
    added = added.model_copy(
        update={"trigger": Trigger.CLI, "operator": "arn:aws:iam::111111111111:user/bob"}
    )
    data = replace(sample_report(), records=[*records(), added], account_names={B: "production <eu>"})
    page = render_html(data)
    assert f'{B}<br><span class="sub">production &lt;eu&gt;</span>' in page
    section = page[page.index('<section id="expiring">') :]
    section = section[: section.index("</section>")]
    assert "<th>added by</th>" in section
    assert "arn:aws:iam::111111111111:user/bob" in section  # carol's exemption
    assert "not in this window" in section  # the others were added before the records read


def test_the_page_has_a_print_stylesheet_inside_its_policy() -> None:
    style, _, policy = page_assets()
    assert "@media print" in style
    assert "'sha256-" in policy
