"""`akr report --html` at 1,000 to 100,000 audit records: render time, page size, and the page in a browser.

Times org_bootstrap.review.report.html.render_html (the summary and the page, as write_report calls it) over
audit records made as tests/report_samples.py makes them, spread evenly over 30 days and 50 accounts: per 10
decisions, 6 that change nothing, a warning, an exemption, a deletion (intent and outcome) and a failed
deactivation (intent and outcome). Building the records is not timed. Reports the median render time and the
page's size (UTF-8). With --browser the page is also opened from a file in headless chromium
(/usr/bin/chromium, `make browser`): the time to its load event, one keystroke in the filter and one sort
(each with the layout it forces), and the JS heap.
Run: ``.venv/bin/python benchmarks/report_render.py [--quick] [--records 1000,10000,100000] [--browser]``.
"""

from __future__ import annotations

import argparse
import itertools
import json
import statistics
import sys
import tempfile
import time
from datetime import timedelta
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))  # tests.report_samples, when run as a script

from org_bootstrap.review.report.html import ReportData, render_html  # noqa: E402
from remediator.audit import AuditRecord  # noqa: E402
from tests.report_samples import NOW, exemptions, record  # noqa: E402

DAYS, ACCOUNTS = 30, 50
CHROMIUM = "/usr/bin/chromium"
FLAGS = ["--headless", "--no-sandbox", "--enable-precise-memory-info"]
# (decision, phases and outcomes, reason) per decision; a pair is an intent and its outcome.
MIX = [("none", ("decision/skipped",), "within policy")] * 6 + [
    ("warn", ("decision/skipped",), "due in 7 days"),
    ("exempt", ("decision/skipped",), "exempt until 2026-12-31"),
    ("delete", ("intent/pending", "outcome/done"), "key older than 90 days"),
    ("deactivate", ("intent/pending", "outcome/failed"), "unused for 45 days"),
]
# In the page: one keystroke in the filter, then a sort by time; each forces the layout it changes.
MEASURE = """() => {
  const nav = performance.getEntriesByType("navigation")[0];
  const q = document.getElementById("f-q");
  let began = performance.now();
  q.value = "delete"; q.dispatchEvent(new Event("input")); document.body.offsetHeight;
  const filter = performance.now() - began;
  began = performance.now();
  document.querySelector('button[data-col="0"]').click(); document.body.offsetHeight;
  const sort = performance.now() - began;
  return [nav.loadEventEnd, filter, sort, performance.memory.usedJSHeapSize / 2 ** 20];
}"""


def records(count: int) -> list[AuditRecord]:
    made: list[AuditRecord] = []
    step = timedelta(days=DAYS) / count
    for n in itertools.count():
        if len(made) >= count:
            break
        decision, phases, reason = MIX[n % len(MIX)]
        account, user, key = f"{100000000000 + n % ACCOUNTS:012d}", f"user-{n % 997}", f"AKIA{n:016d}"
        for phase, outcome in (p.split("/") for p in phases[: count - len(made)]):
            age = step * (count - len(made) - 0.5)
            made.append(record(age, account, user, key, decision, phase, outcome, reason))
    return made


def in_browser(page_file: Path) -> list[float]:
    from playwright.sync_api import sync_playwright  # noqa: PLC0415  # only with --browser

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=FLAGS)
        page = browser.new_context(viewport={"width": 1280, "height": 900}).new_page()
        page.goto(page_file.as_uri(), wait_until="load", timeout=600_000)
        measured: list[float] = page.evaluate(MEASURE)
        browser.close()
    return measured


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--records", default="1000,10000,100000", help="comma-separated sizes")
    parser.add_argument("--runs", type=int, default=3, help="renders per size; the median (default 3)")
    parser.add_argument("--browser", action="store_true", help="also open each page in headless chromium")
    parser.add_argument("--quick", action="store_true", help="1,000 and 10,000 records, one render each")
    parser.add_argument("--json", action="store_true", help="print only the JSON line")
    args = parser.parse_args()
    if args.quick:
        args.records, args.runs = "1000,10000", 1
    rows = []
    for count in (int(size) for size in args.records.split(",")):
        data = ReportData(
            title=f"Audit report, {count} records",
            generated_at=NOW,
            since=NOW - timedelta(days=DAYS),
            until=NOW,
            records=records(count),
            exemptions=exemptions(NOW),
        )
        times = []
        for _ in range(args.runs):
            began = time.perf_counter()
            page = render_html(data)
            times.append(time.perf_counter() - began)
        row = {"records": count, "decisions": len(data.summary().rows), "render_s": statistics.median(times)}
        row["mb"] = len(page.encode()) / 1e6
        if args.browser:
            with tempfile.TemporaryDirectory() as folder:
                path = Path(folder, "report.html")
                path.write_text(page, encoding="utf-8")
                load, keystroke, sort, heap = in_browser(path)
            row |= {"load_ms": load, "filter_ms": keystroke, "sort_ms": sort, "heap_mib": heap}
        rows.append(row)
    if not args.json:
        print(f"{'records':>8} {'decisions':>9} {'render s':>9} {'MB':>6}", end="")
        print(f" {'load ms':>8} {'filter ms':>9} {'sort ms':>8} {'JS heap MiB':>11}" if args.browser else "")
        for r in rows:
            print(f"{r['records']:>8} {r['decisions']:>9} {r['render_s']:>9.3f} {r['mb']:>6.2f}", end="")
            print(
                f" {r['load_ms']:>8.0f} {r['filter_ms']:>9.0f} {r['sort_ms']:>8.0f} {r['heap_mib']:>11.1f}"
                if args.browser
                else ""
            )
    print(json.dumps({"runs": args.runs, "days": DAYS, "accounts": ACCOUNTS, "sizes": rows}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
