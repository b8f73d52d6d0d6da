"""The time an invocation has left, so that retries and waits stop while there is still time to write the
failure record (and, for the sweep worker, to report the message as failed rather than time out).

botocore's `standard` retry mode backs off up to 20 s per attempt; at 60% throttling the retries of one
event added up to more than 100 s against a 120 s timeout. Each client gets a `needs-retry` handler,
registered before botocore's own, that answers False (no retry) once the longest next back-off would
eat into the reserve; while time is left it answers None and botocore's handler decides as usual.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any, TypeVar

from remediator.errors import TransientError

RESERVE_SECONDS = 10.0
"""Work stops this long before the end: enough for the failure record, a few retries included."""
FINAL_RESERVE_SECONDS = 2.0
"""While the failure record is written, its retries may go on until this close to the end."""
CALL_SECONDS = 1.0
"""What one more attempt of a call may take, on top of its back-off."""
MAX_BACKOFF_SECONDS = 20.0
"""botocore's standard mode: min(20 s, 2 ** (attempt - 1)) times a random factor below 1."""

Client = TypeVar("Client")


class DeadlineExceededError(TransientError):
    """Too little time is left to do more; what is not done is left to the retry."""


class Deadline:
    """One per warm Lambda; `start` at each invocation. Until started (the command line, the tests of
    the service), there is no limit."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._ends_at: float | None = None
        self._reserve = RESERVE_SECONDS

    def start(self, remaining_ms: int | None) -> None:
        """`remaining_ms`: context.get_remaining_time_in_millis(); None lifts the limit."""
        self._ends_at = None if remaining_ms is None else self._clock() + remaining_ms / 1000
        self._reserve = RESERVE_SECONDS

    def remaining(self) -> float | None:
        return None if self._ends_at is None else self._ends_at - self._clock()

    def allows(self, seconds: float) -> bool:
        """Whether waiting `seconds` more still leaves the reserve."""
        left = self.remaining()
        return left is None or left - seconds > self._reserve

    def check(self, doing: str) -> None:
        """Raise DeadlineExceededError when no more work should start."""
        if not self.allows(0):
            left = self.remaining()
            raise DeadlineExceededError(
                f"{doing}: stopped with {left:.1f} s left of the invocation; the rest is left to the retry"
            )

    @contextmanager
    def finishing(self) -> Iterator[None]:
        """Writing the failure record: its own retries may use the reserve."""
        previous, self._reserve = self._reserve, FINAL_RESERVE_SECONDS
        try:
            yield
        finally:
            self._reserve = previous

    def bound(self, client: Client) -> Client:
        """Make `client`'s retries stop in time. Returns the client. botocore calls the handlers of the
        most specific event name first, so the handler goes on the service's own name, ahead of botocore's
        retry handler there."""
        meta: Any = client.meta  # type: ignore[attr-defined]
        service = meta.service_model.service_id.hyphenize()
        meta.events.register_first(
            f"needs-retry.{service}", self._needs_retry, unique_id=f"akr-deadline-{service}"
        )
        return client

    def _needs_retry(self, attempts: int, **_: Any) -> bool | None:
        longest_wait = min(MAX_BACKOFF_SECONDS, 2.0 ** max(attempts - 1, 0))
        return None if self.allows(longest_wait + CALL_SECONDS) else False
