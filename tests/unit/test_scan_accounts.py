"""`akr scan` per account and over the organization (org_bootstrap.review.scan), over in-memory fakes: one
account read through the report or the listing, its central state, its IAM failures; and the runner: accounts
N at a time, one opener per worker thread, every account's session let go of once it is scanned, and the
central state read before any account. Failures of any other kind are in test_scan_failures."""

from __future__ import annotations

import threading
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime

import pytest

from org_bootstrap.review.scan import (
    AccountScan,
    Central,
    Opener,
    OpenMember,
    Row,
    ScanResult,
    read_central,
    scan_account,
    scan_accounts,
)
from remediator.decision import Action
from remediator.errors import PermanentError, TransientError
from remediator.exemptions import Exemption
from remediator.facts import UserFacts
from remediator.lifecycle import KeyLifecycle, Stage
from remediator.policy import Mode
from remediator.ports import ExemptionSource, LifecycleStore, MemberAccount
from tests.fakes import FakeAccess, FakeMember, MemoryLifecycle, Read, StaticExemptions
from tests.functional.test_sweep import report_of
from tests.unit.test_scan import (
    ACCOUNT,
    DAY,
    NOW,
    OTHER,
    POLICY,
    ROTATION,
    UNTIL,
    exemption,
    key,
    member_with,
    user,
)

# -- one account ------------------------------------------------------------------------------------------


def opener_of(access: FakeAccess) -> OpenMember:
    def open_member(account_id: str) -> MemberAccount:
        return access.open(account_id, region="eu-west-1", label="scan-test")

    return open_member


def test_an_account_is_read_through_the_report_and_only_read() -> None:
    member = member_with(user(key(120), name="stale"), user(key(10, used=1), name="fresh"))
    scanned = scan_account(ACCOUNT, opener_of(FakeAccess({ACCOUNT: member})), Central(), POLICY, NOW, UNTIL)
    assert (scanned.nominated_by, scanned.users_read, scanned.errors) == ("credential report", 1, ())
    assert [(r.user_name, r.action, r.at) for r in scanned.rows] == [("stale", Action.DELETE, None)]
    assert member.calls == ["credential_report", "read_user"]


def test_only_the_users_actually_read_are_counted() -> None:
    member = member_with(user(key(120), name="stale"), user(key(120), name="gone"))
    del member.users_by_name["gone"]  # deleted since the report
    scanned = scan_account(ACCOUNT, opener_of(FakeAccess({ACCOUNT: member})), Central(), POLICY, NOW, UNTIL)
    assert (scanned.users_read, scanned.errors, member.calls.count("read_user")) == (1, (), 2)


def test_without_a_report_every_user_is_listed_and_read() -> None:
    member = member_with(user(key(120), name="stale"), user(key(10, used=1), name="fresh"))
    member.report = None
    scanned = scan_account(ACCOUNT, opener_of(FakeAccess({ACCOUNT: member})), Central(), POLICY, NOW, UNTIL)
    assert (scanned.nominated_by, scanned.users_read) == ("user listing", 2)
    assert [r.user_name for r in scanned.rows] == ["stale"]
    assert member.calls == ["credential_report", "users", "read_user", "read_user"]


def test_exemptions_and_lifecycles_come_from_the_central_stores() -> None:
    staged = POLICY.model_copy(update={"mode": Mode.STAGED, "grace_days": 14})
    member = member_with(user(key(120), name="alice"), user(key(200, status="Inactive"), name="bob"))
    lifecycles = MemoryLifecycle()
    lifecycles.save(
        KeyLifecycle(
            account_id=ACCOUNT,
            access_key_id="AKIAKEY0000000000001",
            user_name="bob",
            stage=Stage.DEACTIVATED,
            deactivated_at=NOW - 10 * DAY,
            staged=True,
            updated_at=NOW - 10 * DAY,
        )
    )
    exemptions = StaticExemptions([exemption(60)])
    central = read_central(ACCOUNT, exemptions, lifecycles, now=NOW)
    scanned = scan_account(ACCOUNT, opener_of(FakeAccess({ACCOUNT: member})), central, staged, NOW, UNTIL)
    assert [(r.user_name, r.action, r.at) for r in scanned.rows] == [
        ("alice", Action.EXEMPT, None),
        ("bob", Action.DELETE, NOW + 4 * DAY),
    ]
    assert lifecycles.writes == 1  # the one above: the scan wrote nothing


