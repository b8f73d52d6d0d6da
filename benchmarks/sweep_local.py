"""The local sweep over simulated accounts, serial against concurrent.

Runs the runner of `akr sweep --local` (org_bootstrap.review.local_sweep.sweep_accounts) with the real
Remediator over accounts made of the fakes of tests/fakes.py, slowed by slow_fakes.py. Every fake call
that stands for AWS calls sleeps the simulated latency once per call it stands for, as many as the
adapters make: AssumeRole 1; the credential report 3 (GenerateCredentialReport twice,
GetCredentialReport); reading a user 2 + 1 per key (GetUser, ListAccessKeys, GetAccessKeyLastUsed); a key
action 1; and in the security account every audit record, claim, lifecycle read or write and exemption
read 1, a notification 1.

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
import time
from collections.abc import Sequence
from dataclasses import dataclass, field

from slow_fakes import (
    NOW,
    VIOLATING_EVERY,
    Latency,
    SlowExemptions,
    SlowLifecycle,
    account,
)

from org_bootstrap.review.local_sweep import AccountResult, sweep_accounts, totals
from remediator.audit import AuditRecord
from remediator.lifecycle import KeyLifecycle
from remediator.policy import Mode, Policy
from remediator.service import Remediator
from tests.fakes import FakeAccess, FakeMember, MemoryAuditLog, MemoryClaims, RecordingNotifier


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


@dataclass
class SlowNotifier(RecordingNotifier):
    latency: Latency = field(default_factory=lambda: Latency(0.0))

    def notify(self, records: Sequence[AuditRecord]) -> None:
        self.latency()
        super().notify(records)


@dataclass
class SlowJournal:
    """The journal's transactions: one call each, as TransactWriteItems is."""

    audit: SlowAudit
    claims: SlowClaims
    lifecycle: SlowLifecycle
    latency: Latency

    def begin(
        self, intent: AuditRecord, marked: KeyLifecycle, *, owner: str, after_finished: bool = False
    ) -> bool:
        self.latency()
        account, key = marked.account_id, marked.access_key_id
        if not MemoryClaims.claim(
            self.claims, account, key, intent.decision, owner=owner, after_finished=after_finished
        ):
            return False
        self.lifecycle.put(marked)
        MemoryAuditLog.append(self.audit, intent)
        return True

    def settle(self, outcome: AuditRecord, settled: KeyLifecycle, *, owner: str) -> None:
        self.latency()
        MemoryAuditLog.append(self.audit, outcome)
        self.lifecycle.put(settled)
        MemoryClaims.finish(self.claims, settled.account_id, settled.access_key_id, owner=owner)


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
    journal = SlowJournal(audit, claims, lifecycle, latency=latency)

    def factory() -> Remediator:
        return Remediator(
            policy=Policy(mode=Mode.DEACTIVATE),
            access=access,
            audit=audit,
            exemptions=exemptions,
            claims=claims,
            lifecycle=lifecycle,
            journal=journal,
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
