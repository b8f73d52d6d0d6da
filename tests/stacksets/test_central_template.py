"""Invariants of stacksets/central.yaml: the bus accepts only the organization, the remediator's role grants
exactly the narrow set it needs (the audit log is append-only), the Lambda matches the code's contract
(handler, environment, tables, metrics), and the dead letters and alarms are wired. These also stand in for
what moto ignores on deployment (see test_deploy_moto.py)."""

from __future__ import annotations

import ast
import inspect
import json
import re
from datetime import UTC, datetime
from typing import Any

import annotated_types
import pytest
from aws_lambda_powertools.utilities.idempotency import DynamoDBPersistenceLayer

from remediator.adapters.audit_table import BY_ACCESS_KEY, BY_DAY
from remediator.adapters.claims import DynamoDBClaims
from remediator.adapters.exemption_table import DynamoDBExemptions
from remediator.composition import IDEMPOTENCY_PK
from remediator.errors import ConfigurationError
from remediator.exemptions import Exemption
from remediator.settings import Settings, load_settings
from tests.stacksets.cfn import (
    ORGANIZATION_ID,
    REPO,
    SECURITY_ACCOUNT_ID,
    Stack,
    check_parameter,
    load,
)

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


# The only state-table partitions the remediator may read or write item by item.
OWN_STATE_ITEMS = {"ForAllValues:StringLike": {"dynamodb:LeadingKeys": ["idempotency#*", "claim#*"]}}


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
            (f"dynamodb:{a}", state, json.dumps(OWN_STATE_ITEMS, sort_keys=True))
            for a in ("GetItem", "PutItem", "UpdateItem", "DeleteItem")
        },
        ("dynamodb:Query", state, none),
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


def test_protected_user_path_reaches_the_environment_only_when_set() -> None:
    default = central().resources["RemediatorFunction"]["Properties"]["Environment"]["Variables"]
    assert "AKR_PROTECTED_USER_PATH" not in default
    assert load_settings({k: str(v) for k, v in default.items()}).protected_user_path is None
    stack = central({"ProtectedUserPath": "/break-glass/"})
    environment = stack.resources["RemediatorFunction"]["Properties"]["Environment"]["Variables"]
    assert environment["AKR_PROTECTED_USER_PATH"] == "/break-glass/"
    parsed = load_settings({k: str(v) for k, v in environment.items()})
    assert parsed.protected_user_path == parsed.policy.protected_user_path == "/break-glass/"


def test_protected_user_path_has_the_member_stacks_constraints() -> None:
    # The same value goes to both stacks (member.yaml denies, the remediator exempts): same rules for it.
    central_spec = load("central")["Parameters"]["ProtectedUserPath"]
    for name in ("member", "organization"):
        spec = load(name)["Parameters"]["ProtectedUserPath"]
        for field in ("Type", "Default", "AllowedPattern"):
            assert central_spec.get(field) == spec.get(field), (name, field)


# ---------------------------------------------------------------- parameters against remediator/settings.py

SETTINGS_BASE = {"AKR_AUDIT_TABLE": "audit", "AKR_STATE_TABLE": "state"}

# Values CloudFormation may or may not accept that are no canonical integer: none may get past the template
# and then fail the Lambda's start-up validation.
ODD_VALUES = (
    "", " ", "0", "00", "01", "014", "+1", "-1", "-0", " 1", "1 ", "1.5", "14.0", "1e2", "0x10", "1_0",
    "\u0663", "/", "//", "/a", "a/", "/a/", "/a/b/", "/a b/", "/\u00e9/", "/a/\n", "x" * 64, "x" * 65,
    "AccessKeyRemediationRole", "role/x", "a+b=c,d.e@f-g_h", "a*",
)  # fmt: skip


def parameter_behind(setting: str) -> str | None:
    """The central parameter that AKR_<SETTING> is filled from, or None (from a resource, or not at all:
    test_environment_names_every_setting_and_parses_with_the_defaults catches that)."""
    template = load("central")
    variables = template["Resources"]["RemediatorFunction"]["Properties"]["Environment"]["Variables"]
    node = variables.get(f"AKR_{setting.upper()}", {})
    if "Fn::If" in node:
        node = node["Fn::If"][1]
    name = node.get("Ref") if isinstance(node, dict) else None
    return name if name in template["Parameters"] else None


def constrained_settings() -> list[str]:
    return [
        name
        for name, field in Settings.model_fields.items()
        if field.metadata and parameter_behind(name) is not None
    ]


def cloudformation_accepts(parameter: str, value: str) -> bool:
    try:
        check_parameter(parameter, load("central")["Parameters"][parameter], value)
    except ValueError:
        return False
    return True


def settings_accept(setting: str, value: str) -> bool:
    try:
        load_settings({**SETTINGS_BASE, f"AKR_{setting.upper()}": value})
    except ConfigurationError:
        return False
    return True


