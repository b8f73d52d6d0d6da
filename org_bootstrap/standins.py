"""Stand-ins for what moto lacks, in one place so that they stay visible. Everything else in the demo is
the real thing: the templates deployed by `akr deploy`, the rules and targets they create, the handlers.

- Config: moto stores rules but never evaluates them (and its CloudFormation skips AWS::Config::*).
  `ConfigEvaluator` applies the managed rules' semantics (ACCESS_KEYS_ROTATED,
  IAM_USER_UNUSED_CREDENTIALS_CHECK: per user, on active keys) to the IAM state, remembers each user's
  compliance, and puts a "Config Rules Compliance Change" event onto the member's default bus only when it
  changes, as Config does. From there the deployed forwarding rule carries it, or not.
- EventBridge delivery (`faithful_delivery`): moto re-stamps an event that a rule forwards to another
  account's bus (the `account` becomes the receiving account, `resources` is lost), which AWS does not
  (the originating account is kept: docs in shared AWS facts, "The event"), and it raises
  NotImplementedError for a Lambda target. Inside the context, a rule delivers to another bus the event
  as it is, and hands Lambda targets to a `LocalRuntime`; other targets stay moto's.
- Lambda: moto stores functions but runs no code without Docker. `LocalRuntime` runs a function the way
  Lambda would: its handler, from this installation; its environment variables, as deployed; its role's
  credentials, assumed through STS; a cold start (a fresh import of the handler module) per runtime.
  Events for a function are queued and run by `drain()`, as asynchronous invocations are; the sweep
  queue's messages go to the function its event source mapping names, in batches.
- Organizations: moto answers ListAccounts only in the management account; AWS answers it in a delegated
  administrator's account too (the sweep runs in the security account). `delegated_list_accounts`
  lets the security account read the organization's accounts.
"""

from __future__ import annotations

import contextlib
import copy
import importlib
import io
import json
import sys
import uuid
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import boto3
from moto.events import models as events_models
from moto.organizations import models as organizations_models
from moto.sqs import models as sqs_models
from moto.utilities.arns import parse_arn

from org_bootstrap.demo_org import environment

ROTATED = "access-keys-rotated"
UNUSED = "iam-user-unused-credentials-check"


# -- Config ----------------------------------------------------------------------------------------------


