"""The Lambda stand-in: moto stores functions but runs no code without Docker
(org_bootstrap.demo.standins)."""

from __future__ import annotations

import contextlib
import copy
import importlib
import io
import os
import sys
import uuid
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from types import ModuleType
from typing import TYPE_CHECKING, Any

import boto3
from moto.utilities.arns import parse_arn

from org_bootstrap.demo.organization import environment
from org_bootstrap.demo.standins.streams import read_stream

if TYPE_CHECKING:
    from mypy_boto3_dynamodbstreams import DynamoDBStreamsClient
    from mypy_boto3_events import EventBridgeClient
    from mypy_boto3_lambda import LambdaClient
    from mypy_boto3_sqs import SQSClient
    from mypy_boto3_sts import STSClient


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
    _stream_positions: dict[str, dict[str, str]] = field(default_factory=dict)
    """Mapping uuid -> shard id -> the last sequence number its function has processed."""
    _clients: dict[str, Any] = field(default_factory=dict)
    """One client per service: an invocation used to make two (its configuration, its credentials)."""

    def _client(self, service: str) -> Any:
        if service not in self._clients:
            self._clients[service] = self.security.client(service)  # type: ignore[call-overload]
        return self._clients[service]

    @property
    def pending(self) -> tuple[tuple[str, str, dict[str, Any]], ...]:
        """The invocations queued and not run yet: (function ARN, trigger, event)."""
        return tuple(self._queued)

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
        events: EventBridgeClient = self._client("events")
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
        sqs: SQSClient = self._client("sqs")
        ran = []
        for mapping in self._mappings("sqs"):
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

    def poll_streams(self) -> list[Invocation]:
        """Lambda's DynamoDB stream event source mappings: every new record, in batches of the mapping's
        size, to its function. A batch that fails, or reports failures, is retried from its first failed
        record on the next poll, as Lambda retries from the lowest failed sequence number."""
        streams: DynamoDBStreamsClient = self._client("dynamodbstreams")
        ran = []
        for mapping in self._mappings("dynamodb"):
            stream_arn = mapping["EventSourceArn"]
            position = self._stream_positions.setdefault(mapping["UUID"], {})
            records = read_stream(streams, stream_arn, self.region, position)
            size = mapping.get("BatchSize") or 100
            for start in range(0, len(records), size):
                batch = records[start : start + size]
                invocation = self.invoke(
                    mapping["FunctionArn"], stream_arn, {"Records": [r for _, r in batch]}
                )
                ran.append(invocation)
                failed = {i["itemIdentifier"] for i in (invocation.result or {}).get("batchItemFailures", [])}
                done = []
                for shard, record in batch:
                    if invocation.error or record["dynamodb"]["SequenceNumber"] in failed:
                        break
                    done.append(record)
                    position[shard] = record["dynamodb"]["SequenceNumber"]
                if len(done) < len(batch):
                    break
        return ran

    def _mappings(self, service: str) -> list[dict[str, Any]]:
        lambda_: LambdaClient = self._client("lambda")
        listed = lambda_.list_event_source_mappings()["EventSourceMappings"]
        return [dict(m) for m in listed if parse_arn(m["EventSourceArn"]).service == service]

    def invoke(self, function_arn: str, trigger: str, event: dict[str, Any]) -> Invocation:
        lambda_: LambdaClient = self._client("lambda")
        configuration = lambda_.get_function_configuration(FunctionName=function_arn)
        name = configuration["FunctionName"]
        module_name, _, attribute = configuration["Handler"].rpartition(".")
        output = io.StringIO()
        with self._environment(configuration), contextlib.redirect_stdout(output):
            context = _Context(
                function_name=name,
                invoked_function_arn=configuration["FunctionArn"],
                aws_request_id=str(uuid.uuid4()),
            )
            try:
                # The import is the init phase (the handlers build their runtime there in Lambda): an init
                # error is the invocation's error, as in Lambda, and the next invocation imports again.
                module = self._load(module_name)
                handler: Callable[[dict[str, Any], _Context], Any] = getattr(module, attribute)
                result, error = handler(copy.deepcopy(event), context), None
            except Exception as exc:  # noqa: BLE001  # a function error is reported, as Lambda does; not retried here
                result, error = None, f"{type(exc).__name__}: {exc}"
        invocation = Invocation(name, configuration["Handler"], trigger, result, error, output.getvalue())
        self.invocations.append(invocation)
        return invocation

    def _load(self, module_name: str) -> ModuleType:
        """Cold start once per runtime: a fresh import, so nothing cached by an earlier runtime (clients
        of another server, other settings) is reused; warm afterwards."""
        if module_name in self._warm:
            return sys.modules[module_name]
        if module_name in sys.modules:
            module = importlib.reload(sys.modules[module_name])
        else:
            module = importlib.import_module(module_name)
        self._warm.add(module_name)  # only once the init has succeeded
        return module

    @contextlib.contextmanager
    def _environment(self, configuration: Mapping[str, Any]) -> Iterator[None]:
        role = configuration["Role"]
        sts: STSClient = self._client("sts")
        credentials = sts.assume_role(RoleArn=role, RoleSessionName=configuration["FunctionName"][:64])[
            "Credentials"
        ]
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
        # A Lambda function sees only its own variables: the operator's AKR_* (AKR_SECURITY_ACCOUNT for the
        # command line) would be unknown settings to the function, which refuses those.
        foreign = tuple(name for name in os.environ if name.startswith("AKR_") and name not in values)
        with environment(values, drop=foreign):
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
