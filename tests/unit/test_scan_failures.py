"""`akr scan` when something goes wrong in one account (org_bootstrap.review.scan), over in-memory fakes:
whatever the failure (a corrupt item of the state table, a credential report that does not parse, a response
without a field), it is that account's error, listed with its reason in one line, and the other accounts
complete; only an interrupt stops the scan."""

from __future__ import annotations

from typing import Any

import pytest

from org_bootstrap.review.scan import Central, scan_account, scan_accounts
from remediator.credential_report import CredentialReport, parse_report
from remediator.facts import UserFacts
from remediator.lifecycle import KeyLifecycle
from remediator.ports import LifecycleStore
from tests.fakes import FakeAccess, FakeMember
from tests.functional.test_sweep import report_of
from tests.unit.test_scan import ACCOUNT, NOW, POLICY, UNTIL, key, member_with, user
from tests.unit.test_scan_accounts import ACCOUNTS, FakeOpener, opener_of


class CorruptLifecycles:
    """The state table as DynamoDBLifecycle reads it, with one item whose stage is no stage: the same
    pydantic validation raises."""

    def for_account(self, account_id: str) -> dict[str, KeyLifecycle]:
        if account_id != ACCOUNTS[1]:
            return {}
        item: dict[str, Any] = {
            "account_id": account_id,
            "access_key_id": "AKIAKEY0000000000001",
            "user_name": "stale",
            "stage": "half-deleted",
            "updated_at": NOW.isoformat(),
        }
        lifecycle = KeyLifecycle.model_validate(item)
        return {lifecycle.access_key_id: lifecycle}

    def save(self, lifecycle: KeyLifecycle) -> None:
        raise AssertionError("the scan writes nothing")


def test_a_corrupt_lifecycle_item_fails_its_account_only() -> None:
    accounts = ACCOUNTS[:3]
    members = {a: member_with(user(key(120), name="stale", account=a), account=a) for a in accounts}
    access = FakeAccess(dict(members))
    result = scan_accounts(
        accounts, lambda: FakeOpener(access), None, CorruptLifecycles(), POLICY, NOW, UNTIL, concurrency=2
    )
    (failed,) = result.failed
    assert failed.account_id == ACCOUNTS[1]
    (reason,) = failed.errors
    assert reason.startswith(f"key lifecycles of {ACCOUNTS[1]}: invalid KeyLifecycle: stage: Input should be")
    assert "\n" not in reason
    assert sorted(r.account_id for r in result.rows) == [ACCOUNTS[0], ACCOUNTS[2]]
    assert members[ACCOUNTS[1]].calls == []  # not opened: its state is unknown


class GarbledReport(FakeMember):
    """An account whose credential report has a row that does not read (a date that is no date)."""

    def credential_report(self) -> CredentialReport | None:
        self._call("credential_report")
        header = "user,arn," + ",".join(
            f"access_key_{slot}_{field}"
            for slot in (1, 2)
            for field in ("active", "last_rotated", "last_used_date")
        )
        content = (
            f"{header}\n"
            f"stale,arn:aws:iam::{self.account_id}:user/stale,true,yesterday-ish,N/A,false,N/A,N/A\n"
        )
        return parse_report(content, NOW)


def test_a_credential_report_row_that_does_not_parse_is_read_live_instead() -> None:
    """As the remediator's sweep does: the unreadable row's user is read live, the account goes on."""
    accounts = ACCOUNTS[:3]
    members: dict[str, FakeMember] = {
        a: member_with(user(key(120), name="stale", account=a), account=a) for a in accounts
    }
    garbled = GarbledReport(ACCOUNTS[0])
    garbled.add(user(key(120), name="stale", account=ACCOUNTS[0]))
    members[ACCOUNTS[0]] = garbled
    access = FakeAccess(members)
    result = scan_accounts(accounts, lambda: FakeOpener(access), None, None, POLICY, NOW, UNTIL)
    assert result.failed == ()
    assert garbled.calls == ["credential_report", "read_user"]
    assert sorted(r.account_id for r in result.rows) == list(accounts)


def test_a_user_that_fails_in_any_way_is_an_error_and_the_others_are_read() -> None:
    member = member_with(user(key(120), name="odd"), user(key(120), name="stale"))
    real_read = member.read_user

    def read_user(user_name: str, user_id: str | None = None) -> UserFacts | None:
        if user_name == "odd":
            raise KeyError("UserName")  # a response without the field
        return real_read(user_name, user_id)

    member.read_user = read_user  # type: ignore[method-assign]
    scanned = scan_account(ACCOUNT, opener_of(FakeAccess({ACCOUNT: member})), Central(), POLICY, NOW, UNTIL)
    assert scanned.errors == (f"reading user odd in {ACCOUNT}: KeyError: 'UserName'",)
    assert ([r.user_name for r in scanned.rows], scanned.users_read) == (["stale"], 1)


class Interrupted(FakeMember):
    """Ctrl-C while `at` is read."""

    at: str = "credential_report"

    def _call(self, operation: str) -> None:
        super()._call(operation)
        if operation == self.at:
            raise KeyboardInterrupt


@pytest.mark.parametrize("at", ["credential_report", "read_user"])
def test_an_interrupt_is_not_an_account_error(at: str) -> None:
    member = Interrupted(ACCOUNT)
    member.at = at
    member.add(user(key(120), name="stale"))
    member.report = report_of(member, NOW)
    with pytest.raises(KeyboardInterrupt):
        scan_account(ACCOUNT, opener_of(FakeAccess({ACCOUNT: member})), Central(), POLICY, NOW, UNTIL)


def _conforms(lifecycles: CorruptLifecycles) -> LifecycleStore:
    """Never called: makes mypy prove that the fake implements the port."""
    return lifecycles
