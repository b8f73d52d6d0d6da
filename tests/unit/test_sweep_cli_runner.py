"""The runner of `akr sweep --local` (org_bootstrap.review.local_sweep) over in-memory fakes of the ports: the
accounts really are swept N at a time, one remediator per worker thread, results in the accounts' order,
and an account that fails (a missing role, a run cut short) is reported while the others complete."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta

import pytest

from org_bootstrap.review.local_sweep import AccountResult, sweep_accounts, totals
from remediator.credential_report import CredentialReport
from remediator.errors import TransientError
from remediator.facts import UserFacts
from remediator.policy import Mode, Policy
from remediator.service import Remediator
from tests.fakes import (
    FakeAccess,
    FakeMember,
    MemoryAuditLog,
    MemoryClaims,
    MemoryJournal,
    MemoryLifecycle,
    StaticExemptions,
)
from tests.functional.test_sweep import key, report_of

NOW = datetime(2026, 11, 28, 6, 0, tzinfo=UTC)
ACCOUNTS = tuple(f"{n:012d}" for n in range(222222222201, 222222222211))


class Organization:
    """Ten accounts; each has one user with a key 120 days old and one with a fresh key."""

    def __init__(self, member: type[FakeMember] = FakeMember) -> None:
        self.members = {account: member(account) for account in ACCOUNTS}
        for account, fake in self.members.items():
            for name, age in (("old", 120), ("fresh", 5)):
                keys = (key(f"AKIA{name.upper()}{account}", NOW - timedelta(days=age), NOW),)
                fake.add(
                    UserFacts(account_id=account, user_name=name, user_id=f"AIDA{name}{account}", keys=keys)
                )
            fake.report = report_of(fake, NOW)
        self.access = FakeAccess(dict(self.members))
        self.audit = MemoryAuditLog()
        self.built: list[str] = []

    def factory(self) -> Remediator:
        self.built.append(threading.current_thread().name)
        claims, lifecycle = MemoryClaims(), MemoryLifecycle()
        return Remediator(
            policy=Policy(mode=Mode.DEACTIVATE),
            access=self.access,
            audit=self.audit,
            exemptions=StaticExemptions(),
            claims=claims,
            lifecycle=lifecycle,
            journal=MemoryJournal(self.audit, claims, lifecycle),
            clock=lambda: NOW,
        )

    def sweep(self, concurrency: int, accounts: tuple[str, ...] = ACCOUNTS) -> tuple[AccountResult, ...]:
        return sweep_accounts(
            accounts, self.factory, region="eu-west-1", label="sweep-test", concurrency=concurrency
        )


def test_every_account_is_swept_in_order_with_one_remediator_per_thread() -> None:
    org = Organization()
    done: list[str] = []
    results = sweep_accounts(
        ACCOUNTS,
        org.factory,
        region="eu-west-1",
        label="sweep-test",
        concurrency=4,
        on_done=lambda r: done.append(r.account_id),
    )
    assert [r.account_id for r in results] == list(ACCOUNTS)
    assert sorted(done) == list(ACCOUNTS)
    assert all(r.summary["deactivated"] == 1 and not r.failed for r in results)
    assert len(org.built) == len(set(org.built)) <= 4, "one remediator per worker thread, built once"
    assert all(name.startswith("akr-sweep") for name in org.built)
    assert {k.status for m in org.members.values() for k in m.users_by_name["old"].keys} == {"Inactive"}
    assert totals(results)["deactivated"] == len(ACCOUNTS)


def test_accounts_are_swept_at_once_up_to_the_concurrency() -> None:
    barrier = threading.Barrier(4, timeout=5)

    class Meeting(FakeMember):
        """Each account's report waits until four accounts are being swept at the same time."""

        def credential_report(self) -> CredentialReport | None:
            barrier.wait()
            return super().credential_report()

    results = Organization(Meeting).sweep(concurrency=4, accounts=ACCOUNTS[:8])
    assert not any(r.failed for r in results), [r.errors for r in results]


def test_a_missing_role_fails_that_account_only() -> None:
    org = Organization()
    org.access.denied.add(ACCOUNTS[3])
    results = org.sweep(concurrency=3)
    failed = [r for r in results if r.failed]
    assert [r.account_id for r in failed] == [ACCOUNTS[3]]
    assert failed[0].errors == (
        f"member role could not be assumed: sts:AssumeRole into {ACCOUNTS[3]}: AccessDenied",
    )
    counts = totals(results)
    assert (counts["deactivated"], counts["failed"], counts["accounts_failed"]) == (9, 1, 1)


def test_a_run_cut_short_is_reported_and_the_others_complete() -> None:
    org = Organization()
    org.members[ACCOUNTS[0]].fail_on["credential_report"] = TransientError(
        "iam:GetCredentialReport: Throttling"
    )
    results = org.sweep(concurrency=2)
    assert results[0].failed
    assert results[0].errors == ("iam:GetCredentialReport: Throttling",)
    assert results[0].summary["failed"] == 1
    assert [r.summary["deactivated"] for r in results[1:]] == [1] * 9


def test_serial_is_concurrency_one_and_accounts_are_swept_once() -> None:
    org = Organization()
    results = org.sweep(concurrency=1, accounts=(ACCOUNTS[0], ACCOUNTS[1], ACCOUNTS[0]))
    assert [r.account_id for r in results] == [ACCOUNTS[0], ACCOUNTS[1]]
    assert len(org.built) == 1


def test_concurrency_below_one_is_refused() -> None:
    with pytest.raises(ValueError, match="at least 1"):
        Organization().sweep(concurrency=0)
