"""The audit log as one self-contained HTML page: totals, charts (inline SVG), failures, exemptions that
are expiring, and every decision in a table that filters and sorts in the browser. Pure: the records and
exemptions come in, a string goes out; `write_report` writes it to a file.

The page loads nothing: its style and script are inline (report.css and report.js, package data) and its
Content-Security-Policy allows those two blocks only, by their SHA-256: no other script or style, inline
or not, and no style attribute. Every value is escaped.
"""

from __future__ import annotations

import base64
import hashlib
import os
import secrets
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from functools import cache
from html import escape
from importlib.resources import files
from pathlib import Path

from org_bootstrap.review.exemptions import ADD as EXEMPT_ADD
from org_bootstrap.review.report.charts import legend, per_account_chart, per_day_chart, swatch, swatch_css
from org_bootstrap.review.report.header import ArchiveCheck, policies
from org_bootstrap.review.report.summary import (
    DEFAULT_EXPIRING_WITHIN,
    RESULTS,
    DecisionRow,
    Summary,
    result_of,
    summarize,
)
from remediator.audit import AuditRecord
from remediator.exemptions import ANY_USER, Exemption

COLUMNS = (
    ("time (UTC)", "time"),
    ("account", "text"),
    ("user", "text"),
    ("access key id", "text"),
    ("decision", "text"),
    ("result", "text"),
    ("started by", "text"),
    ("policy", "text"),
    ("key age", "number"),
    ("last used", "text"),
    ("reason", "text"),
    ("error", "text"),
)
"""The decision table's columns and how each sorts. "result" is the outcome with "skipped" told apart
(no action, already gone); "started by" the trigger (event, sweep, cli) and, for the command line, the
operator's ARN; "policy" the mode and the rotation/unused limits in force when the decision was taken."""


@dataclass(frozen=True)
class ReportData:
    """Everything the page shows. `records` are audit records as read (any order, intents included);
    `exemptions` as stored (expired ones included: the page flags them)."""

    title: str
    generated_at: datetime
    since: datetime
    until: datetime
    records: Sequence[AuditRecord] = ()
    exemptions: Sequence[Exemption] = ()
    expiring_within: timedelta = DEFAULT_EXPIRING_WITHIN
    truncated: bool = False
    """True when more records matched than were read (a limit): the page says so."""
    notes: Sequence[str] = field(default_factory=tuple)
    """Extra lines for the header, e.g. which filters chose the records."""
    account_names: Mapping[str, str] = field(default_factory=dict)
    """Account id -> name, as Organizations has it, shown beside each id."""
    archive: ArchiveCheck | None = None
    """The window verified against the audit archive; None: the header says nothing of it."""

    def summary(self) -> Summary:
        return summarize(
            self.records,
            self.exemptions,
            now=self.generated_at,
            since=self.since,
            until=self.until,
            expiring_within=self.expiring_within,
        )


@cache
def _asset(name: str) -> str:
    # A browser hashes the block after turning CRLF into LF: a checkout with CRLF must not break the CSP.
    text = files("org_bootstrap.review.report").joinpath(name).read_text(encoding="utf-8")
    return text.replace("\r\n", "\n").replace("\r", "\n")


def _sha256(text: str) -> str:
    return "'sha256-" + base64.b64encode(hashlib.sha256(text.encode("utf-8")).digest()).decode("ascii") + "'"


@cache
def page_assets() -> tuple[str, str, str]:
    """The page's style, its script, and the Content-Security-Policy that allows exactly those two."""
    style = _asset("report.css") + swatch_css()
    script = _asset("report.js")
    policy = f"default-src 'none'; style-src {_sha256(style)}; script-src {_sha256(script)}"
    return style, script, policy


def _utc(moment: datetime | None, spec: str = "%Y-%m-%d %H:%M") -> str:
    return "" if moment is None else moment.astimezone(UTC).strftime(spec)


def _days(delta: timedelta) -> str:
    days = delta / timedelta(days=1)
    return f"{days:g} day" + ("" if days == 1 else "s")


