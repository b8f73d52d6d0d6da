"""Invariants of stacksets/central.yaml: the bus accepts only the organization, the remediator's role grants
exactly the narrow set it needs (the audit log is append-only), the Lambda matches the code's contract
(handler, environment, tables, metrics), and the dead letters and alarms are wired. These also stand in for
what moto ignores on deployment (see test_deploy_moto.py)."""

from __future__ import annotations

import ast
import inspect
import json
from typing import Any

import pytest
from aws_lambda_powertools.utilities.idempotency import DynamoDBPersistenceLayer

from remediator.adapters.audit_table import BY_ACCESS_KEY, BY_DAY
from remediator.settings import Settings, load_settings
from tests.stacksets.cfn import ORGANIZATION_ID, REPO, SECURITY_ACCOUNT_ID, Stack, load

REQUIRED_OUTPUTS = {
    "EventBusArn",
    "EventBusName",
    "RemediatorRoleArn",
    "RemediatorFunctionName",
    "AuditTableName",
    "StateTableName",
    "NotificationTopicArn",
    "DeadLetterQueueUrl",
}


def central(values: dict[str, str] | None = None) -> Stack:
    return Stack("central", values or {}, account_id=SECURITY_ACCOUNT_ID)


def as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def grants(stack: Stack) -> set[tuple[str, str, str]]:
    """(action, resource, condition as JSON) for every Allow the remediator's role holds."""
    documents = [p["PolicyDocument"] for p in stack.resources["RemediatorRole"]["Properties"]["Policies"]]
    documents += [p["Properties"]["PolicyDocument"] for p in stack.of_type("AWS::IAM::Policy").values()]
    result: set[tuple[str, str, str]] = set()
    for statement in (s for d in documents for s in d["Statement"]):
        assert statement["Effect"] == "Allow"
        condition = json.dumps(statement.get("Condition", {}), sort_keys=True)
        for action in as_list(statement["Action"]):
            result.update((action, resource, condition) for resource in as_list(statement["Resource"]))
    return result


def test_bus_policy_allows_put_events_only_from_the_organization() -> None:
    stack = central()
    bus = stack.resources["EventBus"]["Properties"]
    assert bus["Policy"]["Statement"] == [
        {
            "Sid": "OrganizationPutEvents",
            "Effect": "Allow",
            "Principal": "*",
            "Action": "events:PutEvents",
            "Resource": stack.outputs["EventBusArn"],
            "Condition": {"StringEquals": {"aws:PrincipalOrgID": ORGANIZATION_ID}},
        }
    ]
    assert not stack.of_type("AWS::Events::EventBusPolicy")


@pytest.mark.parametrize("tracing", ["false", "true"])
def test_remediator_role_grants_exactly_the_narrow_set(tracing: str) -> None:
    stack = central({"Tracing": tracing})
    out = stack.outputs
    audit, state = (stack.resolve({"Fn::GetAtt": [t, "Arn"]}) for t in ("AuditTable", "StateTable"))
    log_group = stack.resources["RemediatorLogGroup"]["Properties"]["LogGroupName"]
    none = "{}"
    expected = {
        (
            "sts:AssumeRole",
            "arn:aws:iam::*:role/AccessKeyRemediationRole",
            json.dumps({"StringEquals": {"aws:ResourceOrgID": ORGANIZATION_ID}}),
        ),
        ("dynamodb:PutItem", audit, none),
        ("dynamodb:Query", audit, none),
        ("dynamodb:Query", f"{audit}/index/*", none),
        *{
            (f"dynamodb:{a}", state, none)
            for a in ("GetItem", "PutItem", "UpdateItem", "DeleteItem", "Query")
        },
        ("sns:Publish", out["NotificationTopicArn"], none),
        *{
            (
                a,
                out["KeyArn"],
                json.dumps({"StringEquals": {"kms:ViaService": "sns.eu-west-1.amazonaws.com"}}),
            )
            for a in ("kms:Decrypt", "kms:GenerateDataKey")
        },
        ("sqs:SendMessage", out["DeadLetterQueueArn"], none),
        *{
            (a, f"arn:aws:logs:eu-west-1:{SECURITY_ACCOUNT_ID}:log-group:{log_group}:log-stream:*", none)
            for a in ("logs:CreateLogStream", "logs:PutLogEvents")
        },
    }
    if tracing == "true":
        expected |= {("xray:PutTraceSegments", "*", none), ("xray:PutTelemetryRecords", "*", none)}
    assert grants(stack) == expected


