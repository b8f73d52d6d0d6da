"""Event-pattern semantics as EventBridge applies them on delivery, with moto standing in: each pattern the
templates resolve to becomes a rule on its own moto bus with an SQS target, each event is put on every bus,
and the queues say which rules matched. moto's TestEventPattern returns no result, so it is not used.

Events are the whole-envelope fixtures in tests/events/, varied by editing a loaded copy."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import boto3
import pytest
from moto import mock_aws

from tests.fixtures import load_event
from tests.stacksets.cfn import REGION, Stack

if TYPE_CHECKING:
    from mypy_boto3_events import EventBridgeClient
    from mypy_boto3_events.type_defs import PutEventsRequestEntryTypeDef
    from mypy_boto3_sqs import SQSClient

EXTRA = "securityhub-access-keys-rotated-,securityhub-iam-user-unused-credentials-check-"

# Each pattern as the stacks would create it: forwarding (member) and remediation (central), with the
# default prefix and with the Security Hub rules' prefixes added.
PATTERNS: dict[str, dict[str, Any]] = {
    "member": Stack("member").resources["ForwardingRule"]["Properties"]["EventPattern"],
    "member+extra": Stack("member", {"ExtraRuleNamePrefixes": EXTRA}).resources["ForwardingRule"][
        "Properties"
    ]["EventPattern"],
    "central": Stack("central").resources["RemediationRule"]["Properties"]["EventPattern"],
    "central+extra": Stack("central", {"RuleNamePrefixes": "akr-," + EXTRA}).resources["RemediationRule"][
        "Properties"
    ]["EventPattern"],
}
ALL = set(PATTERNS)
EXTRA_ONLY = {"member+extra", "central+extra"}


def renamed(rule_name: str) -> Callable[[dict[str, Any]], None]:
    def edit(event: dict[str, Any]) -> None:
        event["detail"]["configRuleName"] = rule_name
        event["detail"]["newEvaluationResult"]["evaluationResultIdentifier"]["evaluationResultQualifier"][
            "configRuleName"
        ] = rule_name

    return edit


def setting(*path: str, value: Any) -> Callable[[dict[str, Any]], None]:
    def edit(event: dict[str, Any]) -> None:
        target = event
        for key in path[:-1]:
            target = target[key]
        target[path[-1]] = value

    return edit


@dataclass(frozen=True)
class Case:
    fixture: str
    edit: Callable[[dict[str, Any]], None] | None
    matched_by: set[str]


CASES: dict[str, Case] = {
    "noncompliant rotated": Case("config_noncompliant_rotated", None, ALL),
    "noncompliant unused, first evaluation": Case("config_noncompliant_unused_first_evaluation", None, ALL),
    "compliant": Case("config_compliant_rotated", None, set()),
    "not applicable": Case("config_not_applicable_rotated", None, set()),
    "conformance pack suffix": Case(
        "config_noncompliant_rotated", renamed("akr-access-keys-rotated-conformance-pack-k3b9x2mfq"), ALL
    ),
    "security hub rule": Case(
        "config_noncompliant_rotated", renamed("securityhub-access-keys-rotated-1a2b3c4d"), EXTRA_ONLY
    ),
    "security hub unused rule": Case(
        "config_noncompliant_unused_first_evaluation",
        renamed("securityhub-iam-user-unused-credentials-check-5e6f7a8b"),
        EXTRA_ONLY,
    ),
    "unprefixed rule of the same kind": Case(
        "config_noncompliant_rotated", renamed("access-keys-rotated"), set()
    ),
    "prefix in the middle": Case(
        "config_noncompliant_rotated", renamed("team-akr-access-keys-rotated"), set()
    ),
    "other source": Case("config_noncompliant_rotated", setting("source", value="akr.test"), set()),
    "other detail-type": Case(
        "config_noncompliant_rotated", setting("detail-type", value="Config Configuration Item Change"), set()
    ),
    "other message type": Case(
        "config_noncompliant_rotated", setting("detail", "messageType", value="ScheduledNotification"), set()
    ),
    "other resource type": Case(
        "config_noncompliant_rotated", setting("detail", "resourceType", value="AWS::IAM::Role"), set()
    ),
}


@dataclass(frozen=True)
class Buses:
    events: EventBridgeClient
    sqs: SQSClient
    queues: dict[str, str]
    """pattern name -> queue URL of the rule that uses it"""


@pytest.fixture(scope="module")
def buses() -> Iterator[Buses]:
    with mock_aws():
        events = boto3.client("events", region_name=REGION)
        sqs = boto3.client("sqs", region_name=REGION)
        queues = {}
        for index, (name, pattern) in enumerate(PATTERNS.items()):
            bus = f"patterns-{index}"
            events.create_event_bus(Name=bus)
            url = sqs.create_queue(QueueName=f"matched-{index}")["QueueUrl"]
            arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"][
                "QueueArn"
            ]
            events.put_rule(Name="under-test", EventBusName=bus, EventPattern=json.dumps(pattern))
            events.put_targets(Rule="under-test", EventBusName=bus, Targets=[{"Id": "queue", "Arn": arn}])
            queues[name] = url
        yield Buses(events, sqs, queues)


def deliver(buses: Buses, event: dict[str, Any]) -> set[str]:
    """Put the event on every bus; the names of the patterns whose queue received it."""
    matched = set()
    for index, (name, url) in enumerate(buses.queues.items()):
        entry: PutEventsRequestEntryTypeDef = {
            "EventBusName": f"patterns-{index}",
            "Source": event["source"],
            "DetailType": event["detail-type"],
            "Detail": json.dumps(event["detail"]),
        }
        assert buses.events.put_events(Entries=[entry])["FailedEntryCount"] == 0
        messages = buses.sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10).get("Messages", [])
        for message in messages:
            assert json.loads(message["Body"])["detail"] == event["detail"]
            buses.sqs.delete_message(QueueUrl=url, ReceiptHandle=message["ReceiptHandle"])
        if messages:
            assert len(messages) == 1
            matched.add(name)
    return matched


@pytest.mark.parametrize("case", list(CASES.values()), ids=list(CASES))
def test_patterns_match_exactly_the_noncompliant_events_of_our_rules(buses: Buses, case: Case) -> None:
    event = load_event(case.fixture)
    if case.edit is not None:
        case.edit(event)
    assert deliver(buses, event) == case.matched_by


def test_every_pattern_pins_source_type_and_compliance() -> None:
    for pattern in PATTERNS.values():
        assert pattern["source"] == ["aws.config"]
        assert pattern["detail-type"] == ["Config Rules Compliance Change"]
        assert pattern["detail"]["messageType"] == ["ComplianceChangeNotification"]
        assert pattern["detail"]["newEvaluationResult"] == {"complianceType": ["NON_COMPLIANT"]}
        assert all(
            set(matcher) == {"prefix"} and matcher["prefix"]
            for matcher in pattern["detail"]["configRuleName"]
        )