def test_a_user_that_cannot_be_read_is_an_error_and_the_others_are_read() -> None:
    class Flaky(FakeMember):
        def read_user(self, user_name: str, user_id: str | None = None) -> UserFacts | None:
            if user_name == "broken":
                raise PermanentError("reading user broken in 222222222222: AccessDenied")
            return super().read_user(user_name, user_id)

    member = Flaky(ACCOUNT)
    for facts in (user(key(120), name="broken"), user(key(120), name="stale")):
        member.add(facts)
    member.report = report_of(member, NOW)
    scanned = scan_account(ACCOUNT, opener_of(FakeAccess({ACCOUNT: member})), Central(), POLICY, NOW, UNTIL)
    assert scanned.failed
    assert scanned.errors == ("reading user broken in 222222222222: AccessDenied",)
    assert [r.user_name for r in scanned.rows] == ["stale"]


@pytest.mark.parametrize(
    ("operation", "error"),
    [
        (
            "credential_report",
            TransientError("credential report of 222222222222: not ready after 3 attempts"),
        ),
        ("users", PermanentError("iam:ListUsers in 222222222222: AccessDenied")),
    ],
)
def test_an_account_that_cannot_be_read_is_failed_with_the_reason(operation: str, error: Exception) -> None:
    member = member_with(user(key(120), name="stale"))
    member.report = None
    member.fail_on[operation] = error
    scanned = scan_account(ACCOUNT, opener_of(FakeAccess({ACCOUNT: member})), Central(), POLICY, NOW, UNTIL)
    assert (scanned.errors, scanned.rows, scanned.nominated_by) == ((str(error),), (), "")


# -- the organization -----------------------------------------------------------------------------------


def row(account: str, name: str, at: datetime | None, action: Action = Action.DELETE) -> Row:
    return Row(
        account_id=account,
        user_name=name,
        access_key_id=f"AKIA{name.upper():0<16}",
        status="Active",
        age_days=100,
        last_used_at=None,
        action=action,
        at=at,
        rules=ROTATION,
        reason="",
    )


def test_rows_come_now_first_then_by_date_account_and_user_and_the_totals_count_each_action() -> None:
    result = ScanResult(
        (
            AccountScan(OTHER, rows=(row(OTHER, "zed", NOW + DAY), row(OTHER, "amy", None, Action.EXEMPT))),
            AccountScan(
                ACCOUNT, rows=(row(ACCOUNT, "bob", None), row(ACCOUNT, "cat", NOW + DAY, Action.REPORT))
            ),
            AccountScan("444444444444", errors=("sts:AssumeRole: AccessDenied",)),
        )
    )
    assert [(r.account_id, r.user_name) for r in result.rows] == [
        (ACCOUNT, "bob"),
        (OTHER, "amy"),
        (ACCOUNT, "cat"),
        (OTHER, "zed"),
    ]
    assert result.totals() == {"delete": 2, "deactivate": 0, "report": 1, "exempt": 1, "warn": 0}
    assert ([a.account_id for a in result.failed], result.errors) == (["444444444444"], 1)


ACCOUNTS = tuple(f"{n:012d}" for n in range(222222222201, 222222222211))


@dataclass
class FakeOpener:
    """One worker's opener over FakeAccess: what it opened and forgot, and `log` shared by all workers."""

    access: FakeAccess
    log: list[str] = field(default_factory=list)
    held: set[str] = field(default_factory=set)
    """The accounts opened and not forgotten yet: what an AssumedRoleAccess would still hold."""

    def open(self, account_id: str) -> MemberAccount:
        self.log.append(f"open {account_id}")
        self.held.add(account_id)
        return self.access.open(account_id, region="eu-west-1", label="scan-test")

    def forget(self, account_id: str) -> None:
        self.held.discard(account_id)
        self.access.forget(account_id)


