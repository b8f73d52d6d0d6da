"""A token bucket that every AWS request of a command passes, whichever worker thread sends it.

Attached to a botocore session or client as a `before-send` handler, it paces the HTTP requests
themselves, retries included: they count against the same AWS quotas. Botocore's adaptive retry mode
(org_bootstrap.aws.RETRIES) backs off further when AWS throttles anyway.

A small class rather than a dependency: the command needs one blocking limiter shared by threads, and
the clock and the sleep are injected so that the tests never wait.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any

from botocore.hooks import BaseEventHooks


class RateLimiter:
    def __init__(
        self,
        per_second: float,
        *,
        burst: int = 1,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        """At most `per_second` requests a second on average, `burst` of them back to back after a pause.
        The default burst of 1 spaces every request 1/per_second apart."""
        if per_second <= 0:
            raise ValueError("per_second must be positive")
        if burst < 1:
            raise ValueError("burst must be at least 1")
        self._rate = float(per_second)
        self._capacity = float(burst)
        self._clock = clock
        self._sleep = sleep
        self._lock = threading.Lock()
        self._tokens = self._capacity
        self._updated = clock()
        self._id = f"akr-rate-limit-{id(self)}"

    def acquire(self) -> float:
        """Take a token, waiting for it if need be; returns the seconds waited.

        Each caller reserves its token under the lock (the balance may go below zero) and then sleeps its
        own share outside the lock, so that callers queue in order and none holds the others up while it
        waits."""
        with self._lock:
            now = self._clock()
            self._tokens = min(self._capacity, self._tokens + (now - self._updated) * self._rate)
            self._updated = now
            self._tokens -= 1
            wait = -self._tokens / self._rate if self._tokens < 0 else 0.0
        if wait > 0:
            self._sleep(wait)
        return wait

    def _before_send(self, **_: Any) -> None:
        # botocore takes a non-None answer of a before-send handler as the response: answer nothing.
        self.acquire()

    def attach(self, events: BaseEventHooks) -> None:
        """Pace every request sent through `events`: a session's (its future clients copy them) or one
        client's (client.meta.events). Attaching twice to the same events counts a request once."""
        events.register("before-send", self._before_send, unique_id=self._id)