@dataclass
class ConfigEvaluator:
    account_id: str
    region: str
    rule_name_prefix: str
    max_key_age_days: int
    max_unused_days: int
    _last: dict[tuple[str, str], str] = field(default_factory=dict)

    def evaluate(self, session: boto3.Session, now: datetime) -> list[dict[str, Any]]:
        """One periodic evaluation of both rules over every user; the compliance-change events it emits."""
        iam = session.client("iam")
        events = []
        for page in iam.get_paginator("list_users").paginate():
            for user in page["Users"]:
                verdicts = self._verdicts(iam, user["UserName"], now)
                for rule, compliance in verdicts.items():
                    key = (rule, user["UserId"])
                    old = self._last.get(key)
                    self._last[key] = compliance
                    if old != compliance:
                        events.append(self._event(rule, user["UserId"], compliance, old, now))
        return events

    @staticmethod
    def publish(session: boto3.Session, event: dict[str, Any]) -> None:
        """Put one event onto the account's default bus, as Config does (moto accepts an `aws.` source)."""
        response = session.client("events").put_events(
            Entries=[
                {
                    "Source": event["source"],
                    "DetailType": event["detail-type"],
                    "Detail": json.dumps(event["detail"]),
                    "Resources": event["resources"],
                    "Time": datetime.fromisoformat(event["time"]),
                }
            ]
        )
        if response["FailedEntryCount"]:
            raise RuntimeError(f"PutEvents failed: {response['Entries']}")

    def _verdicts(self, iam: Any, user_name: str, now: datetime) -> dict[str, str]:
        rotated, unused = "COMPLIANT", "COMPLIANT"
        for key in iam.list_access_keys(UserName=user_name)["AccessKeyMetadata"]:
            if key["Status"] != "Active":
                continue
            if now - key["CreateDate"] > timedelta(days=self.max_key_age_days):
                rotated = "NON_COMPLIANT"
            used = iam.get_access_key_last_used(AccessKeyId=key["AccessKeyId"])["AccessKeyLastUsed"]
            if now - used.get("LastUsedDate", key["CreateDate"]) > timedelta(days=self.max_unused_days):
                unused = "NON_COMPLIANT"
        return {self.rule_name_prefix + ROTATED: rotated, self.rule_name_prefix + UNUSED: unused}

    def _event(
        self, rule: str, user_id: str, compliance: str, old: str | None, now: datetime
    ) -> dict[str, Any]:
        stamp = now.strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"

        def result(value: str) -> dict[str, Any]:
            qualifier = {"configRuleName": rule, "resourceType": "AWS::IAM::User", "resourceId": user_id}
            return {
                "evaluationResultIdentifier": {
                    "evaluationResultQualifier": qualifier,
                    "orderingTimestamp": stamp,
                },
                "complianceType": value,
                "resultRecordedTime": stamp,
                "configRuleInvokedTime": stamp,
            }

        rule_arn = f"arn:aws:config:{self.region}:{self.account_id}:config-rule/config-rule-{rule[-6:]}"
        detail: dict[str, Any] = {
            "resourceId": user_id,
            "awsRegion": self.region,
            "awsAccountId": self.account_id,
            "configRuleName": rule,
            "recordVersion": "1.0",
            "configRuleARN": rule_arn,
            "messageType": "ComplianceChangeNotification",
            "newEvaluationResult": result(compliance),
            "notificationCreationTime": stamp,
            "resourceType": "AWS::IAM::User",
        }
        if old is not None:
            detail["oldEvaluationResult"] = result(old)
        return {
            "version": "0",
            "id": str(uuid.uuid4()),
            "detail-type": "Config Rules Compliance Change",
            "source": "aws.config",
            "account": self.account_id,
            "time": now.strftime("%Y-%m-%dT%H:%M:%SZ"),
            "region": self.region,
            "resources": [],
            "detail": detail,
        }


# -- Lambda ------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Invocation:
    function: str
    handler: str
    """The function's handler, e.g. remediator.handler.lambda_handler."""
    trigger: str
    """What invoked it: the rule's ARN, or the queue's."""
    result: Any = None
    error: str | None = None
    output: str = ""
    """What the function printed (its metric lines): the runtime's stand-in for CloudWatch Logs."""


@dataclass(frozen=True)
class _Context:
    """The attributes Powertools reads from a Lambda context."""

    function_name: str
    invoked_function_arn: str
    aws_request_id: str
    memory_limit_in_mb: int = 256

    def get_remaining_time_in_millis(self) -> int:
        return 60_000


