"""The HTML report in a real browser: Debian's headless chromium (`make browser` installs it), driven by
playwright from a file:// URL. No console errors (a Content-Security-Policy violation is one: "Refused to
..." or "... violates the following Content Security Policy directive ..."), no dialog (a sign that
injected script ran), no request but the file itself, the charts' bars, the filters (typed, chosen, and
from the URL fragment) and the sorting, which work only if the page's own script ran under its policy;
and that the policy refuses a script or style that is not the page's own. A full-page screenshot is kept
in build/artifacts/report.png.

Skips only when /usr/bin/chromium is missing and `make browser` cannot install it.
"""

from __future__ import annotations

import re
import shutil
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from pathlib import Path

import pytest
from playwright.sync_api import Browser, ConsoleMessage, Dialog, Page, Request, sync_playwright

from org_bootstrap.review.report.html import write_report
from tests.report_samples import IMAGE_USER, PER_ACCOUNT, ROWS, A, C, sample_report

CHROMIUM = Path("/usr/bin/chromium")
CSP_REFUSAL = re.compile(r"Refused to|violates the following Content Security Policy")
ROOT = Path(__file__).resolve().parents[2]
ARTIFACTS = ROOT / "build" / "artifacts"
FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


def install_chromium() -> str:
    """What `make browser` does (the Makefile holds the one recipe), for a plain `pytest` run; its output,
    to say why when it could not."""
    if shutil.which("make") is None:
        return "make is not available"
    completed = subprocess.run(
        ["make", "-s", "browser"], cwd=ROOT, capture_output=True, text=True, check=False, timeout=900
    )
    return (completed.stdout + completed.stderr).strip()


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    if not CHROMIUM.exists():
        why = install_chromium()
        if not CHROMIUM.exists():
            pytest.skip(f"{CHROMIUM} is missing and could not be installed (`make browser`): {why[-500:]}")
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=str(CHROMIUM), args=FLAGS)
        yield launched
        launched.close()


@pytest.fixture(scope="module")
def report_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_report(tmp_path_factory.mktemp("report") / "report.html", sample_report())


@pytest.fixture(scope="module")
def report_url(report_file: Path) -> str:
    return report_file.as_uri()


@dataclass
class Opened:
    page: Page
    errors: list[str] = field(default_factory=list)
    dialogs: list[str] = field(default_factory=list)
    requests: list[str] = field(default_factory=list)

    def assert_clean(self) -> None:
        assert self.errors == []
        assert self.dialogs == []

    def refusals(self, what: str) -> list[str]:
        """The policy's refusals of `what` ("inline script", "inline style"), in either of the ways
        Chromium words them."""
        return [e for e in self.errors if CSP_REFUSAL.search(e) and what in e.lower()]

    def visible_rows(self) -> int:
        return self.page.locator("#decisions tbody tr:visible").count()

    def counter(self) -> str:
        return self.page.locator("#counter").inner_text()

    def column(self, index: int) -> list[str]:
        return self.page.locator(f"#decisions tbody tr:visible td:nth-child({index})").all_inner_texts()


@pytest.fixture
def open_report(browser: Browser) -> Iterator[Opened]:
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    opened = Opened(context.new_page())

    def console(message: ConsoleMessage) -> None:
        if message.type in {"error", "warning"} or CSP_REFUSAL.search(message.text):
            opened.errors.append(f"{message.type}: {message.text}")

    def dialog(shown: Dialog) -> None:
        opened.dialogs.append(f"{shown.type}: {shown.message}")
        shown.dismiss()

    def request(sent: Request) -> None:
        opened.requests.append(sent.url)

    opened.page.on("console", console)
    opened.page.on("dialog", dialog)
    opened.page.on("pageerror", lambda error: opened.errors.append(f"page error: {error}"))
    context.on("request", request)
    yield opened
    context.close()


def test_the_report_renders_with_no_error_and_no_request(open_report: Opened, report_url: str) -> None:
    page = open_report.page
    page.goto(report_url)
    open_report.assert_clean()
    assert open_report.requests == [report_url]
    assert page.title() == "Audit report <test>"
    assert page.locator("#chart-accounts g.bar").count() == 3
    assert page.locator("#chart-days g.bar").count() == 6
    assert page.locator("#chart-accounts rect.seg").count() == sum(map(len, PER_ACCOUNT.values()))
    assert page.locator("#chart-accounts").bounding_box() is not None
    assert open_report.visible_rows() == ROWS
    assert open_report.counter() == f"{ROWS} of {ROWS} rows"
    assert page.locator("#decisions tbody tr.unfinished").count() == 1
    assert IMAGE_USER in open_report.column(3)
    assert page.locator("img").count() == 0
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "report.png"), full_page=True)
    open_report.assert_clean()


