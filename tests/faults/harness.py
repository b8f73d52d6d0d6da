"""A small organization in moto, its Config events, the deployed functions' handlers run as Lambda runs
them (an event retried twice on failure, then dead-lettered; an SQS batch per sweep), and the one helper
that checks the ground truth afterwards: IAM, the audit table and the state table, never the return
values of the code under test."""

from __future__ import annotations

import datetime as dt
import io
import json
import logging
import random
import uuid
from collections import Counter
from collections.abc import Callable
from contextlib import redirect_stdout
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, cast

import boto3
import pytest
from aws_lambda_powertools.utilities.idempotency.persistence import base as idempotency_base
from aws_lambda_powertools.utilities.idempotency.persistence import dynamodb as idempotency_dynamodb
from aws_lambda_powertools.utilities.typing import LambdaContext

from org_bootstrap.demo.simulation import AUDIT_TABLE, STATE_TABLE, KeySpec, MotoOrganization
from remediator import handler, worker_handler
from remediator.adapters.audit_table import from_item
from remediator.adapters.exemption_table import DynamoDBExemptions
from remediator.audit import AuditRecord, Outcome, Phase
from remediator.composition import Runtime, build_remediator, build_runtime
from remediator.deadline import Deadline
from remediator.exemptions import Exemption
from remediator.policy import Mode
from remediator.settings import Settings
from tests.faults.injector import Injector, injected
from tests.fixtures import load_event, retarget
from tests.functional.test_sweep import sqs_event

OLD = KeySpec(age_days=120, used_days_ago=1)
IDLE = KeySpec(age_days=100)
FRESH = KeySpec(age_days=10, used_days_ago=1)
RETRY_DELAYS = (timedelta(0), timedelta(minutes=1), timedelta(minutes=3))
"""An asynchronous invocation: the first try, then Lambda's two retries one and three minutes later, then
the dead-letter queue.
https://docs.aws.amazon.com/lambda/latest/dg/invocation-async-error-handling.html"""


class LambdaDied(BaseException):  # stands for the process ending, not an error of ours
    """The function's process ends in the middle of an invocation (a timeout, out of memory)."""


@dataclass(frozen=True)
class Context:
    """The Lambda context: what Powertools reads, and the time the invocation has."""

    remaining_ms: int = 120_000
    function_name: str = "access-key-remediator"
    memory_limit_in_mb: int = 256
    invoked_function_arn: str = "arn:aws:lambda:eu-west-1:111111111111:function:access-key-remediator"
    aws_request_id: str = "0d7e2c1a-4b5f-4e6a-9c8d-7f1e2a3b4c5d"

    def get_remaining_time_in_millis(self) -> int:
        return self.remaining_ms


@dataclass
class Delivery:
    event_id: str
    attempts: int = 0
    dead_lettered: bool = False
    output: list[str] = field(default_factory=list)
    """What each attempt printed (Powertools' JSON logs and metrics)."""


