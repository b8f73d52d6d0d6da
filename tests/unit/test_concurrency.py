"""Reserved concurrency against the security account's Lambda quota: what the central stack reserves and
when Lambda would refuse it. Lambda keeps 100 executions unreserved, or the whole quota when it is
smaller; at that minimum a reservation still fits, one below it does not."""

from __future__ import annotations

import pytest

from org_bootstrap.deploy.concurrency import (
    WORKER_CONCURRENCY_DEFAULT,
    LambdaQuota,
    quota_problem,
    reserved_by,
)
from tests.stacksets.cfn import load

SECURITY = "222222222222"


def test_the_worker_default_is_the_templates() -> None:
    assert load("central")["Parameters"]["WorkerConcurrency"]["Default"] == WORKER_CONCURRENCY_DEFAULT


@pytest.mark.parametrize(
    ("parameters", "reserved"),
    [
        (None, 0),
        ({}, 0),
        ({"ReservedConcurrency": ""}, 0),
        ({"ReservedConcurrency": "", "WorkerConcurrency": "50"}, 0),
        ({"ReservedConcurrency": "10"}, 10 + 20 + 1),
        ({"ReservedConcurrency": "10", "WorkerConcurrency": "50"}, 10 + 50 + 1),
    ],
)
def test_what_a_stack_reserves(parameters: dict[str, str] | None, reserved: int) -> None:
    assert reserved_by(parameters) == reserved


@pytest.mark.parametrize(
    ("unreserved", "adding", "allowed"),
    [(131, 31, True), (130, 31, False), (132, 31, True), (1000, 31, True), (1000, 901, False)],
    ids=["leaves 100", "leaves 99", "leaves 101", "a large quota", "too much of a large quota"],
)
def test_lambda_keeps_100_unreserved(unreserved: int, adding: int, allowed: bool) -> None:
    quota = LambdaQuota(concurrent_executions=1000, unreserved_concurrent_executions=unreserved)
    assert (quota_problem(quota, adding=adding, security_account=SECURITY) is None) is allowed


@pytest.mark.parametrize("limit", [10, 50, 100])
def test_a_quota_of_100_or_less_allows_no_reservation(limit: int) -> None:
    quota = LambdaQuota(concurrent_executions=limit, unreserved_concurrent_executions=limit)
    assert quota_problem(quota, adding=1, security_account=SECURITY) is not None
    assert quota_problem(quota, adding=0, security_account=SECURITY) is None


def test_giving_back_is_always_allowed() -> None:
    quota = LambdaQuota(concurrent_executions=10, unreserved_concurrent_executions=10)
    assert quota_problem(quota, adding=-31, security_account=SECURITY) is None


def test_the_problem_says_what_and_what_to_do() -> None:
    quota = LambdaQuota(concurrent_executions=50, unreserved_concurrent_executions=50)
    assert quota_problem(quota, adding=31, security_account=SECURITY) == (
        "the security account 222222222222 has a Lambda concurrency quota of 50 (50 unreserved): reserving "
        "31 more would leave 19 unreserved, below the 50 Lambda keeps; ask for a higher quota (Service "
        "Quotas, Lambda concurrent executions) or deploy with --reserved-concurrency 0"
    )