@dataclass
class LocalRuntime:
    security: boto3.Session
    """The account the functions live in."""
    region: str
    invocations: list[Invocation] = field(default_factory=list)
    _queued: list[tuple[str, str, dict[str, Any]]] = field(default_factory=list)
    _warm: set[str] = field(default_factory=set)

    def enqueue(self, function_arn: str, trigger: str, event: dict[str, Any]) -> None:
        """An asynchronous invocation: run later, by drain()."""
        self._queued.append((function_arn, trigger, event))

    def drain(self) -> list[Invocation]:
        """Run every queued invocation, including those queued meanwhile; what ran, in order."""
        ran: list[Invocation] = []
        while self._queued:
            function_arn, trigger, event = self._queued.pop(0)
            ran.append(self.invoke(function_arn, trigger, event))
        return ran

    def fire_schedule(self, rule_name: str, now: datetime) -> list[Invocation]:
        """What EventBridge does when a scheduled rule comes due: a "Scheduled Event" to each target."""
        events = self.security.client("events")
        rule = events.describe_rule(Name=rule_name)
        ran = []
        for target in events.list_targets_by_rule(Rule=rule_name)["Targets"]:
            event = {
                "version": "0",
                "id": str(uuid.uuid4()),
                "detail-type": "Scheduled Event",
                "source": "aws.events",
                "account": parse_arn(rule["Arn"]).account,
                "time": now.strftime("%Y-%m-%dT%H:%M:%SZ"),
                "region": self.region,
                "resources": [rule["Arn"]],
                "detail": {},
            }
            ran.append(self.invoke(target["Arn"], rule["Arn"], event))
        return ran

    def poll_queues(self) -> list[Invocation]:
        """Lambda's SQS event source mappings: batches to the function until the queue is empty; the
        messages a batch reports failed stay in the queue (visible again after the visibility timeout)."""
        sqs = self.security.client("sqs")
        ran = []
        for mapping in self.security.client("lambda").list_event_source_mappings()["EventSourceMappings"]:
            queue_arn = mapping["EventSourceArn"]
            arn = parse_arn(queue_arn)
            url = sqs.get_queue_url(QueueName=arn.resource_id, QueueOwnerAWSAccountId=arn.account)["QueueUrl"]
            while messages := sqs.receive_message(
                QueueUrl=url,
                MaxNumberOfMessages=min(10, mapping.get("BatchSize", 10)),
                AttributeNames=["All"],
            ).get("Messages", []):
                event = {"Records": [_sqs_record(m, queue_arn, self.region) for m in messages]}
                invocation = self.invoke(mapping["FunctionArn"], queue_arn, event)
                ran.append(invocation)
                failed = {
                    item["itemIdentifier"] for item in (invocation.result or {}).get("batchItemFailures", [])
                }
                if invocation.error:
                    continue  # the whole batch returns to the queue
                done = [m for m in messages if m["MessageId"] not in failed]
                for message in done:
                    sqs.delete_message(QueueUrl=url, ReceiptHandle=message["ReceiptHandle"])
        return ran

    def invoke(self, function_arn: str, trigger: str, event: dict[str, Any]) -> Invocation:
        configuration = self.security.client("lambda").get_function_configuration(FunctionName=function_arn)
        name = configuration["FunctionName"]
        module_name, _, attribute = configuration["Handler"].rpartition(".")
        output = io.StringIO()
        with self._environment(configuration), contextlib.redirect_stdout(output):
            module = self._load(module_name)
            handler: Callable[[dict[str, Any], _Context], Any] = getattr(module, attribute)
            context = _Context(
                function_name=name,
                invoked_function_arn=configuration["FunctionArn"],
                aws_request_id=str(uuid.uuid4()),
            )
            try:
                result, error = handler(copy.deepcopy(event), context), None
            except Exception as exc:  # noqa: BLE001  # Lambda reports a function error and retries; so does the demo
                result, error = None, f"{type(exc).__name__}: {exc}"
        invocation = Invocation(name, configuration["Handler"], trigger, result, error, output.getvalue())
        self.invocations.append(invocation)
        return invocation

    def _load(self, module_name: str) -> Any:
        """Cold start once per runtime: a fresh import, so nothing cached by an earlier runtime (clients
        of another server, other settings) is reused; warm afterwards."""
        if module_name in self._warm:
            return sys.modules[module_name]
        self._warm.add(module_name)
        if module_name in sys.modules:
            return importlib.reload(sys.modules[module_name])
        return importlib.import_module(module_name)

    @contextlib.contextmanager
    def _environment(self, configuration: Mapping[str, Any]) -> Iterator[None]:
        role = configuration["Role"]
        credentials = self.security.client("sts").assume_role(
            RoleArn=role, RoleSessionName=configuration["FunctionName"][:64]
        )["Credentials"]
        variables = {
            name: str(value)
            for name, value in configuration.get("Environment", {}).get("Variables", {}).items()
            if value is not None  # moto keeps a !Ref AWS::NoValue as null; Lambda has no such variable
        }
        values = {
            **variables,
            "AWS_ACCESS_KEY_ID": credentials["AccessKeyId"],
            "AWS_SECRET_ACCESS_KEY": credentials["SecretAccessKey"],
            "AWS_SESSION_TOKEN": credentials["SessionToken"],
            "AWS_REGION": self.region,
            "AWS_DEFAULT_REGION": self.region,
            "AWS_LAMBDA_FUNCTION_NAME": configuration["FunctionName"],
        }
        with environment(values):
            yield


