"""What `akr scan` prints: a rich table, the stable JSON envelope (org_bootstrap.commands.render), CSV
with a header, OCSF Detection Findings (org_bootstrap.commands.ocsf) or a SARIF log
(org_bootstrap.commands.sarif). Every row, in every format, names the controls it answers for."""

from __future__ import annotations

import csv
import json
import sys
from typing import Any

from rich.markup import escape

from org_bootstrap.commands.ocsf import controls_of, findings
from org_bootstrap.commands.options import ScanOutput
from org_bootstrap.commands.render import console, emit_json, envelope, errors, iso
from org_bootstrap.commands.sarif import sarif_log
from org_bootstrap.commands.tables import Column
from org_bootstrap.commands.tables import show as show_table
from org_bootstrap.commands.version import version
from org_bootstrap.review.scan import Row, ScanResult
from org_bootstrap.review.scan_plan import ScanPlan, ScanPolicy
from remediator.policy import Mode, Policy

FINDINGS_EXIT = 3
"""--fail-on-findings: a key breaks a rule now."""
CSV_COLUMNS = (
    "account_id",
    "account_name",
    "user_name",
    "access_key_id",
    "status",
    "age_days",
    "last_used_at",
    "action",
    "when",
    "at",
    "rules",
    "controls",
    "finding_id",
    "reason",
)
SCAN_COLUMNS = (
    Column("account"),
    Column("name", "text", drop=4),
    Column("user", "text", drop=8),
    Column("key"),
    Column("status", drop=3),
    Column("age", justify="right", drop=2),
    Column("last used", drop=1),
    Column("action"),
    Column("when"),
    Column("rules", drop=6),
    Column("controls", "text", drop=5),
    Column("reason", "text", drop=7),
)
"""Narrow terminals drop the last use first, then the age, the status, the account name, the controls,
the rules, the reason and the user; the account, the key, the action and when always stay."""


def when(row: Row) -> str:
    return "now" if row.at is None else f"{row.at:%Y-%m-%d}"


def row_dict(row: Row, plan: ScanPlan) -> dict[str, Any]:
    return {
        "account_id": row.account_id,
        "account_name": plan.account_names.get(row.account_id, ""),
        "user_name": row.user_name,
        "access_key_id": row.access_key_id,
        "status": row.status,
        "age_days": row.age_days,
        "last_used_at": iso(row.last_used_at) if row.last_used_at else None,
        "action": row.action.value,
        "when": when(row),
        "at": iso(row.at or plan.now),
        "rules": [rule.value for rule in row.rules],
        "controls": [control.label for control in controls_of(row, plan)],
        "finding_id": row.finding_id,
        "breaks_a_rule_now": row.breaks_a_rule_now,
        "reason": row.reason,
    }


def csv_row(row: Row, plan: ScanPlan) -> dict[str, str]:
    plain = row_dict(row, plan)
    plain["rules"] = ";".join(plain["rules"])
    plain["controls"] = ";".join(plain["controls"])
    return {name: "" if plain[name] is None else str(plain[name]) for name in CSV_COLUMNS}


def scan_envelope(plan: ScanPlan, result: ScanResult) -> dict[str, Any]:
    """{"command": "scan", "status": "ok" | "error", "changed": false, "result": {...}}, plus "error"
    when an account could not be read completely."""
    body = {
        "organization_id": plan.organization_id,
        "policy": plan.policy.as_dict(),
        "within": plan.within,
        "now": iso(plan.now),
        "until": iso(plan.until),
        "accounts": [
            {
                "account_id": a.account_id,
                "account_name": plan.account_names.get(a.account_id, ""),
                "nominated_by": a.nominated_by,
                "users_read": a.users_read,
                "rows": len(a.rows),
                "failed": a.failed,
            }
            for a in result.accounts
        ],
        "accounts_failed": [{"account_id": a.account_id, "reasons": list(a.errors)} for a in result.failed],
        "errors": result.errors,
        "rows": [row_dict(row, plan) for row in result.rows],
        "totals": result.totals(),
        "findings": sum(1 for row in result.rows if row.breaks_a_rule_now),
    }
    if not result.failed:
        return envelope("scan", "ok", changed=False, result=body)
    error = f"{len(result.failed)} of {len(result.accounts)} account(s) could not be read completely"
    return envelope("scan", "error", changed=False, result=body, error=error)


