"""Faults injected into every botocore client the code under test creates, with botocore's own event hooks,
on top of moto:

- `throttle(..., per="attempt")`: an HTTP attempt is answered with the service's throttling error; botocore
  retries it as it would in AWS (its back-off sleeps are recorded, not slept).
- `throttle(..., per="call")`: the whole call fails as if every retry had been spent.
- `lose_reply`: the request reaches moto and is applied, then its reply is replaced by a 503; botocore
  retries the same request against the state it just changed.
- `crash_after`: the call is applied and answered, then an exception (or a BaseException) is raised to
  the caller, as a Lambda that dies right after the call would.
- `fail_call`: one call whose parameters match fails with the given error code, without retries.
- `rewrite`: a call's parsed answer is changed (a malformed credential report).

Random choices come from one seeded generator: a scenario gives the same faults on every run.
"""

from __future__ import annotations

import random
import time
import types
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import botocore.endpoint
import botocore.session
from botocore.awsrequest import AWSResponse, HTTPHeaders
from moto.core.models import botocore_stubber

Match = Callable[[dict[str, Any]], bool]
"""Decides from a call's parameters whether a fault applies."""

# The errors each protocol answers when it throttles (400) or is unavailable (503); botocore's standard
# retry mode retries both.
_ERRORS: dict[tuple[str, int], tuple[str, bytes]] = {
    ("json", 400): (
        "application/x-amz-json-1.0",
        b'{"__type":"ThrottlingException","message":"Rate exceeded"}',
    ),
    ("query", 400): (
        "text/xml",
        b"<ErrorResponse><Error><Type>Sender</Type><Code>Throttling</Code><Message>Rate exceeded</Message>"
        b"</Error><RequestId>fault</RequestId></ErrorResponse>",
    ),
    ("json", 503): ("application/x-amz-json-1.0", b'{"__type":"ServiceUnavailable","message":"Unavailable"}'),
    ("query", 503): (
        "text/xml",
        b"<ErrorResponse><Error><Type>Receiver</Type><Code>ServiceUnavailable</Code><Message>Unavailable"
        b"</Message></Error><RequestId>fault</RequestId></ErrorResponse>",
    ),
}


def _any(_: dict[str, Any]) -> bool:
    return True


@dataclass
class _Rule:
    kind: str
    service: str
    operations: frozenset[str] | None
    rate: float
    times: int | None
    match: Match
    code: str = "ThrottlingException"
    error: Callable[[], BaseException] | None = None
    rewrite: Callable[[dict[str, Any]], None] | None = None
    hits: int = 0

    def applies(self, service: str, operation: str, params: dict[str, Any], rng: random.Random) -> bool:
        if service != self.service or (self.operations is not None and operation not in self.operations):
            return False
        if self.times is not None and self.hits >= self.times:
            return False
        if not self.match(params):
            return False
        if self.rate < 1 and rng.random() >= self.rate:
            return False
        self.hits += 1
        return True


