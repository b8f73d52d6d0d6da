"""remediator.deadline: retries and waits stop while there is time left for the failure record."""

from __future__ import annotations

import boto3
import pytest
from botocore.exceptions import EndpointConnectionError

from remediator.adapters.sessions import RETRIES
from remediator.deadline import (
    CALL_SECONDS,
    FINAL_RESERVE_SECONDS,
    RESERVE_SECONDS,
    Deadline,
    DeadlineExceededError,
)


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def test_without_a_start_there_is_no_limit() -> None:
    deadline = Deadline()
    assert deadline.remaining() is None
    assert deadline.allows(10_000)
    deadline.check("anything")


def test_work_stops_at_the_reserve() -> None:
    clock = Clock()
    deadline = Deadline(clock)
    deadline.start(60_000)
    clock.now = 60 - RESERVE_SECONDS - 1
    deadline.check("sweep")
    assert deadline.allows(0.9)
    assert not deadline.allows(1.0)
    clock.now = 60 - RESERVE_SECONDS
    with pytest.raises(DeadlineExceededError, match=r"^sweep: stopped with 10\.0 s left of the invocation"):
        deadline.check("sweep")


def test_the_failure_record_may_use_the_reserve() -> None:
    clock = Clock()
    deadline = Deadline(clock)
    deadline.start(60_000)
    clock.now = 55
    assert not deadline.allows(0)
    with deadline.finishing():
        assert deadline.allows(60 - 55 - FINAL_RESERVE_SECONDS - 0.1)
    assert not deadline.allows(0)


@pytest.mark.parametrize(("attempts", "longest"), [(1, 1.0), (2, 2.0), (5, 16.0), (6, 20.0), (9, 20.0)])
def test_a_retry_is_refused_once_its_longest_back_off_would_eat_into_the_reserve(
    attempts: int, longest: float
) -> None:
    clock = Clock()
    deadline = Deadline(clock)
    deadline.start(100_000)
    needed = longest + CALL_SECONDS + RESERVE_SECONDS
    clock.now = 100 - needed - 0.01
    assert deadline._needs_retry(attempts=attempts) is None  # botocore decides
    clock.now = 100 - needed
    assert deadline._needs_retry(attempts=attempts) is False  # no retry


def test_the_handler_goes_before_botocores_own_for_the_service() -> None:
    # The clients' own configuration (standard mode): SDKs before 1.42 default to legacy mode, whose
    # handler is registered on the same event name.
    deadline = Deadline(Clock())
    client = deadline.bound(boto3.Session(region_name="eu-west-1").client("dynamodb", config=RETRIES))
    deadline.start(0)  # no time at all
    responses = client.meta.events.emit(
        "needs-retry.dynamodb.PutItem",
        response=None,
        endpoint=None,
        operation=client.meta.service_model.operation_model("PutItem"),
        attempts=1,
        caught_exception=EndpointConnectionError(endpoint_url="https://dynamodb.eu-west-1.amazonaws.com"),
        request_dict={"context": {}},
    )
    first = next(answer for _, answer in responses if answer is not None)
    assert first is False