@dataclass
class Scene:
    org: MotoOrganization
    mode: Mode
    injector: Injector
    initial: dict[tuple[str, str], str]
    """(account, key) -> status before anything ran."""
    acted_on: set[tuple[str, str]]
    """The keys the policy acts on (the mode permitting)."""
    events: list[dict[str, Any]]
    deliveries: list[Delivery] = field(default_factory=list)
    metrics: Counter[str] = field(default_factory=Counter)
    owners: dict[tuple[str, str], str] = field(default_factory=dict)
    """(account, key) -> its user's name, as IAM showed it."""
    warm: bool = False
    """One function instance for every event (its clients, credential cache and retry quotas kept), as a
    warm Lambda has; otherwise a cold one per event."""
    _runtime: Runtime | None = None

    @property
    def members(self) -> tuple[str, ...]:
        return self.org.members

    # -- running -----------------------------------------------------------------------------------

    def settings(self) -> Settings:
        return Settings(audit_table=AUDIT_TABLE, state_table=STATE_TABLE, mode=self.mode, grace_days=14)

    def deliver_all(self) -> None:
        for event in self.events:
            self.deliver(event)

    def deliver(self, event: dict[str, Any]) -> Delivery:
        """One event as Lambda's asynchronous invocation delivers it, to a function started for it (the
        clients, made at its start, get the faults too)."""
        delivery = Delivery(event["id"])
        self.deliveries.append(delivery)
        with injected(self.injector):
            runtime = self._runtime or build_runtime(
                self.settings(),
                self.org.session(self.org.security),
                on_result=handler.count,
                deadline=Deadline(clock=self.injector.clock),
            )
            if self.warm:
                self._runtime = runtime
            with pytest.MonkeyPatch.context() as patch:
                patch.setattr(handler, "runtime", lambda: runtime)
                for delay in RETRY_DELAYS:
                    delivery.attempts += 1
                    # Powertools' idempotency store sees the retry's time: an invocation that died holds
                    # the event as in progress until its timeout has passed, as it would in Lambda.
                    clock = _Later(delay)
                    patch.setattr(idempotency_base, "dt", clock)
                    patch.setattr(idempotency_dynamodb, "dt", clock)
                    if self._attempt(delivery, lambda: handler.lambda_handler(event, _context())):
                        return delivery
        delivery.dead_lettered = True
        return delivery

    def sweep(self, *, later: timedelta = timedelta(hours=1)) -> dict[str, Any]:
        """The next run of the deployed sweep, `later` than the events (the claims of their runs have lapsed
        by then): a message per member account to the worker."""
        messages = sqs_event(*(json.dumps({"account_id": a, "run_id": "daily"}) for a in self.members))
        delivery = Delivery("sweep")
        self.deliveries.append(delivery)
        answer: dict[str, Any] = {}
        with injected(self.injector):
            deadline = Deadline(clock=self.injector.clock)
            remediator = build_remediator(
                self.settings(),
                self.org.session(self.org.security),
                on_result=worker_handler.count,
                deadline=deadline,
                sleep=lambda _: None,
                clock=lambda: datetime.now(UTC) + later,
            )

            def run() -> None:
                answer.update(worker_handler.lambda_handler(messages, _context(600_000)))

            with pytest.MonkeyPatch.context() as patch:
                patch.setattr(worker_handler, "runtime", lambda: (self.settings(), remediator, deadline))
                self._attempt(delivery, run)
        return answer

    def _attempt(self, delivery: Delivery, call: Callable[[], object]) -> bool:
        out = io.StringIO()
        logged = _Collector()
        # Powertools copies its configuration onto the package's loggers and stops their propagation: the
        # collector goes on each of them.
        names = [
            n
            for n in logging.root.manager.loggerDict
            if n.split(".")[0] in ("remediator", "access-key-remediation")
        ]
        loggers = [logging.getLogger(name) for name in names]
        # Whatever ran before in this process may have disabled logging (a command's quiet mode).
        disabled = [logger.disabled for logger in loggers]
        silenced = logging.root.manager.disable
        logging.disable(logging.NOTSET)
        for logger in loggers:
            logger.addHandler(logged)
            logger.disabled = False
        try:
            with redirect_stdout(out):
                call()
        except (Exception, LambdaDied) as exc:  # noqa: BLE001  # Lambda's view: the invocation failed
            logged.messages.append(f"invocation failed: {type(exc).__name__}: {exc}")
            return False
        finally:
            for logger, was in zip(loggers, disabled, strict=True):
                logger.removeHandler(logged)
                logger.disabled = was
            logging.disable(silenced)
            delivery.output.append("\n".join([out.getvalue(), *logged.messages]))
            self.metrics.update(_metrics(out.getvalue()))
        return True

    # -- ground truth ------------------------------------------------------------------------------

    def iam(self) -> dict[tuple[str, str], str]:
        """(account, key) -> status, as IAM has it now, for every user of the member accounts."""
        found = {}
        for account in self.members:
            client = self.org.session(account).client("iam")
            for user in client.list_users()["Users"]:
                for key in client.list_access_keys(UserName=user["UserName"])["AccessKeyMetadata"]:
                    found[(account, key["AccessKeyId"])] = str(key["Status"])
                    self.owners[(account, key["AccessKeyId"])] = user["UserName"]
        return found

    def records(self) -> list[AuditRecord]:
        table = self.org.session(self.org.security).client("dynamodb")
        found = []
        for account in self.members:
            pages = table.get_paginator("query").paginate(
                TableName=AUDIT_TABLE,
                KeyConditionExpression="account_id = :a",
                ExpressionAttributeValues={":a": {"S": account}},
            )
            found += [from_item(item) for page in pages for item in page["Items"]]
        return sorted(found, key=lambda r: r.record_id)

    def open_marks(self) -> list[dict[str, Any]]:
        table = self.org.session(self.org.security).client("dynamodb")
        return [item for item in table.scan(TableName=STATE_TABLE)["Items"] if "pending" in item]


