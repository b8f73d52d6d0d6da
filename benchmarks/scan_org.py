"""`akr scan` over simulated accounts: wall time by concurrency, the rate limiter's pace, and memory.

Runs org_bootstrap.review.scan.scan_accounts over the accounts of slow_fakes.py, the central exemptions and
key lifecycles slowed too. Each worker thread's opener (as scan_plan.MemberOpener) builds an account when it
is opened and drops it when it is forgotten; with --boto3-sessions also what AssumedRoleAccess.open builds,
a boto3 session (remediator.adapters.sessions.member_session) with an IAM and a Config client (nothing is
sent with them). Every simulated request fires
botocore's before-send on hooks that one RateLimiter is attached to, as scan_plan attaches it. Calls per
account: 2 central reads, AssumeRole, the credential report 3 and 3 per nominated user (6 or 9 in all).

Measured: wall time per concurrency with the limiter off; the pace at 16 workers under
--max-calls-per-second; the peak memory allocated during a scan at 16 workers (tracemalloc, own runs).
Exits 2 if a scan fails an account or does not find exactly the violating keys.
Run: ``.venv/bin/python benchmarks/scan_org.py [--quick] [--accounts 200,1000] [--boto3-sessions]``.
"""

from __future__ import annotations

import argparse
import json
import sys
import threading
import time
import tracemalloc
from dataclasses import asdict, dataclass
from datetime import timedelta
from functools import partial

from botocore.hooks import HierarchicalEmitter
from slow_fakes import FIRST_ACCOUNT, NOW, VIOLATING_EVERY, Latency, SlowExemptions, SlowLifecycle, account

from org_bootstrap.aws import RETRIES
from org_bootstrap.review.rate_limit import RateLimiter
from org_bootstrap.review.scan import scan_accounts
from remediator.adapters.sessions import member_session
from remediator.policy import Policy
from remediator.ports import MemberAccount

OFF = 1e6  # calls/s: the limiter is in the path but never waits
WORKERS = 16  # of the paced and the memory runs
HORIZON = timedelta(days=30)


@dataclass(frozen=True)
class Setup:
    latency_ms: float
    sessions: bool


class Held:
    """How many accounts the openers of all threads keep at once, and the most they kept."""

    def __init__(self) -> None:
        self.now, self.most, self._lock = 0, 0, threading.Lock()

    def change(self, by: int) -> None:
        with self._lock:
            self.now += by
            self.most = max(self.most, self.now)


class Opener:
    """One worker thread's way into the accounts, as scan_plan.MemberOpener: keeps what `open` makes (the
    account; with `limiter`, a boto3 session and its clients too) until `forget`."""

    def __init__(self, latency: Latency, held: Held, limiter: RateLimiter | None) -> None:
        self.latency, self.held, self.limiter = latency, held, limiter
        self._open: dict[str, tuple[object, ...]] = {}

    def open(self, account_id: str) -> MemberAccount:
        self.latency()  # sts:AssumeRole
        member = account(int(account_id) - FIRST_ACCOUNT, self.latency)
        kept: tuple[object, ...] = (member,)
        if self.limiter is not None:
            session = member_session(
                aws_access_key_id="ASIAEXAMPLE",
                aws_secret_access_key="secret",  # noqa: S106  # never sent: no client is called
                aws_session_token="token",  # noqa: S106
                region_name="eu-west-1",
            )
            self.limiter.attach(session.events)
            kept += (session.client("iam", config=RETRIES), session.client("config", config=RETRIES))
        self._open[account_id] = kept
        self.held.change(1)
        return member

    def forget(self, account_id: str) -> None:
        if self._open.pop(account_id, None) is not None:
            self.held.change(-1)


@dataclass(frozen=True)
class Run:
    accounts: int
    concurrency: int
    per_second: float
    seconds: float
    calls: int
    held_most: int
    peak_mib: float | None = None
    paced_rate: float | None = None
    """(requests - 1) / (last request - first): the rate the limiter let through."""
    most_in_a_second: int | None = None


def busiest_second(stamps: list[float]) -> int:
    first, most = 0, 0
    for last, stamp in enumerate(stamps):
        while stamp - stamps[first] >= 1.0:
            first += 1
        most = max(most, last - first + 1)
    return most