def _left(delta: timedelta) -> str:
    """Time to an expiry: days, or hours and minutes within the last day."""
    if delta >= timedelta(days=1):
        return _days(timedelta(days=delta.days))
    hours, seconds = divmod(int(delta.total_seconds()), 3600)
    return f"{hours}h {seconds // 60}m"


def _swatch(decision: str) -> str:
    return f"{swatch(decision)}{escape(decision)}"


def _cell(text: str, sort_value: str | None = None, css: str | None = None) -> str:
    attributes = "" if sort_value is None else f' data-v="{escape(sort_value)}"'
    attributes += "" if css is None else f' class="{css}"'
    return f"<td{attributes}>{text}</td>"


def _outcome(row: DecisionRow) -> str:
    outcome = escape(result_of(row.record))
    if row.unfinished:
        return f'{outcome} <span class="flag">no outcome recorded</span>'
    return outcome


def _account(account_id: str, names: Mapping[str, str]) -> str:
    name = names.get(account_id)
    label = escape(account_id)
    return label if not name else f'{label}<br><span class="sub">{escape(name)}</span>'


def _policy(record: AuditRecord) -> str:
    limits = f"{record.thresholds.max_key_age_days}/{record.thresholds.max_unused_days} days"
    return f'{escape(record.mode.value)}<br><span class="sub">{limits}</span>'


def _started_by(record: AuditRecord) -> str:
    trigger = escape(record.trigger.value)
    if not record.operator:
        return trigger
    return f'{trigger}<br><span class="sub">{escape(record.operator)}</span>'


def _last_used(record: AuditRecord) -> str:
    if record.access_key_id is None:
        return ""
    return "never" if record.last_used_at is None else _utc(record.last_used_at, "%Y-%m-%d")


def _decision_row(row: DecisionRow, names: Mapping[str, str]) -> str:
    record = row.record
    age = record.key_age_days
    result = result_of(record)
    css = f"o-{escape(record.outcome.value)}" + (" unfinished" if row.unfinished else "")
    cells = (
        _cell(_utc(record.recorded_at, "%Y-%m-%d %H:%M:%S"), record.record_id),
        _cell(_account(record.account_id, names), record.account_id),
        _cell(escape(record.user_name or ""), css="name"),
        _cell(escape(record.access_key_id or ""), css="mono"),
        _cell(_swatch(record.decision), record.decision),
        _cell(_outcome(row), result, css="outcome"),
        _cell(_started_by(record), record.trigger.value, css="by"),
        _cell(_policy(record), record.mode.value),
        _cell("" if age is None else f"{age}d", "" if age is None else str(age), css="num"),
        _cell(_last_used(record)),
        _cell(escape(record.reason), css="wrap"),
        _cell(escape(record.error or ""), css="wrap err"),
    )
    return (
        f'<tr class="{css}" data-decision="{escape(record.decision)}" '
        f'data-account="{escape(record.account_id)}" data-outcome="{escape(result)}">'
        f"{''.join(cells)}</tr>"
    )


def _totals(summary: Summary) -> str:
    tiles = [("decisions", sum(summary.decisions.values()), "")]
    tiles += [(name, summary.results.get(name, 0), f"o-{name.replace(' ', '-')}") for name in RESULTS]
    tiles += [
        ("accounts", len(summary.per_account), ""),
        ("exemptions in force", summary.exemptions.in_force, ""),
    ]
    cards = "".join(
        f'<div class="tile {css}"><span class="n">{count}</span><span class="l">{escape(label)}</span></div>'
        for label, count, css in tiles
    )
    lines = [f'<div class="tiles" id="totals">{cards}</div>']
    if summary.decisions:
        lines.append(legend(summary.decision_names, summary.decisions))
    if summary.unfinished:
        lines.append(
            f'<p class="warn" id="unfinished">{summary.unfinished} intent(s) without an outcome: a run '
            "stopped between announcing a change and recording what happened (or the outcome falls "
            "after the window). Check those keys in IAM.</p>"
        )
    return "".join(lines)