class _Later:
    """The `datetime` module as Powertools' idempotency store uses it, `delay` later than now."""

    date, time, timedelta = dt.date, dt.time, dt.timedelta

    def __init__(self, delay: dt.timedelta) -> None:
        delay_ = delay

        class _Datetime(dt.datetime):
            @classmethod
            def now(cls, tz: dt.tzinfo | None = None) -> _Datetime:
                moment = dt.datetime.now(tz) + delay_
                return cls.fromtimestamp(moment.timestamp(), tz)

        self.datetime = _Datetime


class _Collector(logging.Handler):
    """The messages the functions log during one attempt (Powertools' own handler writes to the stdout
    it found at import)."""

    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.messages: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.messages.append(record.getMessage())


def _context(remaining_ms: int = 120_000) -> LambdaContext:
    return cast(LambdaContext, Context(remaining_ms))


def _metrics(output: str) -> Counter[str]:
    """The sum of each metric in Powertools' EMF lines."""
    found: Counter[str] = Counter()
    for line in output.splitlines():
        try:
            document = json.loads(line)
        except ValueError:
            continue
        if not isinstance(document, dict) or "_aws" not in document:
            continue
        for definition in document["_aws"]["CloudWatchMetrics"]:
            for metric in definition["Metrics"]:
                value = document[metric["Name"]]
                found[metric["Name"]] += int(sum(value) if isinstance(value, list) else value)
    return found


def scene(org: MotoOrganization, mode: Mode, injector: Injector, *, users: int = 3, seed: int = 0) -> Scene:
    """In each member: `users` users with an old key, one with two keys (old and fresh), one idle (both
    rules fire), one fresh, one exempt with an old key. One event per violating rule and user."""
    rng = random.Random(seed)
    acted: set[tuple[str, str]] = set()
    events = []
    for account in org.members:
        handles = [org.add_user(account, f"old-{i}", OLD) for i in range(users)]
        handles.append(org.add_user(account, "two-keys", OLD, FRESH))
        idle = org.add_user(account, "idle", IDLE)
        org.add_user(account, "fresh", FRESH)
        exempt = org.add_user(account, "exempt", OLD)
        for handle in [*handles, idle]:
            acted.add((account, handle.key_ids[0]))
            events.append(event_for(handle.account_id, handle.user_id, "config_noncompliant_rotated", rng))
        events.append(event_for(account, idle.user_id, "config_noncompliant_unused_first_evaluation", rng))
        events.append(event_for(account, exempt.user_id, "config_noncompliant_rotated", rng))
        DynamoDBExemptions(client=org.session(org.security).client("dynamodb"), table_name=STATE_TABLE).put(
            Exemption(
                account_id=account,
                user_name="exempt",
                reason="break-glass",
                owner="secops",
                expires_at=datetime.now(UTC) + timedelta(days=30),
                created_at=datetime.now(UTC),
            )
        )
    rng.shuffle(events)
    built = Scene(org, mode, injector, {}, acted if mode is not Mode.REPORT else set(), events)
    built.initial = built.iam()
    return built


def event_for(account: str, user_id: str, fixture: str, rng: random.Random) -> dict[str, Any]:
    event = load_event(fixture)
    retarget(event, account_id=account, user_id=user_id)
    event["id"] = str(uuid.UUID(int=rng.getrandbits(128)))
    return event


# -- the invariant ---------------------------------------------------------------------------------