def test_accounts_are_scanned_concurrently_one_opener_per_thread_and_a_denied_one_is_listed() -> None:
    members = {a: member_with(user(key(120), name="stale", account=a), account=a) for a in ACCOUNTS}
    access = FakeAccess(dict(members), denied={ACCOUNTS[3]})
    threads: list[str] = []
    done: list[str] = []
    started = threading.Barrier(4, timeout=5)

    def factory() -> Opener:
        threads.append(threading.current_thread().name)
        started.wait()  # four workers at once, or this times out
        return FakeOpener(access)

    result = scan_accounts(
        [*ACCOUNTS, ACCOUNTS[0]],
        factory,
        None,
        None,
        POLICY,
        NOW,
        UNTIL,
        concurrency=4,
        on_done=lambda scanned: done.append(scanned.account_id),
    )
    assert [a.account_id for a in result.accounts] == list(ACCOUNTS)
    assert sorted(done) == sorted(ACCOUNTS)
    assert len(threads) == len(set(threads)) == 4
    assert result.failed == (
        AccountScan(ACCOUNTS[3], errors=(f"sts:AssumeRole into {ACCOUNTS[3]}: AccessDenied",)),
    )
    assert len(result.rows) == len(ACCOUNTS) - 1


def test_each_account_is_let_go_of_once_scanned_failed_ones_too() -> None:
    members = {a: member_with(user(key(120), name="stale", account=a), account=a) for a in ACCOUNTS}
    members[ACCOUNTS[5]].fail_on["read_user"] = PermanentError("reading user stale: AccessDenied")
    access = FakeAccess(dict(members), denied={ACCOUNTS[3]})
    openers: list[FakeOpener] = []
    lock = threading.Lock()

    def factory() -> Opener:
        with lock:
            openers.append(FakeOpener(access))
            return openers[-1]

    result = scan_accounts(ACCOUNTS, factory, None, None, POLICY, NOW, UNTIL, concurrency=3)
    assert len(result.failed) == 2
    assert sorted(access.forgotten) == sorted(ACCOUNTS)  # once each
    assert [opener.held for opener in openers] == [set()] * len(openers)


@dataclass
class Watched:
    """Central stores that log their reads next to the openers' opens, and refuse a read once an account
    has been opened: the security session may have expired by then."""

    log: list[str]
    exemptions: Sequence[Exemption] = ()
    lifecycles: dict[str, KeyLifecycle] = field(default_factory=dict)

    def _read(self, what: str, account_id: str) -> None:
        if any(entry.startswith("open") for entry in self.log):
            raise PermanentError(f"{what} of {account_id} read after the accounts phase began")
        self.log.append(f"{what} {account_id}")

    def read(self, account_id: str) -> Read:
        self._read("exemptions", account_id)
        return Read(tuple(e for e in self.exemptions if e.account_id == account_id), ())


@dataclass
class WatchedLifecycles:
    watched: Watched

    def for_account(self, account_id: str) -> dict[str, KeyLifecycle]:
        self.watched._read("lifecycles", account_id)
        return {}

    def save(self, lifecycle: KeyLifecycle) -> None:
        raise AssertionError("the scan writes nothing")


def test_the_central_state_of_every_account_is_read_before_the_first_account_is_opened() -> None:
    members = {a: member_with(user(key(120), name="stale", account=a), account=a) for a in ACCOUNTS}
    log: list[str] = []
    exemptions = Watched(
        log, exemptions=[exemption(60, "stale").model_copy(update={"account_id": ACCOUNTS[2]})]
    )
    lifecycles = WatchedLifecycles(exemptions)
    access = FakeAccess(dict(members))
    result = scan_accounts(
        ACCOUNTS, lambda: FakeOpener(access, log), exemptions, lifecycles, POLICY, NOW, UNTIL, concurrency=4
    )
    assert result.failed == ()
    first_open = next(n for n, entry in enumerate(log) if entry.startswith("open"))
    assert sorted(log[:first_open]) == sorted(
        [f"exemptions {a}" for a in ACCOUNTS] + [f"lifecycles {a}" for a in ACCOUNTS]
    )
    assert all(entry.startswith("open") for entry in log[first_open:])
    # The exemption read up front is the one applied.
    assert {r.account_id: r.action for r in result.rows}[ACCOUNTS[2]] is Action.EXEMPT


def test_concurrency_must_be_positive() -> None:
    with pytest.raises(ValueError, match="at least 1"):
        scan_accounts(
            ACCOUNTS, lambda: FakeOpener(FakeAccess()), None, None, POLICY, NOW, UNTIL, concurrency=0
        )


def _conforms(
    opener: FakeOpener, watched: Watched, lifecycles: WatchedLifecycles
) -> tuple[Opener, ExemptionSource, LifecycleStore, LifecycleStore]:
    """Never called: makes mypy prove that the fakes implement the ports."""
    return opener, watched, lifecycles, lifecycles