def _table(head: Sequence[str], rows: Sequence[Sequence[str]], table_id: str) -> str:
    header = "".join(f"<th>{escape(name)}</th>" for name in head)
    body = "".join("<tr>" + "".join(f"<td>{cell}</td>" for cell in row) + "</tr>" for row in rows)
    return f'<table id="{table_id}"><thead><tr>{header}</tr></thead><tbody>{body}</tbody></table>'


def _failures(summary: Summary, names: Mapping[str, str]) -> str:
    if not summary.failures:
        return '<p class="none">No failures.</p>'
    rows = [
        (
            _utc(row.record.recorded_at, "%Y-%m-%d %H:%M:%S"),
            _account(row.record.account_id, names),
            escape(row.record.user_name or ""),
            escape(row.record.access_key_id or ""),
            _swatch(row.record.decision),
            escape(row.record.error or ""),
        )
        for row in summary.failures
    ]
    return _table(("time (UTC)", "account", "user", "access key id", "decision", "error"), rows, "failures")


def added_by(records: Sequence[AuditRecord]) -> dict[tuple[str, str, str | None], str]:
    """(account, user, key) -> who added the exemption last, from the exempt-add audit records read."""
    found: dict[tuple[str, str, str | None], tuple[datetime, str]] = {}
    for record in records:
        if record.decision != EXEMPT_ADD or not record.operator or record.user_name is None:
            continue
        key = (record.account_id, record.user_name, record.access_key_id)
        if key not in found or found[key][0] < record.recorded_at:
            found[key] = (record.recorded_at, record.operator)
    return {key: operator for key, (_, operator) in found.items()}


def _exemption_row(
    exemption: Exemption, state: str, names: Mapping[str, str], who: Mapping[tuple[str, str, str | None], str]
) -> tuple[str, ...]:
    user = "every user" if exemption.user_name == ANY_USER else exemption.user_name
    operator = who.get((exemption.account_id, exemption.user_name, exemption.access_key_id))
    return (
        _account(exemption.account_id, names),
        escape(user),
        escape(exemption.access_key_id or "all keys"),
        escape(exemption.owner),
        escape(exemption.reason),
        escape(operator) if operator else '<span class="none">not in this window</span>',
        _utc(exemption.expires_at),
        state,
    )


def _exemptions(data: ReportData, summary: Summary) -> str:
    view = summary.exemptions
    line = (
        f"{view.in_force} exemption(s) in force; {len(view.expiring)} expire within "
        f"{_days(data.expiring_within)}; {len(view.expired)} expired and still stored."
    )
    parts = [f'<p id="exemption-counts">{escape(line)}</p>']
    if view.expiring or view.expired:
        names, who = data.account_names, added_by(data.records)
        rows = [
            _exemption_row(
                e,
                f'<span class="soon">expires in {_left(e.expires_at - data.generated_at)}</span>',
                names,
                who,
            )
            for e in view.expiring
        ]
        rows += [_exemption_row(e, '<span class="flag">expired</span>', names, who) for e in view.expired]
        head = ("account", "user", "access key id", "owner", "reason", "added by", "expires (UTC)", "state")
        parts.append(_table(head, rows, "exemptions"))
    return "".join(parts)


def _options(name: str, label: str, values: Sequence[str]) -> str:
    options = "".join(f'<option value="{escape(v)}">{escape(v)}</option>' for v in values)
    return (
        f'<label>{escape(label)} <select id="f-{name}" data-filter="{name}">'
        f'<option value="">all</option>{options}</select></label>'
    )