def check(built: Scene, *, settled: bool = True) -> None:
    """What must hold after a scenario, from IAM and the central tables:

    - every IAM mutation has exactly one intent and exactly one `done` outcome that names it (before the
      next sweep, it may still have an open intent instead);
    - no key is acted on twice, and only keys the policy acts on are touched (never a compliant or an
      exempt one);
    - with `settled` (the next sweep has run): no intent is without its outcome and no mark stays open,
      and every key the policy acts on is remediated or recorded as failed;
    - every dead-lettered event or failed message has a failed audit record, or, where the audit store was
      down, a log line saying so and the failure metric.
    """
    now = built.iam()
    records = built.records()
    outcomes: dict[str, list[AuditRecord]] = {}
    for record in records:
        if record.phase is Phase.OUTCOME and record.intent_id:
            outcomes.setdefault(record.intent_id, []).append(record)
    intents = {r.record_id: r for r in records if r.phase is Phase.INTENT}
    done_by_key = Counter(
        (r.account_id, r.access_key_id)
        for r in records
        if r.phase is Phase.OUTCOME and r.outcome is Outcome.DONE
    )

    for (account, key), before in built.initial.items():
        after = now.get((account, key))
        mutation = (
            "delete"
            if after is None
            else "deactivate"
            if before == "Active" and after == "Inactive"
            else None
        )
        if mutation is None:
            assert after == before, f"{key} changed from {before} to {after} without being a mutation"
            continue
        assert (account, key) in built.acted_on, f"{key} was {mutation}d, but the policy does not act on it"
        if not settled and any(
            i.access_key_id == key and i.decision == mutation and i.record_id not in outcomes
            for i in intents.values()
        ):
            continue  # its intent is still open: the next sweep settles it
        done = [
            r
            for r in records
            if r.access_key_id == key
            and r.phase is Phase.OUTCOME
            and r.outcome is Outcome.DONE
            and r.decision == mutation
        ]
        assert len(done) == 1, f"{key}: {len(done)} done outcomes for one {mutation}"
        assert done[0].intent_id in intents, f"{key}: the done outcome names no intent"
        assert intents[done[0].intent_id].access_key_id == key
    assert all(n == 1 for n in done_by_key.values()), f"a key acted on twice: {done_by_key}"
    for intent_id, closing in outcomes.items():
        assert len(closing) == 1, f"intent {intent_id} has {len(closing)} outcomes"

    if settled:
        unclosed = [i for i in intents if i not in outcomes]
        assert unclosed == [], f"intents without an outcome: {unclosed}"
        marks = built.open_marks()
        assert marks == [], f"marks left open: {marks}"
        failed = [r for r in records if r.outcome is Outcome.FAILED]
        for account, key in built.acted_on:
            remediated = now.get((account, key)) in (None, "Inactive")
            user = built.owners[account, key]
            recorded = any(
                r.account_id == account
                and (r.access_key_id == key or (r.access_key_id is None and r.user_name in (None, user)))
                for r in failed
            )
            assert remediated or recorded, f"{key} neither remediated nor recorded as failed"

    failed_events = {r.event_id for r in records if r.outcome is Outcome.FAILED}
    for delivery in built.deliveries:
        if not delivery.dead_lettered:
            continue
        recorded = delivery.event_id in failed_events
        logged = any(
            "failure not recorded" in out or "idempotency record failed" in out for out in delivery.output
        )
        assert recorded or (logged and built.metrics["RemediationFailures"] > 0), (
            f"event {delivery.event_id} dead-lettered with no failed record"
        )


def in_member(account: str) -> Callable[[dict[str, Any]], bool]:
    """A `match` for calls about one member account (its role's ARN in AssumeRole)."""
    return lambda params: account in str(params.get("RoleArn", ""))


def phase_of(phase: str) -> Callable[[dict[str, Any]], bool]:
    """A `match` for a journal transaction that writes a record of `phase`."""

    def match(params: dict[str, Any]) -> bool:
        for item in params.get("TransactItems", []):
            put = item.get("Put", {})
            if put.get("Item", {}).get("phase", {}).get("S") == phase:
                return True
        return False

    return match


def security_session(org: MotoOrganization) -> boto3.Session:
    return org.session(org.security)