def test_audit_log_is_append_only_for_the_remediator() -> None:
    stack = central({"Tracing": "true"})
    audit = stack.resolve({"Fn::GetAtt": ["AuditTable", "Arn"]})
    on_audit = {action for action, resource, _ in grants(stack) if resource.startswith(audit)}
    assert on_audit == {"dynamodb:PutItem", "dynamodb:Query"}


def test_remediator_role_is_named_and_trusted_by_lambda_only() -> None:
    role = central().resources["RemediatorRole"]["Properties"]
    assert role["RoleName"] == "access-key-remediator"
    assert role["AssumeRolePolicyDocument"]["Statement"] == [
        {"Effect": "Allow", "Principal": {"Service": "lambda.amazonaws.com"}, "Action": "sts:AssumeRole"}
    ]
    assert "ManagedPolicyArns" not in role


def test_remediator_function_matches_the_code_contract() -> None:
    stack = central()
    function = stack.resources["RemediatorFunction"]["Properties"]
    module, name = function["Handler"].rsplit(".", 1)
    source = ast.parse((REPO / (module.replace(".", "/") + ".py")).read_text())
    assert name in {n.name for n in source.body if isinstance(n, ast.FunctionDef)}
    assert function["Runtime"] in {"python3.12", "python3.13"}
    assert function["Architectures"] == ["arm64"]
    assert (function["MemorySize"], function["Timeout"]) == (256, 120)
    assert function["ReservedConcurrentExecutions"] == "10"
    assert function["Code"] == {
        "S3Bucket": stack.parameters["CodeBucket"],
        "S3Key": stack.parameters["CodeKey"],
    }
    assert function["DeadLetterConfig"] == {"TargetArn": stack.outputs["DeadLetterQueueArn"]}
    assert function["LoggingConfig"] == {
        "LogGroup": stack.resources["RemediatorLogGroup"]["Properties"]["LogGroupName"]
    }
    assert function["TracingConfig"] == {"Mode": "PassThrough"}
    assert central({"Tracing": "true"}).resources["RemediatorFunction"]["Properties"]["TracingConfig"] == {
        "Mode": "Active"
    }


def test_environment_names_every_setting_and_parses_with_the_defaults() -> None:
    template = load("central")["Resources"]["RemediatorFunction"]["Properties"]["Environment"]["Variables"]
    settings = {f"AKR_{field.upper()}" for field in Settings.model_fields}
    assert {name for name in template if name.startswith("AKR_")} == settings
    environment = central().resources["RemediatorFunction"]["Properties"]["Environment"]["Variables"]
    assert environment["POWERTOOLS_SERVICE_NAME"] == "access-key-remediation"
    assert environment["POWERTOOLS_METRICS_NAMESPACE"] == "AccessKeyRemediation"
    # load_settings rejects unknown AKR_* names, so this also catches a misspelt variable.
    parsed = load_settings({name: str(value) for name, value in environment.items()})
    assert parsed.mode == "delete"
    assert parsed.rule_name_prefixes == ("akr-",)
    assert (parsed.thresholds.max_key_age_days, parsed.thresholds.max_unused_days) == (90, 90)
    assert parsed.opt_out_tag_key is None
    assert parsed.tracing is False