def describe_policy(policy: Policy) -> str:
    limits = policy.thresholds
    line = (
        f"mode {policy.mode.value}, rotation after {limits.max_key_age_days} days, unused after "
        f"{limits.max_unused_days} days"
    )
    if policy.mode is Mode.STAGED:
        line += f", deletion {policy.grace_days} days after deactivation"
    if policy.warn_days_before and policy.mode is not Mode.REPORT:  # report mode warns nobody
        line += f", owners warned {policy.warn_days_before} days before"
    return line


def policy_line(chosen: ScanPolicy) -> str:
    """Which policy the rows follow: the deployed one, the defaults, or a preview over either (and
    which options it previews), never a preview labelled as deployed."""
    where = "deployed" if chosen.source == "deployed" else "the defaults"
    if not chosen.previewed:
        return f"Policy ({where}: {chosen.note}): {describe_policy(chosen.policy)}"
    given = ", ".join(f"{option} {value}" for option, value in chosen.overrides.items())
    return (
        f"Policy previewed with {given}, not deployed: {describe_policy(chosen.policy)}. "
        f"Over {where} ({chosen.note}): {describe_policy(chosen.base)}"
    )


def totals_line(result: ScanResult) -> str:
    counts = ", ".join(f"{n} {action}" for action, n in result.totals().items())
    return (
        f"Totals: {counts}; {len(result.accounts)} account(s) scanned, {len(result.failed)} failed, "
        f"{result.errors} error(s). Nothing was changed."
    )


def show_scan(plan: ScanPlan, result: ScanResult, output: ScanOutput, *, region: str) -> None:
    if output is ScanOutput.JSON:
        emit_json(scan_envelope(plan, result))
        return
    if output is ScanOutput.OCSF:
        sys.stdout.write(json.dumps(findings(plan, result, version=version(), region=region), indent=2))
        sys.stdout.write("\n")
        _show_failures(result)
        return
    if output is ScanOutput.SARIF:
        sys.stdout.write(json.dumps(sarif_log(plan, result, version=version()), indent=2) + "\n")
        _show_failures(result)
        return
    if output is ScanOutput.CSV:
        writer = csv.DictWriter(sys.stdout, fieldnames=CSV_COLUMNS, lineterminator="\n")
        writer.writeheader()
        writer.writerows(csv_row(row, plan) for row in result.rows)
        _show_failures(result)
        return
    console.print(policy_line(plan.policy), highlight=False)
    horizon = f"now or by {plan.until:%Y-%m-%d %H:%M} UTC (--within {plan.within})"
    if result.rows:
        cells = [
            (
                row.account_id,
                escape(plan.account_names.get(row.account_id, "")),
                escape(row.user_name),
                row.access_key_id,
                row.status,
                f"{row.age_days}d",
                f"{row.last_used_at:%Y-%m-%d}" if row.last_used_at else "never",
                row.action.value,
                when(row),
                ", ".join(rule.value for rule in row.rules) or "-",
                " ".join(control.label for control in controls_of(row, plan)),
                escape(row.reason),
            )
            for row in result.rows
        ]
        show_table(console, SCAN_COLUMNS, cells, title=f"Keys acted on {horizon}")
    else:
        console.print(f"No key would be acted on {horizon}.", highlight=False)
    _show_failures(result)
    console.print(totals_line(result), highlight=False)


def _show_failures(result: ScanResult) -> None:
    for scanned in result.failed:
        for reason in scanned.errors:
            errors.print(f"[red]{scanned.account_id}[/] could not be read: {escape(reason)}", highlight=False)
