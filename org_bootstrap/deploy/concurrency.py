"""Reserved concurrency in the security account: what the central stack reserves, and whether the account's
Lambda quota allows it. Pure.

Every reservation comes out of the account's unreserved concurrency, which Lambda keeps at a minimum: "You
can reserve up to the Unreserved account concurrency value that is shown, minus 100 for functions that
don't have reserved concurrency" (https://docs.aws.amazon.com/lambda/latest/dg/configuration-concurrency.html).
An account whose quota is below 100 (new accounts often have 10 or 50) keeps all of it unreserved: Lambda's
refusal then names that quota as the minimum ("decreases account's UnreservedConcurrentExecution below its
minimum value of [50]"). The stack would fail on that refusal, half created; the plan says so before.
"""

from __future__ import annotations

from collections.abc import Mapping

from pydantic import BaseModel, ConfigDict

MIN_UNRESERVED = 100
SWEEP_RESERVED = 1
"""The sweep function's reservation, with the others: never two sweeps at once."""
WORKER_CONCURRENCY_DEFAULT = 20
"""stacksets/central.yaml's WorkerConcurrency default (a test keeps them equal)."""


class LambdaQuota(BaseModel):
    """GetAccountSettings' AccountLimit, as far as reservations go."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    concurrent_executions: int
    unreserved_concurrent_executions: int


def reserved_by(parameters: Mapping[str, str] | None) -> int:
    """What a central stack with these parameters reserves: the remediator's ReservedConcurrency, and with it
    the worker's WorkerConcurrency and the sweep's 1; nothing without it (or without a stack)."""
    if not parameters:
        return 0
    remediator = int(parameters.get("ReservedConcurrency") or 0)
    if not remediator:
        return 0
    worker = int(parameters.get("WorkerConcurrency") or WORKER_CONCURRENCY_DEFAULT)
    return remediator + worker + SWEEP_RESERVED


def quota_problem(quota: LambdaQuota, *, adding: int, security_account: str) -> str | None:
    """Why `adding` more reserved executions would be refused in the security account; None if allowed."""
    minimum = min(MIN_UNRESERVED, quota.concurrent_executions)
    left = quota.unreserved_concurrent_executions - adding
    if adding <= 0 or left >= minimum:
        return None
    return (
        f"the security account {security_account} has a Lambda concurrency quota of "
        f"{quota.concurrent_executions} ({quota.unreserved_concurrent_executions} unreserved): reserving "
        f"{adding} more would leave {left} unreserved, below the {minimum} Lambda keeps; ask for a higher "
        "quota (Service Quotas, Lambda concurrent executions) or deploy with --reserved-concurrency 0"
    )