def test_optional_settings_reach_the_environment() -> None:
    values = {
        "Mode": "staged",
        "CisPreset": "cis-1.4",
        "MaxKeyAgeDays": "60",
        "OptOutTagKey": "akr-opt-out",
        "HomeRegion": "eu-central-1",
        "RuleNamePrefixes": "akr-,securityhub-access-keys-rotated-",
        "Tracing": "true",
    }
    environment = central(values).resources["RemediatorFunction"]["Properties"]["Environment"]["Variables"]
    parsed = load_settings({name: str(value) for name, value in environment.items()})
    assert (parsed.mode, parsed.cis_preset, parsed.home_region) == ("staged", "cis-1.4", "eu-central-1")
    assert (parsed.thresholds.max_key_age_days, parsed.thresholds.max_unused_days) == (60, 45)
    assert parsed.rule_name_prefixes == ("akr-", "securityhub-access-keys-rotated-")
    assert (parsed.opt_out_tag_key, parsed.tracing) == ("akr-opt-out", True)
    assert environment["POWERTOOLS_TRACE_DISABLED"] == "false"


def test_rule_invokes_the_remediator_with_retries_and_a_dead_letter_queue() -> None:
    stack = central()
    rule = stack.resources["RemediationRule"]["Properties"]
    assert rule["EventBusName"] == stack.outputs["EventBusName"]
    assert rule["Targets"] == [
        {
            "Id": "remediator",
            "Arn": stack.outputs["RemediatorFunctionArn"],
            "RetryPolicy": {"MaximumEventAgeInSeconds": 86400, "MaximumRetryAttempts": 185},
            "DeadLetterConfig": {"Arn": stack.outputs["DeadLetterQueueArn"]},
        }
    ]
    permission = stack.resources["RemediatorInvokePermission"]["Properties"]
    assert permission["Principal"] == "events.amazonaws.com"
    assert permission["SourceArn"] == stack.outputs["RemediationRuleArn"]


def test_dead_letter_queue_is_encrypted_and_only_the_rule_may_send() -> None:
    stack = central()
    queue = stack.resources["DeadLetterQueue"]["Properties"]
    assert queue["SqsManagedSseEnabled"] is True
    (policy,) = stack.of_type("AWS::SQS::QueuePolicy").values()
    allow, deny = policy["Properties"]["PolicyDocument"]["Statement"]
    assert allow["Principal"] == {"Service": "events.amazonaws.com"}
    assert allow["Condition"] == {"ArnEquals": {"aws:SourceArn": stack.outputs["RemediationRuleArn"]}}
    assert (deny["Effect"], deny["Condition"]) == ("Deny", {"Bool": {"aws:SecureTransport": "false"}})


def test_audit_table_has_the_keys_and_indexes_the_remediator_queries() -> None:
    template = load("central")["Resources"]["AuditTable"]
    assert (template["DeletionPolicy"], template["UpdateReplacePolicy"]) == ("Retain", "Retain")
    table = central().resources["AuditTable"]["Properties"]
    assert table["BillingMode"] == "PAY_PER_REQUEST"
    assert table["DeletionProtectionEnabled"] is True
    assert table["PointInTimeRecoverySpecification"] == {"PointInTimeRecoveryEnabled": True}
    assert table["SSESpecification"]["SSEEnabled"] is True
    assert table["KeySchema"] == [
        {"AttributeName": "account_id", "KeyType": "HASH"},
        {"AttributeName": "record_id", "KeyType": "RANGE"},
    ]
    indexes = {i["IndexName"]: i for i in table["GlobalSecondaryIndexes"]}
    assert set(indexes) == {BY_ACCESS_KEY, BY_DAY}
    for name, hash_key in ((BY_ACCESS_KEY, "access_key_id"), (BY_DAY, "day")):
        assert indexes[name]["KeySchema"] == [
            {"AttributeName": hash_key, "KeyType": "HASH"},
            {"AttributeName": "record_id", "KeyType": "RANGE"},
        ]
        assert indexes[name]["Projection"] == {"ProjectionType": "ALL"}
    assert {a["AttributeName"]: a["AttributeType"] for a in table["AttributeDefinitions"]} == {
        "account_id": "S",
        "record_id": "S",
        "access_key_id": "S",
        "day": "S",
    }