def deployed_stack_starts(parameter: str, value: str) -> bool:
    """Whether the Lambda of a stack deployed with this value passes its start-up validation."""
    environment = central({parameter: value}).resources["RemediatorFunction"]["Properties"]["Environment"]
    try:
        load_settings({name: str(v) for name, v in environment["Variables"].items()})
    except ConfigurationError:
        return False
    return True


def integer_candidates(setting: str) -> set[int]:
    """Every integer up to a little past the field's bounds, and some far beyond them."""
    bounds = {-1, 0, 1}
    for constraint in Settings.model_fields[setting].metadata:
        for attribute in ("ge", "gt", "le", "lt"):
            if isinstance(getattr(constraint, attribute, None), int):
                bounds.add(getattr(constraint, attribute))
    top = max(bounds) + 50
    return set(range(-2, top)) | {10**k + d for k in range(2, 13) for d in (-1, 0, 1)} | {604_800}


def test_the_constrained_settings_are_all_checked() -> None:
    assert set(constrained_settings()) >= {
        "member_role_name",
        "max_key_age_days",
        "max_unused_days",
        "grace_days",
        "idempotency_ttl_seconds",
        "protected_user_path",
    }


@pytest.mark.parametrize("setting", constrained_settings())
def test_central_parameters_admit_exactly_what_the_settings_accept(setting: str) -> None:
    """A stack that deploys never fails the Lambda's start-up validation, and every setting the Lambda
    accepts (in canonical form) can be deployed. Constraints come from Settings.model_fields."""
    parameter = parameter_behind(setting)
    assert parameter is not None
    metadata = Settings.model_fields[setting].metadata
    numeric = any(
        isinstance(m, annotated_types.Ge | annotated_types.Le | annotated_types.Gt | annotated_types.Lt)
        for m in metadata
    )
    disagreements = []
    if numeric:
        for number in sorted(integer_candidates(setting)):
            if cloudformation_accepts(parameter, str(number)) != settings_accept(setting, str(number)):
                disagreements.append(str(number))
    for value in ODD_VALUES:
        deploys = cloudformation_accepts(parameter, value)
        if deploys and not deployed_stack_starts(parameter, value):
            disagreements.append(value)
        if not numeric and settings_accept(setting, value) and value and not deploys:
            disagreements.append(value)
    assert disagreements == [], f"{parameter} and Settings.{setting} disagree on {disagreements}"


# ---------------------------------------------------------------- the state table's partitions


class RecordingDynamoDB:
    """Stands in for the DynamoDB client of the adapters: keeps every item they put."""

    def __init__(self) -> None:
        self.items: list[dict[str, Any]] = []

    def put_item(self, **request: Any) -> dict[str, Any]:
        self.items.append(request["Item"])
        return {}


def string_like(value: str, pattern: str) -> bool:
    """IAM's StringLike: case-sensitive, * is any run of characters and ? any one character."""
    regex = "".join(".*" if c == "*" else "." if c == "?" else re.escape(c) for c in pattern)
    return re.fullmatch(regex, value, re.DOTALL) is not None


def test_state_item_access_is_limited_to_the_idempotency_and_claim_partitions() -> None:
    stack = central({"Tracing": "true"})
    state = stack.resolve({"Fn::GetAtt": ["StateTable", "Arn"]})
    on_state: dict[str, set[str]] = {}
    for action, resource, condition in grants(stack):
        if resource == state:
            on_state.setdefault(action, set()).add(condition)
    # Only Query, which reads the exemptions, goes without the LeadingKeys condition.
    assert on_state.pop("dynamodb:Query") == {"{}"}
    assert set(on_state) == {f"dynamodb:{a}" for a in ("GetItem", "PutItem", "UpdateItem", "DeleteItem")}
    (condition,) = {c for conditions in on_state.values() for c in conditions}
    assert json.loads(condition) == OWN_STATE_ITEMS
    patterns = OWN_STATE_ITEMS["ForAllValues:StringLike"]["dynamodb:LeadingKeys"]

    # The partitions the remediator's code writes fall under the patterns ...
    client = RecordingDynamoDB()
    now = datetime(2025, 1, 1, tzinfo=UTC)
    claims = DynamoDBClaims(client=client, table_name="state", clock=lambda: now)  # type: ignore[arg-type]
    assert claims.claim("111111111111", "AKIAIOSFODNN7EXAMPLE", "delete", owner="run-1")
    (claim,) = client.items
    assert "expiration" in claim
    written = [IDEMPOTENCY_PK, claim["pk"]["S"]]
    assert all(any(string_like(pk, p) for p in patterns) for pk in written), written

    # ... and the exemptions, which people write, do not.
    client.items.clear()
    exemptions = DynamoDBExemptions(client=client, table_name="state")  # type: ignore[arg-type]
    exemptions.put(
        Exemption(
            account_id="111111111111",
            user_name="*",
            reason="migration",
            owner="security",
            expires_at=now,
        )
    )
    (exemption,) = client.items
    assert not any(string_like(exemption["pk"]["S"], p) for p in patterns), exemption["pk"]


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
