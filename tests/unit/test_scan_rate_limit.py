"""org_bootstrap.review.rate_limit at its edges, on a fake clock: nothing sleeps for real."""

from __future__ import annotations

import threading

import boto3
import pytest

from org_bootstrap.review.rate_limit import RateLimiter


class Clock:
    """A monotonic clock that moves only when told to, or when someone sleeps on it."""

    def __init__(self) -> None:
        self.now = 100.0
        self.slept: list[float] = []

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.now += seconds


def limiter(per_second: float, clock: Clock, burst: int = 1) -> RateLimiter:
    return RateLimiter(per_second, burst=burst, clock=clock, sleep=clock.sleep)


def test_the_first_request_goes_at_once_and_the_next_waits_its_turn() -> None:
    clock = Clock()
    limit = limiter(20, clock)
    assert limit.acquire() == 0
    assert limit.acquire() == pytest.approx(0.05)
    assert limit.acquire() == pytest.approx(0.05)
    assert clock.now == pytest.approx(100.1)


def test_n_requests_take_n_minus_one_intervals() -> None:
    clock = Clock()
    limit = limiter(10, clock)
    for _ in range(11):
        limit.acquire()
    assert clock.now - 100 == pytest.approx(1.0)


def test_a_request_exactly_one_interval_later_does_not_wait_and_one_just_before_does() -> None:
    clock = Clock()
    limit = limiter(4, clock)
    limit.acquire()
    clock.now += 0.25
    assert limit.acquire() == 0
    clock.now += 0.24
    assert limit.acquire() == pytest.approx(0.01)


def test_a_pause_does_not_bank_more_than_the_burst() -> None:
    clock = Clock()
    limit = limiter(10, clock, burst=3)
    clock.now += 60  # a minute idle
    assert [limit.acquire() for _ in range(4)] == pytest.approx([0, 0, 0, 0.1])


def test_callers_that_arrive_together_queue_in_order() -> None:
    """Each caller reserves its place before it sleeps: with the clock standing still, the waits grow by
    one interval per caller."""
    clock = Clock()
    waits: list[float] = []
    limit = RateLimiter(5, clock=clock, sleep=waits.append)
    for _ in range(4):
        limit.acquire()
    assert waits == pytest.approx([0.2, 0.4, 0.6])


def test_threads_share_one_limiter() -> None:
    clock = Clock()
    lock = threading.Lock()
    waits: list[float] = []

    def sleep(seconds: float) -> None:
        with lock:
            waits.append(seconds)

    limit = RateLimiter(10, clock=clock, sleep=sleep)
    workers = [threading.Thread(target=limit.acquire) for _ in range(8)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    assert sorted(waits) == pytest.approx([0.1 * n for n in range(1, 8)])


@pytest.mark.parametrize(("per_second", "burst"), [(0, 1), (-1, 1), (1, 0)])
def test_a_limit_must_be_positive(per_second: float, burst: int) -> None:
    with pytest.raises(ValueError, match="must be"):
        RateLimiter(per_second, burst=burst)


def test_a_client_sends_each_request_through_the_limiter_once_even_if_attached_twice() -> None:
    clock = Clock()
    waits: list[float] = []
    limit = RateLimiter(1000, clock=clock, sleep=waits.append)
    client = boto3.Session(region_name="eu-west-1").client("iam")
    limit.attach(client.meta.events)
    limit.attach(client.meta.events)
    for _ in range(3):  # what botocore emits before each HTTP request, retries included
        client.meta.events.emit("before-send.iam.ListUsers", request=None)
    # Three tokens, one per request: the second and third wait one and two intervals (the clock stands).
    assert waits == pytest.approx([0.001, 0.002])


def test_the_clients_a_session_makes_after_attaching_share_its_limiter() -> None:
    clock = Clock()
    waits: list[float] = []
    limit = RateLimiter(10, clock=clock, sleep=waits.append)
    session = boto3.Session(region_name="eu-west-1")
    limit.attach(session.events)
    iam, sts = session.client("iam"), session.client("sts")
    iam.meta.events.emit("before-send.iam.ListUsers", request=None)
    sts.meta.events.emit("before-send.sts.AssumeRole", request=None)
    assert waits == pytest.approx([0.1])