def test_state_table_expires_idempotency_records_through_ttl() -> None:
    table = central().resources["StateTable"]["Properties"]
    assert table["BillingMode"] == "PAY_PER_REQUEST"
    assert table["PointInTimeRecoverySpecification"] == {"PointInTimeRecoveryEnabled": True}
    assert table["SSESpecification"]["SSEEnabled"] is True
    assert table["KeySchema"] == [
        {"AttributeName": "pk", "KeyType": "HASH"},
        {"AttributeName": "sk", "KeyType": "RANGE"},
    ]
    expiry = inspect.signature(DynamoDBPersistenceLayer.__init__).parameters["expiry_attr"].default
    assert table["TimeToLiveSpecification"] == {"AttributeName": expiry, "Enabled": True}
    assert expiry == "expiration"


def test_alarms_watch_dead_letters_errors_and_the_failure_metric() -> None:
    stack = central()
    environment = stack.resources["RemediatorFunction"]["Properties"]["Environment"]["Variables"]
    alarms = {
        (a["Properties"]["Namespace"], a["Properties"]["MetricName"]): a["Properties"]
        for a in stack.of_type("AWS::CloudWatch::Alarm").values()
    }
    assert set(alarms) == {
        ("AWS/SQS", "ApproximateNumberOfMessagesVisible"),
        ("AWS/Lambda", "Errors"),
        (environment["POWERTOOLS_METRICS_NAMESPACE"], "RemediationFailures"),
    }
    for alarm in alarms.values():
        assert (alarm["Threshold"], alarm["ComparisonOperator"]) == (0, "GreaterThanThreshold")
        assert alarm["AlarmActions"] == [stack.outputs["NotificationTopicArn"]]
    # Powertools adds service=<POWERTOOLS_SERVICE_NAME> to every metric it emits.
    failures = alarms[(environment["POWERTOOLS_METRICS_NAMESPACE"], "RemediationFailures")]
    assert failures["Dimensions"] == [{"Name": "service", "Value": environment["POWERTOOLS_SERVICE_NAME"]}]
    queue = alarms[("AWS/SQS", "ApproximateNumberOfMessagesVisible")]
    assert queue["Dimensions"] == [
        {"Name": "QueueName", "Value": stack.outputs["DeadLetterQueueUrl"].rsplit("/", 1)[1]}
    ]


def test_topic_is_encrypted_with_a_key_cloudwatch_may_use() -> None:
    stack = central()
    assert stack.resources["NotificationTopic"]["Properties"]["KmsMasterKeyId"] == stack.outputs["KeyArn"]
    key = stack.resources["Key"]["Properties"]
    assert key["EnableKeyRotation"] is True
    principals = [s["Principal"] for s in key["KeyPolicy"]["Statement"]]
    assert {"Service": "cloudwatch.amazonaws.com"} in principals
    assert "*" not in principals and {"AWS": "*"} not in principals


def test_outputs_include_what_the_cli_and_member_stacks_need() -> None:
    assert set(central().outputs) >= REQUIRED_OUTPUTS


@pytest.mark.parametrize("name", ["central", "member"])
def test_event_buses_are_referenced_by_getatt_only(name: str) -> None:
    # moto breaks on Ref to an AWS::Events::EventBus; GetAtt .Name and .Arn work in both.
    template = load(name)
    buses = {k for k, v in template["Resources"].items() if v["Type"] == "AWS::Events::EventBus"}
    text = json.dumps(template)
    assert not [bus for bus in buses if json.dumps({"Ref": bus}) in text or "${" + bus + "}" in text]