def _decisions(summary: Summary, names: Mapping[str, str]) -> str:
    controls = (
        '<div class="filters" role="search">'
        '<label>Filter <input id="f-q" type="search" placeholder="any cell" autocomplete="off"></label>'
        + _options("decision", "decision", sorted(summary.decisions))
        + _options("account", "account", list(summary.per_account))
        + _options("outcome", "result", [o for o in RESULTS if summary.results.get(o)])
        + f'<output id="counter" aria-live="polite">{len(summary.rows)} of {len(summary.rows)} rows'
        "</output></div>"
    )
    head = "".join(
        f'<th data-type="{kind}"><button type="button" data-col="{n}">{escape(name)}</button></th>'
        for n, (name, kind) in enumerate(COLUMNS)
    )
    body = "\n".join(_decision_row(row, names) for row in summary.rows)
    return (
        f'{controls}<div class="scroll"><table id="decisions"><thead><tr>{head}</tr></thead>'
        f"<tbody>\n{body}\n</tbody></table></div>"
    )


def _figure(caption: str, svg: str) -> str:
    return f"<figure><figcaption>{escape(caption)}</figcaption>{svg}</figure>"


def _section(section_id: str, heading: str, content: str) -> str:
    return f'<section id="{section_id}"><h2>{escape(heading)}</h2>{content}</section>'


def render_html(data: ReportData) -> str:
    """The whole page."""
    summary = data.summary()
    style, script, policy = page_assets()
    window = f"{_utc(data.since)} to {_utc(data.until)} UTC"
    header = [
        f"<h1>{escape(data.title)}</h1>",
        f'<p class="meta">Audit records from {escape(window)}; generated {_utc(data.generated_at)} UTC. '
        f"{len(data.records)} record(s), {len(summary.rows)} decision(s).</p>",
    ]
    header += [f'<p class="meta">{escape(note)}</p>' for note in data.notes]
    header += [f'<p class="meta" id="policy">{escape(line)}</p>' for line in policies(data.records)]
    if data.archive is not None:
        css = "meta" if data.archive.state == "clean" else "warn"
        header.append(
            f'<p class="{css} {data.archive.state}" id="verification">{escape(data.archive.line)}</p>'
        )
    if data.truncated:
        header.append(
            f'<p class="warn" id="truncated">Only {len(data.records)} records were read and more match: '
            "the page is incomplete. Narrow the window or raise the limit.</p>"
        )
    sections = [_section("summary", "Totals", _totals(summary))]
    if summary.rows:
        order = summary.decision_names
        accounts = _figure("Per account", per_account_chart(summary.per_account, order))
        days = _figure("Per day (UTC)", per_day_chart(summary.per_day, summary.days, order))
        charts = f'<div class="charts">{accounts}{days}</div>'
        sections.append(_section("charts", "Decisions per account and per day", charts))
        sections.append(_section("failed", "Failures", _failures(summary, data.account_names)))
    else:
        sections.insert(0, f'<p class="empty" id="empty">No audit records from {escape(window)}.</p>')
    sections.append(_section("expiring", "Exemptions", _exemptions(data, summary)))
    if summary.rows:
        sections.append(_section("all", "Every decision", _decisions(summary, data.account_names)))
    return (
        "<!DOCTYPE html>\n"
        '<html lang="en"><head><meta charset="utf-8">'
        f'<meta http-equiv="Content-Security-Policy" content="{policy}">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{escape(data.title)}</title><style>{style}</style></head>\n"
        f"<body><header>{''.join(header)}</header><main>{''.join(sections)}</main>"
        f"<script>{script}</script></body></html>\n"
    )


def write_report(path: str | os.PathLike[str], data: ReportData) -> Path:
    """Render and write the page (UTF-8) through a temporary file of its own beside it, renamed over the
    target: a failed write leaves neither a partial page nor the temporary file, and two writes at once
    never share a temporary file (the last rename wins). The absolute path. An OSError (a missing
    directory, no permission) goes to the caller."""
    target = Path(path).absolute()
    page = render_html(data).encode("utf-8")
    # Not mkstemp: its files are 0600, and the page should get the permissions of any new file (umask).
    # A short name: the target's own name may already be near the file system's limit.
    temporary = target.with_name(f".akr-report-{secrets.token_hex(8)}.partial")
    descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)
    try:
        with os.fdopen(descriptor, "wb") as file:
            file.write(page)
        temporary.replace(target)
    finally:
        temporary.unlink(missing_ok=True)
    return target
