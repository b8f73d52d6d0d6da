"""Throttling of IAM, STS and DynamoDB: per HTTP attempt (botocore retries), and per call as if every
retry were spent (Lambda retries the event twice, then the next sweep)."""

from __future__ import annotations

import pytest

from org_bootstrap.demo.simulation import MotoOrganization
from remediator.policy import Mode
from tests.faults.harness import check, scene
from tests.faults.injector import Injector


@pytest.mark.parametrize("service", ["iam", "sts", "dynamodb"])
def test_thirty_percent_throttled_attempts_are_absorbed_by_retries(
    org: MotoOrganization, service: str
) -> None:
    built = scene(org, Mode.DELETE, Injector(seed=3).throttle(service, 0.3))
    built.deliver_all()
    assert not [d.event_id for d in built.deliveries if d.dead_lettered]
    assert built.injector.log, "no fault was injected"
    check(built)
    assert {k for k in built.acted_on if k not in built.iam()} == built.acted_on  # every one deleted
    assert built.metrics["KeysDeleted"] == len(built.acted_on)


@pytest.mark.parametrize(
    ("service", "mode"), [("iam", Mode.DELETE), ("sts", Mode.STAGED), ("dynamodb", Mode.DELETE)]
)
def test_failing_calls_then_lambda_retries_then_one_sweep(
    org: MotoOrganization, service: str, mode: Mode
) -> None:
    """30% of calls fail as if every retry were spent: an event that still fails after Lambda's two
    retries is dead-lettered with its failure recorded; the next sweep finishes the work."""
    injector = Injector(seed=11).throttle(service, 0.3, per="call")
    built = scene(org, mode, injector)
    built.deliver_all()
    assert any(d.attempts > 1 for d in built.deliveries), "the scenario must make events fail"
    check(built, settled=False)
    injector.clear()
    assert built.sweep() == {"batchItemFailures": []}
    check(built)
    now = built.iam()
    assert {k for k in built.acted_on if now.get(k) in (None, "Inactive")} == built.acted_on


def test_every_call_of_every_service_failing_thirty_percent_then_one_sweep(org: MotoOrganization) -> None:
    injector = Injector(seed=12)
    for service in ("iam", "sts", "dynamodb"):
        injector.throttle(service, 0.3, per="call")
    built = scene(org, Mode.DELETE, injector)
    built.deliver_all()
    check(built, settled=False)
    injector.clear()
    assert built.sweep() == {"batchItemFailures": []}
    check(built)