def _sqs_record(message: Mapping[str, Any], queue_arn: str, region: str) -> dict[str, Any]:
    """A message as Lambda's SQS event source passes it."""
    return {
        "messageId": message["MessageId"],
        "receiptHandle": message["ReceiptHandle"],
        "body": message["Body"],
        "attributes": message.get("Attributes", {}),
        "messageAttributes": message.get("MessageAttributes", {}),
        "md5OfBody": message["MD5OfBody"],
        "eventSource": "aws:sqs",
        "eventSourceARN": queue_arn,
        "awsRegion": region,
    }


# -- EventBridge and Organizations, patched in place -------------------------------------------------------


def _envelope(event: dict[str, Any]) -> dict[str, Any]:
    """The event as AWS delivers it: moto keeps `time` as epoch seconds and adds an ingestion time."""
    delivered = {name: value for name, value in event.items() if name != "ingestion-time"}
    if isinstance(delivered.get("time"), int | float):
        delivered["time"] = datetime.fromtimestamp(delivered["time"], UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    return delivered


@contextlib.contextmanager
def faithful_delivery(runtime: LocalRuntime) -> Iterator[None]:
    original = events_models.Rule.send_to_targets

    def send_to_targets(rule: Any, event: Any, transform_input: bool = True) -> None:
        if rule.state != "ENABLED" or not rule.event_pattern.matches_event(event):
            return  # AWS delivers nothing through a disabled rule; moto would
        others = []
        for target in rule.targets:
            arn = parse_arn(target["Arn"])
            if arn.service == "lambda":
                runtime.enqueue(target["Arn"], rule.arn, _envelope(event))
            elif (
                arn.service == "events"
                and arn.resource_type == "event-bus"
                and arn.account != rule.account_id
            ):
                bus = events_models.events_backends[arn.account][arn.region].describe_event_bus(
                    arn.resource_id
                )
                for receiving in list(bus.rules.values()):
                    receiving.send_to_targets(copy.deepcopy(event))
            else:
                others.append(target)
        if others:
            rest = copy.copy(rule)
            rest.targets = others
            original(rest, event, transform_input)

    events_models.Rule.send_to_targets = send_to_targets  # type: ignore[method-assign,assignment]
    try:
        yield
    finally:
        events_models.Rule.send_to_targets = original  # type: ignore[method-assign]


@contextlib.contextmanager
def local_event_sources() -> Iterator[None]:
    """Take the SQS event source mappings that exist now away from moto, which would try to run the
    function in Docker on every message sent (and drop the batch when it cannot); `LocalRuntime.poll_queues`
    serves them instead. moto's Lambda API still lists the mappings."""
    taken: list[tuple[Any, dict[str, Any]]] = []
    for regions in list(sqs_models.sqs_backends.values()):
        for backend in list(regions.values()):
            for queue in backend.queues.values():
                if queue.lambda_event_source_mappings:
                    taken.append((queue, queue.lambda_event_source_mappings))
                    queue.lambda_event_source_mappings = {}
    try:
        yield
    finally:
        for queue, mappings in taken:
            queue.lambda_event_source_mappings = mappings


@contextlib.contextmanager
def delegated_list_accounts() -> Iterator[None]:
    backend_class = organizations_models.OrganizationsBackend
    original = backend_class.list_accounts

    def list_accounts(backend: Any, *args: Any, **kwargs: Any) -> Any:
        managed = organizations_models.organizations_backends.master_accounts.get(backend.account_id)
        if backend.org is None and managed is not None:
            management, partition = managed
            backend = organizations_models.organizations_backends[management][partition]
        return original(backend, *args, **kwargs)

    backend_class.list_accounts = list_accounts  # type: ignore[method-assign,assignment]
    try:
        yield
    finally:
        backend_class.list_accounts = original  # type: ignore[method-assign]
