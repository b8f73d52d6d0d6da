"""Tables at 80, 100 and 120 columns (COLUMNS, as when piped): every account id (12 digits) and every
access key id (20 characters) of scan, status, audit, exempt list and the demo appears whole, on one
line; the columns a narrow terminal drops are named under the table; and the fitting itself."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

import pytest

from org_bootstrap.commands.audit import show_records
from org_bootstrap.commands.demo import render
from org_bootstrap.commands.deploy_views import show_status
from org_bootstrap.commands.exempt import show_exemptions
from org_bootstrap.commands.options import RecordsOutput, ScanOutput
from org_bootstrap.commands.render import console
from org_bootstrap.commands.scan_views import show_scan
from org_bootstrap.commands.tables import Column, fit
from org_bootstrap.demo.organization import DemoOrganization
from org_bootstrap.demo.readback import Archive
from org_bootstrap.demo.run import DemoResult, KeyRow
from org_bootstrap.demo.simulation import MotoOrganization
from org_bootstrap.deploy.coverage import AccountReport, Expected, Finding
from org_bootstrap.deploy.footprint import Footprint
from org_bootstrap.deploy.status import Status
from org_bootstrap.review.audit_query import AuditPage, parse_query
from org_bootstrap.review.audit_verify import Verification
from org_bootstrap.review.report.html import ReportData
from org_bootstrap.review.scan import AccountScan, Row, ScanResult
from org_bootstrap.review.scan_plan import Overrides, ScanPlan, choose_policy
from remediator.audit import AuditRecord, Outcome, Phase, Trigger
from remediator.decision import Action, Rule
from remediator.exemptions import Exemption
from remediator.policy import Mode, Thresholds

NOW = datetime(2026, 11, 28, 6, 0, tzinfo=UTC)
ACCOUNTS = ("210987654321", "345678901234", "456789012345")
NAMES = {ACCOUNTS[0]: "production-eu-central-payments", ACCOUNTS[1]: "sandbox", ACCOUNTS[2]: "dev"}
KEYS = tuple(f"AKIAEXAMPLEKEY{n:02d}ABCD" for n in range(1, 7))
REASON = "created 120 days ago, limit 90; never used, created 120 days ago, limit 45 (a long reason)"
WIDTHS = (80, 100, 120)
ACCOUNT_ID = re.compile(r"(?<!\d)\d{12}(?!\d)")
KEY_ID = re.compile(r"AKIA[0-9A-Z]{16}")


def printed(capsys: pytest.CaptureFixture[str]) -> str:
    return capsys.readouterr().out


def assert_whole(out: str, accounts: tuple[str, ...], keys: tuple[str, ...], width: int) -> None:
    for account in accounts:
        assert account in out, (account, width)
    for key in keys:
        assert key in out, (key, width)
    table = [line for line in out.splitlines() if "│" in line or "┃" in line]
    assert table, "no table"
    assert all(len(line) <= width for line in table), max(len(line) for line in table)
    for line in table:  # a cut identifier would leave a prefix of digits or an AKIA fragment
        for match in re.findall(r"\bAKIA[0-9A-Z]*", line):
            assert KEY_ID.fullmatch(match), (match, width)
        for match in re.findall(r"(?<![\d:-])\d{9,}(?![\d:-])", line):
            assert ACCOUNT_ID.fullmatch(match), (match, width)


@pytest.fixture(params=WIDTHS)
def width(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> int:
    columns: int = request.param
    monkeypatch.setenv("COLUMNS", str(columns))
    assert console.width == columns
    return columns


def scan_row(n: int) -> Row:
    return Row(
        account_id=ACCOUNTS[n % 3],
        user_name=f"service-user-with-a-long-name-{n}",
        access_key_id=KEYS[n],
        status="Active",
        age_days=120 + n,
        last_used_at=None,
        action=Action.DELETE,
        at=None if n % 2 else NOW + timedelta(days=n),
        rules=(Rule.ROTATION, Rule.UNUSED),
        reason=REASON,
    )


def test_scan(width: int, capsys: pytest.CaptureFixture[str]) -> None:
    rows = tuple(scan_row(n) for n in range(6))
    result = ScanResult(tuple(AccountScan(a, tuple(r for r in rows if r.account_id == a)) for a in ACCOUNTS))
    plan = ScanPlan(
        caller=ACCOUNTS[0],
        organization_id="o-abcdef1234",
        accounts=ACCOUNTS,
        policy=choose_policy(None, Overrides(), account_role="r", where="here"),
        account_role="r",
        now=NOW,
        within="30d",
        until=NOW + timedelta(days=30),
        account_names=NAMES,
    )
    show_scan(plan, result, ScanOutput.TABLE, region="eu-west-1")
    out = printed(capsys)
    assert_whole(out, ACCOUNTS, KEYS, width)
    if width == 80:
        assert "(Too narrow for last used, age, status, name, controls, rules" in out


def test_status(width: int, capsys: pytest.CaptureFixture[str]) -> None:
    ok = Finding(ok=True, detail="CREATE_COMPLETE")
    problem = Finding(ok=False, detail="Config rule akr-access-keys-rotated is missing; and a long tail")
    reports = tuple(
        AccountReport(
            account_id=account,
            name=NAMES[account],
            findings={
                "stack": ok,
                "recorder": ok,
                "rules": problem if n else ok,
                "forwarding": ok,
                "member_role": ok,
                "reactivation": ok,
            },
        )
        for n, account in enumerate(ACCOUNTS)
    )
    status = Status(
        footprint=Footprint(
            caller_account=ACCOUNTS[0],
            management_account=ACCOUNTS[0],
            organization_id="o-abcdef1234",
            delegated_admin=False,
        ),
        security_account=ACCOUNTS[1],
        expected=Expected(
            organization_id="o-abcdef1234",
            home_region="eu-west-1",
            rule_names=("akr-access-keys-rotated", "akr-iam-user-unused-credentials-check"),
            forwarding_rule="akr-forward-noncompliant-keys",
            bus_arn="arn:aws:events:eu-west-1:345678901234:event-bus/access-key-remediation",
            remediator_role_arn="arn:aws:iam::345678901234:role/akr-remediator",
            reactivation_rule="akr-forward-key-reactivations",
            events_region="us-east-1",
            forwarder_role_name="AccessKeyRemediationForwarder",
        ),
        central=Finding(ok=True, detail="central stack ok"),
        accounts=reports,
    )
    show_status(status, RecordsOutput.TABLE)
    assert_whole(printed(capsys), ACCOUNTS, (), width)


def audit_record(n: int) -> AuditRecord:
    at = NOW - timedelta(minutes=n)
    return AuditRecord(
        record_id=f"{at:%Y-%m-%dT%H:%M:%S}.000Z#{n}",
        account_id=ACCOUNTS[n % 3],
        user_name=f"service-user-with-a-long-name-{n}",
        access_key_id=KEYS[n],
        decision="delete",
        mode=Mode.DELETE,
        reason=REASON,
        thresholds=Thresholds(),
        operator="arn:aws:sts::210987654321:assumed-role/OrganizationAccountAccessRole/alice",
        trigger=Trigger.SWEEP,
        phase=Phase.OUTCOME,
        outcome=Outcome.DONE,
        recorded_at=at,
    )


def test_audit(width: int, capsys: pytest.CaptureFixture[str]) -> None:
    page = AuditPage([audit_record(n) for n in range(6)], truncated=False, index="by_day")
    show_records(parse_query(now=NOW), page, "akr-audit", RecordsOutput.TABLE, NAMES)
    assert_whole(printed(capsys), ACCOUNTS, KEYS, width)


def test_exempt_list(width: int, capsys: pytest.CaptureFixture[str]) -> None:
    found = [
        Exemption(
            account_id=ACCOUNTS[n % 3],
            user_name=f"break-glass-user-{n}",
            access_key_id=KEYS[n],
            reason="kept in the vault for the yearly disaster recovery exercise",
            owner="security-operations@example.com",
            expires_at=NOW + timedelta(days=n + 1),
        )
        for n in range(6)
    ]
    show_exemptions(found, NAMES, NOW, include_expired=False)
    assert_whole(printed(capsys), ACCOUNTS, KEYS, width)


def test_demo(width: int, capsys: pytest.CaptureFixture[str]) -> None:
    management, security, member = ACCOUNTS
    organization = DemoOrganization(
        url="http://127.0.0.1:1",
        organization_id="o-abcdef1234",
        management=management,
        security=security,
        members=(member,),
        ous={},
        account_names=NAMES,
        accounts=MotoOrganization(management=management, security=security, members=(member,)),
    )
    rows = tuple(
        KeyRow(
            account_id=ACCOUNTS[n % 3],
            account_name=NAMES[ACCOUNTS[n % 3]],
            user_name=f"batch-never-used-{n}",
            access_key_id=KEYS[n],
            age_days=100,
            last_used_at=None,
            status_before="Active",
            decision="delete",
            trigger="event",
            reason=REASON,
            status_after="deleted",
        )
        for n in range(6)
    )
    result = DemoResult(
        organization=organization,
        rows=rows,
        records=(),
        events_published=6,
        lost_event=(member, "batch-never-used-2", "akr-access-keys-rotated"),
        invocations=(),
        report_path=None,
        mode="delete",
        report_data=ReportData(title="t", generated_at=NOW, since=NOW, until=NOW),
        seed=7,
        archive=Archive(
            bucket="access-key-remediation-auditarchivebucket-abc123", prefix="audit/", objects=0, lines=()
        ),
        verification=Verification(since=NOW, until=NOW, checked_at=NOW, records=0, lines=0),
    )
    render(result, console)
    assert_whole(printed(capsys), ACCOUNTS, KEYS, width)


def test_columns_are_dropped_in_their_order_and_never_below_the_identifiers() -> None:
    columns = (Column("id"), Column("a", "text", drop=2), Column("b", "text", drop=1), Column("c", drop=3))
    rows = [("123456789012", "x" * 40, "y" * 40, "zz")]
    assert fit(columns, rows, 200).dropped == ()
    assert fit(columns, rows, 40).dropped == ("b",)
    assert fit(columns, rows, 25).dropped == ("b", "a")
    assert fit(columns, rows, 10).dropped == ("b", "a", "c")  # the id stays, and overflows
