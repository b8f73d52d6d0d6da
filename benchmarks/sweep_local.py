"""The local sweep over simulated accounts, serial against concurrent.

Runs the runner of `akr sweep --local` (org_bootstrap.local_sweep.sweep_accounts) with the real
Remediator over accounts made of the in-memory fakes of tests/fakes.py. Every fake call that stands for
AWS calls sleeps the simulated latency once per call it stands for, as many as the adapters make:
AssumeRole 1; the credential report 3 (GenerateCredentialReport twice, GetCredentialReport); reading a
user 2 + 1 per key (GetUser, ListAccessKeys, GetAccessKeyLastUsed); a key action 1; and in the security
account every audit record, claim, lifecycle read or write and exemption read 1, a notification 1.

`--cpu-ms` adds work per call that holds the GIL, as botocore's signing and parsing do (about 1.6 ms per
IAM call on the machine in docs/performance.md); it bounds what threads can gain.

Every tenth account has one user whose key is 120 days old (deactivated); the others are clean. Each run
gets fresh accounts. Exits 2 if a run does not deactivate exactly the violating keys.
Run: ``.venv/bin/python benchmarks/sweep_local.py [--accounts N] [--latency-ms MS] [--concurrency 1,16,32]``.
"""

from __future__ import annotations

import argparse
import json
import sys
import threading
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))  # tests.fakes, when run as a script

from org_bootstrap.local_sweep import AccountResult, sweep_accounts, totals  # noqa: E402
from remediator.audit import AuditRecord  # noqa: E402
from remediator.credential_report import CredentialReport, ReportKey, ReportRow  # noqa: E402
from remediator.exemptions import Exemption  # noqa: E402
from remediator.facts import KeyFacts, UserFacts  # noqa: E402
from remediator.lifecycle import KeyLifecycle  # noqa: E402
from remediator.policy import Mode, Policy  # noqa: E402
from remediator.service import Remediator  # noqa: E402
from tests.fakes import (  # noqa: E402
    FakeAccess,
    FakeMember,
    MemoryAuditLog,
    MemoryClaims,
    RecordingNotifier,
    StaticExemptions,
)

NOW = datetime(2026, 11, 28, 6, 0, tzinfo=UTC)
USERS_PER_ACCOUNT = 20
VIOLATING_EVERY = 10


class Latency:
    """Per simulated AWS call: `cpu` seconds of work that holds the GIL (botocore signs, serializes and
    parses in Python), then `seconds` of waiting that does not. Counts the calls, from every thread."""

    def __init__(self, seconds: float, cpu: float = 0.0) -> None:
        self.seconds = seconds
        self.cpu = cpu
        self.calls = 0
        self._lock = threading.Lock()

    def __call__(self, calls: int = 1) -> None:
        with self._lock:
            self.calls += calls
        if self.cpu:
            busy_until = time.thread_time() + self.cpu * calls
            while time.thread_time() < busy_until:
                pass
        time.sleep(self.seconds * calls)