def run(accounts: int, concurrency: int, per_second: float, setup: Setup, *, memory: bool = False) -> Run:
    limiter, hooks, held, stamps = RateLimiter(per_second), HierarchicalEmitter(), Held(), list[float]()
    limiter.attach(hooks)

    def pace() -> None:
        hooks.emit("before-send.iam", request=None)
        stamps.append(time.monotonic())

    latency = Latency(setup.latency_ms / 1000, pace=pace)
    ids = [f"{FIRST_ACCOUNT + i:012d}" for i in range(accounts)]
    central = SlowExemptions(latency=latency), SlowLifecycle(latency)
    opener = partial(Opener, latency, held, limiter if setup.sessions else None)
    if memory:
        tracemalloc.start()
    began = time.perf_counter()
    result = scan_accounts(ids, opener, *central, Policy(), NOW, NOW + HORIZON, concurrency=concurrency)
    seconds = time.perf_counter() - began
    peak = tracemalloc.get_traced_memory()[1] / 2**20 if memory else None
    tracemalloc.stop()
    if result.failed or len(result.rows) != len(range(0, accounts, VIOLATING_EVERY)):
        print(f"{accounts} accounts at {concurrency}: {result.errors} error(s), {result.totals()}")
        sys.exit(2)
    pace_seen = (len(stamps) - 1) / (stamps[-1] - stamps[0]), busiest_second(sorted(stamps))
    return Run(accounts, concurrency, per_second, seconds, latency.calls, held.most, peak, *pace_seen)


def show(setup: Setup, timed: list[Run], paced: Run, memory: list[Run]) -> None:
    print(f"{setup.latency_ms:g} ms per simulated call, boto3 sessions: {setup.sessions}")
    print("accounts workers  wall s  accounts/s  calls/s  speed-up")
    for r in timed:
        serial = next((s.seconds for s in timed if (s.accounts, s.concurrency) == (r.accounts, 1)), 0)
        print(
            f"{r.accounts:8} {r.concurrency:7} {r.seconds:7.2f} {r.accounts / r.seconds:11.1f} "
            f"{r.calls / r.seconds:8.0f} {serial / r.seconds:8.2f}x"
        )
    print(
        f"\npaced, {paced.accounts} accounts at {WORKERS} workers, limit {paced.per_second:g}/s: "
        f"{paced.calls} calls in {paced.seconds:.1f} s, {paced.paced_rate:.2f}/s first to last, "
        f"at most {paced.most_in_a_second} in any one second"
    )
    print(f"\naccounts  peak MiB  held at most  (tracemalloc, {WORKERS} workers)")
    for r in memory:
        print(f"{r.accounts:8} {r.peak_mib or 0:9.2f} {r.held_most:13}")
    if len(memory) > 1:
        grown = ((memory[-1].peak_mib or 0) - (memory[0].peak_mib or 0)) * 1024
        print(f"peak growth per account: {grown / (memory[-1].accounts - memory[0].accounts):.2f} KiB")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--accounts", default="200,1000", help="comma-separated (default 200,1000)")
    parser.add_argument("--concurrency", default="1,8,16,32", help="comma-separated (default 1,8,16,32)")
    parser.add_argument("--latency-ms", type=float, default=20.0, help="per simulated call (default 20)")
    parser.add_argument("--max-calls-per-second", type=float, default=20.0, help="of the paced run")
    parser.add_argument("--paced-accounts", type=int, default=200, help="of the paced run (default 200)")
    parser.add_argument("--boto3-sessions", action="store_true", help="a boto3 session per account")
    parser.add_argument("--quick", action="store_true", help="50,200 accounts, 5 ms; 20 in the paced run")
    parser.add_argument("--json", action="store_true", help="print only the JSON line")
    args = parser.parse_args()
    if args.quick:
        args.accounts, args.latency_ms, args.paced_accounts = "50,200", 5.0, 20
    setup = Setup(args.latency_ms, args.boto3_sessions)
    sizes = [int(n) for n in args.accounts.split(",")]
    timed = [run(n, int(c), OFF, setup) for n in sizes for c in args.concurrency.split(",")]
    paced = run(args.paced_accounts, WORKERS, args.max_calls_per_second, setup)
    memory = [run(n, WORKERS, OFF, setup, memory=True) for n in sizes]
    if not args.json:
        show(setup, timed, paced, memory)
    runs = {
        "timed": [asdict(r) for r in timed],
        "paced": asdict(paced),
        "memory": [asdict(r) for r in memory],
    }
    print(json.dumps({**asdict(setup), **runs}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