def test_typing_and_choosing_filter_the_rows(open_report: Opened, report_url: str) -> None:
    page = open_report.page
    page.goto(report_url)
    page.locator("#f-q").fill("grace")
    assert (open_report.visible_rows(), open_report.counter()) == (1, f"1 of {ROWS} rows")
    page.locator("#f-q").fill("accessdenied")
    assert open_report.column(3) == ["bob"]
    page.locator("#f-q").fill("")
    page.locator("#f-decision").select_option("delete")
    assert (open_report.visible_rows(), open_report.counter()) == (3, f"3 of {ROWS} rows")
    page.locator("#f-account").select_option(C)
    assert open_report.column(3) == ["grace"]
    assert page.url.endswith(f"#decision=delete&account={C}")
    page.locator("#f-account").select_option("")
    page.locator("#f-outcome").select_option("pending")
    assert open_report.column(3) == ["dave"]
    assert open_report.counter() == f"1 of {ROWS} rows"
    open_report.assert_clean()


def test_the_url_fragment_filters_on_load(open_report: Opened, report_url: str) -> None:
    page = open_report.page
    page.goto(f"{report_url}#decision=none&account={A}")
    assert open_report.counter() == f"2 of {ROWS} rows"
    assert sorted(open_report.column(3)) == sorted([IMAGE_USER, "alice"])
    assert page.locator("#f-decision").input_value() == "none"
    assert page.locator("#f-account").input_value() == A
    page.goto(f"{report_url}#q=too%20old&outcome=done")
    assert open_report.column(3) == ["alice", "grace"]
    assert page.locator("#f-q").input_value() == "too old"
    page.goto(f"{report_url}#account=999999999999")
    assert open_report.counter() == f"0 of {ROWS} rows"
    open_report.assert_clean()


def test_a_header_click_sorts_the_table(open_report: Opened, report_url: str) -> None:
    page = open_report.page
    page.goto(report_url)
    times = open_report.column(1)
    assert times == sorted(times, reverse=True)
    page.get_by_role("button", name="user").click()
    users = open_report.column(3)
    assert users == sorted(users, key=str.lower)
    assert page.locator("th[aria-sort=ascending]").inner_text().startswith("user")
    page.get_by_role("button", name="user").click()
    assert open_report.column(3) == sorted(users, key=str.lower, reverse=True)
    page.locator("#f-decision").select_option("none")
    assert open_report.column(3) == ["ivan", "heidi", "alice", IMAGE_USER]
    open_report.assert_clean()


def test_an_empty_report_renders_with_no_error(open_report: Opened, tmp_path: Path) -> None:
    empty = write_report(tmp_path / "empty.html", replace(sample_report(), records=(), exemptions=()))
    open_report.page.goto(empty.as_uri())
    assert open_report.page.locator("#empty").is_visible()
    open_report.assert_clean()
    assert open_report.requests == [empty.as_uri()]


# -- the policy is enforced: a script or style that is not the page's own does not apply ---------------


def tampered(source: Path, directory: Path, old: str, new: str) -> str:
    page = source.read_text(encoding="utf-8")
    assert page.count(old) == 1
    changed = directory / "tampered.html"
    changed.write_text(page.replace(old, new), encoding="utf-8")
    return changed.as_uri()


def test_an_injected_script_is_refused(open_report: Opened, report_file: Path, tmp_path: Path) -> None:
    url = tampered(report_file, tmp_path, "<main>", '<main><script>alert("injected")</script>')
    page = open_report.page
    page.goto(url)
    assert open_report.dialogs == []
    assert open_report.refusals("inline script")
    page.locator("#f-q").fill("grace")
    assert open_report.counter() == f"1 of {ROWS} rows"  # the page's own script still runs


def test_the_page_script_changed_by_one_byte_is_refused(
    open_report: Opened, report_file: Path, tmp_path: Path
) -> None:
    url = tampered(report_file, tmp_path, '"use strict";', '"use strict"; ')
    page = open_report.page
    page.goto(url)
    page.locator("#f-q").fill("grace")
    assert open_report.visible_rows() == ROWS  # the script did not run: nothing filters
    assert open_report.refusals("inline script")


def test_an_injected_style_attribute_is_refused(
    open_report: Opened, report_file: Path, tmp_path: Path
) -> None:
    hidden = '<section id="summary" style="display:none">'
    open_report.page.goto(tampered(report_file, tmp_path, '<section id="summary">', hidden))
    assert open_report.page.locator("#totals").is_visible()
    assert open_report.refusals("inline style")