@dataclass
class SlowMember(FakeMember):
    latency: Latency = field(default_factory=lambda: Latency(0.0))

    def credential_report(self) -> CredentialReport | None:
        self.latency(3)
        return super().credential_report()

    def read_user(self, user_name: str, user_id: str | None = None) -> UserFacts | None:
        user = super().read_user(user_name, user_id)
        self.latency(2 + (len(user.keys) if user else 0))
        return user

    def users(self) -> Iterator[tuple[str, str]]:
        self.latency(1 + len(self.users_by_name) // 100)
        return super().users()

    def deactivate_key(self, user_name: str, access_key_id: str) -> bool:
        self.latency()
        return super().deactivate_key(user_name, access_key_id)

    def delete_key(self, user_name: str, access_key_id: str) -> bool:
        self.latency()
        return super().delete_key(user_name, access_key_id)


@dataclass
class SlowAccess(FakeAccess):
    latency: Latency = field(default_factory=lambda: Latency(0.0))

    def open(self, account_id: str, *, region: str, label: str) -> FakeMember:
        self.latency()  # sts:AssumeRole
        return super().open(account_id, region=region, label=label)


@dataclass
class SlowAudit(MemoryAuditLog):
    latency: Latency = field(default_factory=lambda: Latency(0.0))

    def append(self, record: AuditRecord) -> None:
        self.latency()
        super().append(record)


@dataclass
class SlowClaims(MemoryClaims):
    latency: Latency = field(default_factory=lambda: Latency(0.0))

    def claim(
        self, account_id: str, access_key_id: str, action: str, *, owner: str, after_finished: bool = False
    ) -> bool:
        self.latency()
        return super().claim(account_id, access_key_id, action, owner=owner, after_finished=after_finished)

    def finish(self, account_id: str, access_key_id: str, *, owner: str) -> None:
        self.latency()
        super().finish(account_id, access_key_id, owner=owner)


class SlowLifecycle:
    """The state table's key lifecycles, by account: tests.fakes.MemoryLifecycle scans one dict of every
    account, which other threads write to while it is read."""

    def __init__(self, latency: Latency) -> None:
        self.latency = latency
        self._by_account: dict[str, dict[str, KeyLifecycle]] = {}
        self._lock = threading.Lock()

    def for_account(self, account_id: str) -> dict[str, KeyLifecycle]:
        self.latency()
        with self._lock:
            return dict(self._by_account.get(account_id, {}))

    def save(self, lifecycle: KeyLifecycle) -> None:
        self.latency()
        with self._lock:
            self._by_account.setdefault(lifecycle.account_id, {})[lifecycle.access_key_id] = lifecycle


@dataclass
class SlowExemptions(StaticExemptions):
    latency: Latency = field(default_factory=lambda: Latency(0.0))

    def for_account(self, account_id: str) -> Sequence[Exemption]:
        self.latency()
        return super().for_account(account_id)


@dataclass
class SlowNotifier(RecordingNotifier):
    latency: Latency = field(default_factory=lambda: Latency(0.0))

    def notify(self, records: Sequence[AuditRecord]) -> None:
        self.latency()
        super().notify(records)


def account(index: int, latency: Latency) -> SlowMember:
    account_id = f"{200000000000 + index:012d}"
    member = SlowMember(account_id, latency=latency)
    for user in range(USERS_PER_ACCOUNT):
        age = 120 if user == 0 and index % VIOLATING_EVERY == 0 else 5 + user
        created = NOW - timedelta(days=age)
        keys = (KeyFacts(access_key_id=f"AKIA{index:08d}{user:08d}", status="Active", created_at=created),)
        member.add(
            UserFacts(
                account_id=account_id, user_name=f"user-{user}", user_id=f"AIDA{index}{user}", keys=keys
            )
        )
    rows = tuple(
        ReportRow(
            user=u.user_name,
            arn=f"arn:aws:iam::{account_id}:user/{u.user_name}",
            keys=tuple(ReportKey(active=True, last_rotated=k.created_at, last_used=None) for k in u.keys),
        )
        for u in member.users_by_name.values()
    )
    member.report = CredentialReport(generated_at=NOW - timedelta(hours=1), rows=rows)
    return member


@dataclass(frozen=True)
class Run:
    concurrency: int
    seconds: float
    calls: int
    results: tuple[AccountResult, ...]


def run(accounts: int, latency_seconds: float, concurrency: int, cpu_seconds: float = 0.0) -> Run:
    """Fresh accounts and central fakes, then one timed sweep."""
    latency = Latency(latency_seconds, cpu_seconds)
    members = {m.account_id: m for m in (account(i, latency) for i in range(accounts))}
    access = SlowAccess(dict(members), latency=latency)
    audit, claims, lifecycle = (
        SlowAudit(latency=latency),
        SlowClaims(latency=latency),
        SlowLifecycle(latency=latency),
    )
    exemptions, notifier = SlowExemptions(latency=latency), SlowNotifier(latency=latency)

    def factory() -> Remediator:
        return Remediator(
            policy=Policy(mode=Mode.DEACTIVATE),
            access=access,
            audit=audit,
            exemptions=exemptions,
            claims=claims,
            lifecycle=lifecycle,
            clock=lambda: NOW,
            notifier=notifier,
        )

    began = time.perf_counter()
    results = sweep_accounts(
        list(members), factory, region="eu-west-1", label="sweep-benchmark", concurrency=concurrency
    )
    return Run(concurrency, time.perf_counter() - began, latency.calls, results)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--accounts", type=int, default=1000, help="simulated accounts (default 1000)")
    parser.add_argument("--latency-ms", type=float, default=20.0, help="per simulated AWS call (default 20)")
    parser.add_argument(
        "--concurrency",
        default="1,16,32",
        help="comma-separated; 1 (serial) is always run first (default 1,16,32)",
    )
    parser.add_argument(
        "--cpu-ms",
        type=float,
        default=0.0,
        help="CPU per simulated call, holding the GIL (botocore measured about 1.6 ms; default 0)",
    )
    parser.add_argument("--json", action="store_true", help="print only the JSON line")
    args = parser.parse_args()
    levels = sorted({1, *(int(part) for part in args.concurrency.split(",") if part.strip())})
    violating = len(range(0, args.accounts, VIOLATING_EVERY))
    runs = []
    for level in levels:
        done = run(args.accounts, args.latency_ms / 1000, level, args.cpu_ms / 1000)
        counts = totals(done.results)
        if counts["deactivated"] != violating or counts["accounts_failed"]:
            print(f"concurrency {level}: expected {violating} deactivated and no failure, got {counts}")
            return 2
        runs.append(done)
    serial = runs[0].seconds
    rows = [
        {
            "concurrency": r.concurrency,
            "seconds": round(r.seconds, 2),
            "accounts_per_second": round(args.accounts / r.seconds, 1),
            "speedup": round(serial / r.seconds, 2),
            "simulated_calls": r.calls,
        }
        for r in runs
    ]
    if not args.json:
        print(
            f"{args.accounts} accounts ({violating} with a violating key), {args.latency_ms:g} ms latency "
            f"and {args.cpu_ms:g} ms CPU per simulated AWS call, {runs[0].calls} calls per sweep"
        )
        print(f"{'concurrency':>11} {'wall s':>8} {'accounts/s':>11} {'speed-up':>9}")
        for row in rows:
            print(
                f"{row['concurrency']:>11} {row['seconds']:>8.2f} {row['accounts_per_second']:>11.1f} "
                f"{row['speedup']:>8.2f}x"
            )
    print(
        json.dumps(
            {
                "accounts": args.accounts,
                "violating_accounts": violating,
                "latency_ms": args.latency_ms,
                "cpu_ms": args.cpu_ms,
                "runs": rows,
            }
        )
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