@dataclass
class Injector:
    seed: int = 0
    rules: list[_Rule] = field(default_factory=list)
    slept: list[float] = field(default_factory=list)
    """botocore's retry back-offs, recorded instead of slept."""
    log: list[str] = field(default_factory=list)
    """Every fault injected: "<kind> <service>:<operation>"."""

    def __post_init__(self) -> None:
        self.rng = random.Random(self.seed)
        self._started = time.monotonic()

    # -- rules -------------------------------------------------------------------------------------

    def throttle(
        self, service: str, rate: float, *, per: str = "attempt", operations: set[str] | None = None
    ) -> Injector:
        kind = {"attempt": "throttle-attempt", "call": "fail-call"}[per]
        self.rules.append(_Rule(kind, service, _ops(operations), rate, None, _any))
        return self

    def fail_call(
        self,
        service: str,
        operation: str,
        *,
        match: Match = _any,
        code: str = "ThrottlingException",
        times: int | None = 1,
        rate: float = 1.0,
    ) -> Injector:
        self.rules.append(_Rule("fail-call", service, frozenset({operation}), rate, times, match, code=code))
        return self

    def lose_reply(
        self, service: str, operation: str, *, match: Match = _any, times: int | None = 1, rate: float = 1.0
    ) -> Injector:
        self.rules.append(_Rule("lose-reply", service, frozenset({operation}), rate, times, match))
        return self

    def crash_after(
        self,
        service: str,
        operation: str,
        error: Callable[[], BaseException],
        *,
        match: Match = _any,
        times: int | None = 1,
    ) -> Injector:
        self.rules.append(
            _Rule("crash-after", service, frozenset({operation}), 1.0, times, match, error=error)
        )
        return self

    def rewrite(
        self,
        service: str,
        operation: str,
        change: Callable[[dict[str, Any]], None],
        *,
        times: int | None = None,
    ) -> Injector:
        """Change the parsed response of a call (a malformed answer), in place."""
        self.rules.append(_Rule("rewrite", service, frozenset({operation}), 1.0, times, _any, rewrite=change))
        return self

    def clear(self) -> None:
        """The weather clears: no more faults (what was injected stays in the log)."""
        self.rules.clear()

    def clock(self) -> float:
        """A monotonic clock that the recorded back-offs advance, for remediator.deadline.Deadline."""
        return time.monotonic() - self._started + sum(self.slept)

    # -- hooks -------------------------------------------------------------------------------------

    def attach(self, client: Any) -> None:
        events = client.meta.events
        events.register_first("before-parameter-build", _keep_params, unique_id=f"fault-params-{id(self)}")
        events.register_first("before-call", self._before_call, unique_id=f"fault-call-{id(self)}")
        events.register_first("before-send", self._before_send, unique_id=f"fault-send-{id(self)}")
        events.register_first("after-call", self._after_call, unique_id=f"fault-after-{id(self)}")

    def _rule(self, kinds: set[str], service: str, operation: str, params: dict[str, Any]) -> _Rule | None:
        for rule in self.rules:
            if rule.kind in kinds and rule.applies(service, operation, params, self.rng):
                self.log.append(f"{rule.kind} {service}:{operation}")
                return rule
        return None

    def _before_call(
        self, model: Any, context: dict[str, Any], **_: Any
    ) -> tuple[AWSResponse, dict[str, Any]] | None:
        rule = self._rule({"fail-call"}, _service(model), model.name, context.get("fault_params", {}))
        if rule is None:
            return None
        status = (
            400 if rule.code.startswith(("Throttl", "Conditional", "Transaction", "Provisioned")) else 500
        )
        parsed: dict[str, Any] = {
            "Error": {"Code": rule.code, "Message": f"injected {rule.code}"},
            "ResponseMetadata": {"HTTPStatusCode": status, "RetryAttempts": 0},
        }
        return AWSResponse("https://fault.invalid", status, HTTPHeaders(), None), parsed

    def _before_send(self, request: Any, event_name: str, **__: Any) -> AWSResponse | None:
        _, service, operation_name = event_name.split(".")
        params = request.context.get("fault_params", {})
        rule = self._rule({"throttle-attempt", "lose-reply"}, service, operation_name, params)
        if rule is None:
            return None
        url = request.url
        if rule.kind == "lose-reply":
            botocore_stubber(request=request, event_name=event_name)  # applied, then the reply is lost
        # botocore calls every before-send handler and takes the first answer: moto's own would still apply
        # the request, unless it finds no service at the address.
        request.url = "https://fault.invalid/"
        status = 503 if rule.kind == "lose-reply" else 400
        content_type, body = _ERRORS["query" if service in ("iam", "sts") else "json", status]
        headers = HTTPHeaders()
        headers["Content-Type"] = content_type
        return AWSResponse(url, status, headers, _Raw(body))

    def _after_call(self, model: Any, context: dict[str, Any], parsed: dict[str, Any], **_: Any) -> None:
        rule = self._rule(
            {"crash-after", "rewrite"}, _service(model), model.name, context.get("fault_params", {})
        )
        if rule is not None and rule.rewrite is not None:
            rule.rewrite(parsed)
        if rule is not None and rule.error is not None:
            raise rule.error()


class _Raw:
    """The raw body botocore reads from an AWSResponse."""

    def __init__(self, body: bytes) -> None:
        self._body = body

    def stream(self, **_: Any) -> Iterator[bytes]:
        yield self._body

    def read(self, *_: Any) -> bytes:
        return self._body


def _service(model: Any) -> str:
    """The service as botocore's event names spell it: "iam", "sts", "dynamodb", "config-service"."""
    return str(model.service_model.service_id.hyphenize())


def _ops(operations: set[str] | None) -> frozenset[str] | None:
    return None if operations is None else frozenset(operations)


def _keep_params(params: dict[str, Any], context: dict[str, Any], **_: Any) -> None:
    """The call's parameters as the caller gave them, for the rules' `match`."""
    context["fault_params"] = dict(params)


@contextmanager
def injected(injector: Injector) -> Iterator[Injector]:
    """Every client created meanwhile gets the injector's hooks; botocore's back-offs are recorded."""
    original = botocore.session.Session.create_client

    def create_client(self: Any, *args: Any, **kwargs: Any) -> Any:
        client = original(self, *args, **kwargs)
        injector.attach(client)
        return client

    endpoint: Any = botocore.endpoint  # its `time` is the module botocore sleeps through between retries
    real_time = endpoint.time
    botocore.session.Session.create_client = create_client  # type: ignore[method-assign]
    endpoint.time = types.SimpleNamespace(sleep=injector.slept.append)
    try:
        yield injector
    finally:
        botocore.session.Session.create_client = original  # type: ignore[method-assign]
        endpoint.time = real_time
