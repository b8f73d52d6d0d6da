"""The runner of `akr sweep --local`: every account through `Remediator.sweep_account`, N at a time.

No AWS here. It takes a factory of remediators and the accounts, so that the tests and the benchmark
(benchmarks/sweep_local.py) can pass remediators built over fakes. Each worker thread calls the factory
once and keeps its remediator: boto3 sessions are not thread-safe, the clients a session makes are.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor, as_completed
from dataclasses import dataclass

from remediator.audit import Outcome
from remediator.errors import RemediatorError
from remediator.run import RunResult
from remediator.service import Remediator

COUNTS = ("deactivated", "deleted", "warned", "exempted", "reported", "compliant", "findings", "failed")
"""The keys of RunResult.summary(), in the order the commands show them."""


@dataclass(frozen=True)
class AccountResult:
    account_id: str
    summary: dict[str, int]
    errors: tuple[str, ...] = ()
    """Why records failed, or why the run stopped (a transient error the retries did not absorb)."""

    @property
    def failed(self) -> bool:
        return bool(self.errors) or self.summary.get("failed", 0) > 0


def result_of(account_id: str, result: RunResult) -> AccountResult:
    errors = sorted(
        {
            f"{r.reason}: {r.error}" if r.error else r.reason
            for r in result.records
            if r.outcome == Outcome.FAILED
        }
    )
    return AccountResult(account_id=account_id, summary=result.summary(), errors=tuple(errors))


def stopped(account_id: str, error: RemediatorError) -> AccountResult:
    """The run raised: what it did before is in the audit log, but its counts are not known here."""
    summary = dict.fromkeys(COUNTS, 0)
    summary["failed"] = 1
    return AccountResult(account_id=account_id, summary=summary, errors=(str(error),))


def totals(results: Sequence[AccountResult]) -> dict[str, int]:
    counts = dict.fromkeys(COUNTS, 0)
    for result in results:
        for name in COUNTS:
            counts[name] += result.summary.get(name, 0)
    counts["accounts"] = len(results)
    counts["accounts_failed"] = sum(1 for r in results if r.failed)
    return counts


def sweep_accounts(
    accounts: Sequence[str],
    factory: Callable[[], Remediator],
    *,
    region: str,
    label: str,
    concurrency: int = 8,
    on_done: Callable[[AccountResult], None] | None = None,
) -> tuple[AccountResult, ...]:
    """Sweep every account, `concurrency` at a time; results in the order of `accounts`.

    An account whose run raises (a RemediatorError) is reported as failed; the others go on. `on_done` is
    called in the calling thread as each account finishes (a progress bar).
    """
    if concurrency < 1:
        raise ValueError("concurrency must be at least 1")
    accounts = list(dict.fromkeys(accounts))  # each account once
    local = threading.local()

    def sweep_one(account_id: str) -> AccountResult:
        remediator: Remediator | None = getattr(local, "remediator", None)
        if remediator is None:
            remediator = local.remediator = factory()
        try:
            return result_of(account_id, remediator.sweep_account(account_id, region=region, label=label))
        except RemediatorError as exc:
            return stopped(account_id, exc)

    results: dict[str, AccountResult] = {}
    executor = ThreadPoolExecutor(max_workers=concurrency, thread_name_prefix="akr-sweep")
    try:
        futures: dict[Future[AccountResult], str] = {executor.submit(sweep_one, a): a for a in accounts}
        for future in as_completed(futures):
            done = future.result()
            results[futures[future]] = done
            if on_done is not None:
                on_done(done)
    finally:
        # On an interrupt or an unexpected error: start nothing new, let the running accounts finish.
        executor.shutdown(wait=True, cancel_futures=True)
    return tuple(results[a] for a in accounts)
