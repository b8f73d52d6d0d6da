"""Invariants of stacksets/central.yaml: the bus accepts only the organization, the remediator's role grants
exactly the narrow set it needs (the audit log is append-only), the Lambdas match the code's contract
(handlers, environment, tables, metrics), the sweep is wired (schedule, queue, worker as the role member
roles trust), and the dead letters and alarms are wired. These also stand in for what moto ignores on
deployment (see test_deploy_moto.py)."""

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

from remediator.adapters.audit_table import BY_ACCESS_KEY, BY_DAY, BY_REVOKED
from remediator.adapters.breaker_table import PAUSE_KEY, count_params
from remediator.adapters.claims import DynamoDBClaims
from remediator.adapters.exemption_table import DynamoDBExemptions
from remediator.adapters.lifecycle_table import DynamoDBLifecycle
from remediator.breaker import ORGANIZATION
from remediator.composition import IDEMPOTENCY_PK
from remediator.errors import ConfigurationError
from remediator.exemptions import Exemption
from remediator.lifecycle import KeyLifecycle, Stage
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
    "SweepFunctionName",
    "WorkerFunctionName",
    "SweepQueueUrl",
    "SweepDeadLetterQueueUrl",
    "AuditArchiveBucketName",
    "ArchiverFunctionName",
}

# The three functions share one environment; the sweep function alone also gets its queue.
FUNCTIONS = ("RemediatorFunction", "SweepFunction", "WorkerFunction")
QUEUES = ("DeadLetterQueue", "SweepQueue", "SweepDeadLetterQueue", "ArchiveDeadLetterQueue")
SWEEP_ONLY = {"AKR_SWEEP_QUEUE_URL": {"Ref": "SweepQueue"}}


# The only state-table partitions the remediator may read or write item by item.
OWN_STATE_ITEMS = {
    "ForAllValues:StringLike": {"dynamodb:LeadingKeys": ["idempotency#*", "claim#*", "key#*", "breaker#*"]}
}
CHECK_PAUSE = {"ForAllValues:StringLike": {"dynamodb:LeadingKeys": ["control#*"]}}


def central(values: dict[str, str] | None = None) -> Stack:
    return Stack("central", values or {}, account_id=SECURITY_ACCOUNT_ID)


def as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def grants(stack: Stack, role: str = "RemediatorRole", effect: str = "Allow") -> set[tuple[str, str, str]]:
    """(action, resource, condition as JSON) for every Allow (or Deny) of the role, inline and attached."""
    documents = [p["PolicyDocument"] for p in stack.resources[role]["Properties"].get("Policies", [])]
    role_name = stack.resolve({"Ref": role})
    documents += [
        p["Properties"]["PolicyDocument"]
        for p in stack.of_type("AWS::IAM::Policy").values()
        if role_name in p["Properties"]["Roles"]
    ]
    result: set[tuple[str, str, str]] = set()
    for statement in (s for d in documents for s in d["Statement"]):
        assert statement["Effect"] in {"Allow", "Deny"}
        if statement["Effect"] != effect:
            continue
        condition = json.dumps(statement.get("Condition", {}), sort_keys=True)
        for action in as_list(statement["Action"]):
            result.update((action, resource, condition) for resource in as_list(statement["Resource"]))
    return result


def test_bus_policy_admits_only_the_forwarder_roles_of_the_organization() -> None:
    stack = central()
    bus = stack.resources["EventBus"]["Properties"]
    assert bus["Policy"]["Statement"] == [
        {
            "Sid": "OrganizationForwardersPutEvents",
            "Effect": "Allow",
            "Principal": "*",
            "Action": "events:PutEvents",
            "Resource": stack.outputs["EventBusArn"],
            "Condition": {
                "StringEquals": {"aws:PrincipalOrgID": ORGANIZATION_ID},
                "ArnLike": {"aws:PrincipalArn": "arn:aws:iam::*:role/AccessKeyRemediationForwarder"},
            },
        }
    ]
    assert not stack.of_type("AWS::Events::EventBusPolicy")
    # The name the bus admits is the name every member stack gives its forwarder role.
    member = Stack("member")
    assert member.resources["ForwarderRole"]["Properties"]["RoleName"] == "AccessKeyRemediationForwarder"


@pytest.mark.parametrize("tracing", ["false", "true"])
def test_remediator_role_grants_exactly_the_narrow_set(tracing: str) -> None:
    stack = central({"Tracing": tracing})
    out = stack.outputs
    audit, state, sweep_queue = (
        stack.resolve({"Fn::GetAtt": [t, "Arn"]}) for t in ("AuditTable", "StateTable", "SweepQueue")
    )
    log_groups = [
        stack.resources[g]["Properties"]["LogGroupName"] for g in ("RemediatorLogGroup", "WorkerLogGroup")
    ]
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
        ("dynamodb:ConditionCheckItem", state, json.dumps(CHECK_PAUSE, sort_keys=True)),
        ("dynamodb:PartiQLSelect", state, none),
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
        # What the worker's SQS event source polls with (the worker runs as this role).
        *{
            (f"sqs:{a}", sweep_queue, none)
            for a in ("ReceiveMessage", "DeleteMessage", "GetQueueAttributes", "ChangeMessageVisibility")
        },
        *{
            (a, f"arn:aws:logs:eu-west-1:{SECURITY_ACCOUNT_ID}:log-group:{log_group}:log-stream:*", none)
            for a in ("logs:CreateLogStream", "logs:PutLogEvents")
            for log_group in log_groups
        },
    }
    if tracing == "true":
        expected |= {("xray:PutTraceSegments", "*", none), ("xray:PutTelemetryRecords", "*", none)}
    assert grants(stack) == expected
    # The state table's one PartiQL read must name its partitions: a statement that scans is refused.
    # https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/ql-reference.select.html
    full_scan = json.dumps({"Bool": {"dynamodb:FullTableScan": "true"}})
    assert grants(stack, effect="Deny") == {("dynamodb:PartiQLSelect", state, full_scan)}


@pytest.mark.parametrize("tracing", ["false", "true"])
def test_sweep_role_may_list_accounts_queue_them_and_log_only(tracing: str) -> None:
    stack = central({"Tracing": tracing})
    log_group = stack.resources["SweepLogGroup"]["Properties"]["LogGroupName"]
    none = "{}"
    expected = {
        # Takes no resource; works only in a delegated administrator (docs/templates/central.md).
        ("organizations:ListAccounts", "*", none),
        # SendMessageBatch is authorized as sqs:SendMessage. SSE-SQS needs no KMS grant.
        ("sqs:SendMessage", stack.resolve({"Fn::GetAtt": ["SweepQueue", "Arn"]}), none),
        *{
            (a, f"arn:aws:logs:eu-west-1:{SECURITY_ACCOUNT_ID}:log-group:{log_group}:log-stream:*", none)
            for a in ("logs:CreateLogStream", "logs:PutLogEvents")
        },
    }
    if tracing == "true":
        expected |= {("xray:PutTraceSegments", "*", none), ("xray:PutTelemetryRecords", "*", none)}
    assert grants(stack, "SweepRole") == expected
    role = stack.resources["SweepRole"]["Properties"]
    assert role["AssumeRolePolicyDocument"]["Statement"] == [
        {"Effect": "Allow", "Principal": {"Service": "lambda.amazonaws.com"}, "Action": "sts:AssumeRole"}
    ]
    assert "ManagedPolicyArns" not in role


def test_worker_runs_as_the_role_member_roles_trust() -> None:
    # A role of its own could not assume the member roles: they pin aws:PrincipalArn to this one.
    stack = central()
    worker = stack.resources["WorkerFunction"]["Properties"]
    member_role = Stack("member").resources["MemberRole"]["Properties"]
    (trust,) = member_role["AssumeRolePolicyDocument"]["Statement"]
    assert (
        worker["Role"]
        == stack.outputs["RemediatorRoleArn"]
        == trust["Condition"]["ArnEquals"]["aws:PrincipalArn"]
    )
    assert stack.resources["SweepFunction"]["Properties"]["Role"] != worker["Role"]


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


def handler_exists(handler: str) -> bool:
    module, name = handler.rsplit(".", 1)
    path = REPO / (module.replace(".", "/") + ".py")
    if not path.is_file():
        return False
    return name in {n.name for n in ast.parse(path.read_text()).body if isinstance(n, ast.FunctionDef)}


@pytest.mark.parametrize(
    ("logical_id", "handler", "timeout", "concurrency", "role", "log_group"),
    [
        ("SweepFunction", "remediator.sweep_handler.lambda_handler", 300, "1", "SweepRole", "SweepLogGroup"),
        (
            "WorkerFunction",
            "remediator.worker_handler.lambda_handler",
            600,
            "20",
            "RemediatorRole",
            "WorkerLogGroup",
        ),
    ],
)
def test_sweep_functions_match_the_code_contract(
    *, logical_id: str, handler: str, timeout: int, concurrency: str, role: str, log_group: str
) -> None:
    for values in ({"Tracing": "true", "CodeObjectVersion": "v1"}, {}):
        variant = central(values).resources
        # Same package, runtime, architecture, memory and tracing as the remediator.
        for key in ("Runtime", "Architectures", "Code", "MemorySize", "TracingConfig"):
            assert variant[logical_id]["Properties"][key] == variant["RemediatorFunction"]["Properties"][key]
    stack = central()
    function = stack.resources[logical_id]["Properties"]
    assert function["Handler"] == handler
    assert handler_exists(handler), f"{handler} is not a function of the package"
    assert function["Timeout"] == timeout
    assert "ReservedConcurrentExecutions" not in function
    reserving = central({"ReservedConcurrency": "10"}).resources[logical_id]["Properties"]
    assert str(reserving["ReservedConcurrentExecutions"]) == concurrency
    assert function["Role"] == stack.resolve({"Fn::GetAtt": [role, "Arn"]})
    assert function["LoggingConfig"] == {"LogGroup": stack.resources[log_group]["Properties"]["LogGroupName"]}
    # Neither keeps failed asynchronous invocations: the sweep is repeated by the next schedule, the
    # worker is invoked synchronously by its queue (test_sweep_queue_...).
    assert "DeadLetterConfig" not in function


@pytest.mark.parametrize(
    ("reserved", "expected"),
    [("", {}), ("10", {"RemediatorFunction": "10", "SweepFunction": 1, "WorkerFunction": "20"})],
    ids=["by default nothing", "with ReservedConcurrency all three"],
)
def test_concurrency_is_reserved_only_when_asked(reserved: str, expected: dict[str, Any]) -> None:
    # Every reservation comes out of the unreserved pool Lambda keeps at 100 or more: a default that
    # reserves would fail in accounts whose quota is 100 or less (moto has no such quota).
    stack = central({"ReservedConcurrency": reserved})
    reservations = {
        logical_id: function["Properties"]["ReservedConcurrentExecutions"]
        for logical_id, function in stack.of_type("AWS::Lambda::Function").items()
        if "ReservedConcurrentExecutions" in function["Properties"]
    }
    assert reservations == expected
    # Reserved or not, the mapping paces the sweep against IAM.
    mapping = stack.resources["WorkerEventSourceMapping"]
    assert mapping["Properties"]["ScalingConfig"] == {"MaximumConcurrency": "20"}


@pytest.mark.parametrize("value", ["1", "10", "999", "1000"])
def test_reserved_concurrency_accepts_whole_numbers_up_to_1000(value: str) -> None:
    check_parameter("ReservedConcurrency", load("central")["Parameters"]["ReservedConcurrency"], value)


@pytest.mark.parametrize("value", ["0", "1001", "10.5", "-1", " 10", "010"])
def test_reserved_concurrency_refuses_what_lambda_would(value: str) -> None:
    with pytest.raises(ValueError, match="does not match"):
        check_parameter("ReservedConcurrency", load("central")["Parameters"]["ReservedConcurrency"], value)


def environments(template: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {f: template["Resources"][f]["Properties"]["Environment"]["Variables"] for f in FUNCTIONS}


def test_sweep_and_worker_get_the_remediators_environment() -> None:
    # Compared unresolved: the same values and the same conditions, not just the same result today.
    variables = environments(load("central"))
    assert variables["WorkerFunction"] == variables["RemediatorFunction"]
    assert variables["SweepFunction"] == {**variables["RemediatorFunction"], **SWEEP_ONLY}


def test_environment_names_every_setting_and_parses_with_the_defaults() -> None:
    variables = environments(load("central"))
    settings = {f"AKR_{field.upper()}" for field in Settings.model_fields}
    assert {name for v in variables.values() for name in v if name.startswith("AKR_")} == settings
    stack = central()
    for function in FUNCTIONS:
        resolved = stack.resources[function]["Properties"]["Environment"]["Variables"]
        parsed = load_settings({name: str(value) for name, value in resolved.items()})
        assert parsed.audit_table == stack.outputs["AuditTableName"], function
    sweep = stack.resources["SweepFunction"]["Properties"]["Environment"]["Variables"]
    assert sweep["AKR_SWEEP_QUEUE_URL"] == stack.outputs["SweepQueueUrl"]
    environment = stack.resources["RemediatorFunction"]["Properties"]["Environment"]["Variables"]
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


@pytest.mark.parametrize("function", FUNCTIONS)
def test_warn_days_before_reaches_the_environment_only_when_set(function: str) -> None:
    default = central().resources[function]["Properties"]["Environment"]["Variables"]
    assert "AKR_WARN_DAYS_BEFORE" not in default
    assert load_settings({k: str(v) for k, v in default.items()}).policy.warn_days_before == 0
    environment = central({"WarnDaysBefore": "14"}).resources[function]["Properties"]["Environment"][
        "Variables"
    ]
    assert environment["AKR_WARN_DAYS_BEFORE"] == "14"
    assert load_settings({k: str(v) for k, v in environment.items()}).policy.warn_days_before == 14


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
        "warn_days_before",
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

    def update_item(self, **request: Any) -> dict[str, Any]:
        self.items.append(request["Key"])
        return {}


def string_like(value: str, pattern: str) -> bool:
    """IAM's StringLike: case-sensitive, * is any run of characters and ? any one character."""
    regex = "".join(".*" if c == "*" else "." if c == "?" else re.escape(c) for c in pattern)
    return re.fullmatch(regex, value, re.DOTALL) is not None


def test_state_item_access_is_limited_to_the_idempotency_claim_lifecycle_and_counter_partitions() -> None:
    stack = central({"Tracing": "true"})
    state = stack.resolve({"Fn::GetAtt": ["StateTable", "Arn"]})
    on_state: dict[str, set[str]] = {}
    for action, resource, condition in grants(stack):
        if resource == state:
            on_state.setdefault(action, set()).add(condition)
    # Only the PartiQL SELECT, which reads the exemptions with the lifecycles, goes without the LeadingKeys
    # condition (a Deny refuses it any statement that would scan the table).
    assert on_state.pop("dynamodb:PartiQLSelect") == {"{}"}
    # The pause is only checked (in the intent's transaction), never written, by the remediator.
    (check,) = on_state.pop("dynamodb:ConditionCheckItem")
    assert json.loads(check) == CHECK_PAUSE
    assert not string_like(PAUSE_KEY["pk"]["S"], "breaker#*")
    assert string_like(PAUSE_KEY["pk"]["S"], "control#*")
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
    lifecycles = DynamoDBLifecycle(client=client, table_name="state")  # type: ignore[arg-type]
    lifecycles.save(
        KeyLifecycle(
            account_id="111111111111",
            access_key_id="AKIAIOSFODNN7EXAMPLE",
            user_name="alice",
            stage=Stage.DEACTIVATED,
            updated_at=now,
        )
    )
    lifecycle = client.items[1]
    counters = [count_params(scope, now, 1)["Key"]["pk"]["S"] for scope in ("111111111111", ORGANIZATION)]
    written = [IDEMPOTENCY_PK, claim["pk"]["S"], lifecycle["pk"]["S"], *counters]
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


def test_queues_admit_only_our_roles_over_tls() -> None:
    # moto skips AWS::SQS::QueuePolicy: the template is the evidence.
    stack = central()
    assert stack.resources["DeadLetterQueue"]["Properties"]["SqsManagedSseEnabled"] is True
    arn = {q: stack.resolve({"Fn::GetAtt": [q, "Arn"]}) for q in QUEUES}
    role = {
        r: stack.resolve({"Fn::GetAtt": [r, "Arn"]}) for r in ("RemediatorRole", "SweepRole", "ArchiverRole")
    }
    (policy,) = stack.of_type("AWS::SQS::QueuePolicy").values()
    assert policy["Properties"]["Queues"] == [stack.resolve({"Ref": q}) for q in QUEUES]
    by_sid = {s["Sid"]: s for s in policy["Properties"]["PolicyDocument"]["Statement"]}
    allow = by_sid.pop("EventBridgeDeadLetters")
    assert (allow["Effect"], allow["Principal"], allow["Resource"]) == (
        "Allow",
        {"Service": "events.amazonaws.com"},
        arn["DeadLetterQueue"],
    )
    rules = [
        stack.outputs["RemediationRuleArn"],
        stack.resolve({"Fn::GetAtt": ["SweepRule", "Arn"]}),
        stack.resolve({"Fn::GetAtt": ["ReactivationRule", "Arn"]}),
    ]
    assert allow["Condition"] == {"ArnEquals": {"aws:SourceArn": rules}}
    assert {sid: s["Effect"] for sid, s in by_sid.items()} == dict.fromkeys(by_sid, "Deny")
    assert {sid: s["Principal"] for sid, s in by_sid.items()} == dict.fromkeys(by_sid, "*")
    tls = by_sid.pop("DenyInsecureTransport")
    denied = {sid: (s["Resource"], s["Action"], s["Condition"]) for sid, s in by_sid.items()}
    # IAM principals: only the remediator's role may send dead letters, only the sweep's role may queue
    # accounts, only the worker (the remediator's role) may take them, and none may send to the sweep's
    # dead-letter queue (SQS moves them there). Service principals have no aws:PrincipalArn (Null).
    not_ours = {"Null": {"aws:PrincipalArn": "false"}}
    assert denied == {
        "DeadLettersFromTheRemediatorOnly": (
            arn["DeadLetterQueue"],
            "sqs:SendMessage",
            {"ArnNotEquals": {"aws:PrincipalArn": role["RemediatorRole"]}, **not_ours},
        ),
        "SweepSendsOnly": (
            arn["SweepQueue"],
            "sqs:SendMessage",
            {"ArnNotEquals": {"aws:PrincipalArn": role["SweepRole"]}},
        ),
        "WorkerConsumesOnly": (
            arn["SweepQueue"],
            ["sqs:ChangeMessageVisibility", "sqs:DeleteMessage", "sqs:ReceiveMessage"],
            {"ArnNotEquals": {"aws:PrincipalArn": role["RemediatorRole"]}},
        ),
        "NoPrincipalSendsDeadLetters": (arn["SweepDeadLetterQueue"], "sqs:SendMessage", not_ours),
        # The archiver's mapping sends its failed batches' descriptions with the function's role.
        "ArchiverFailuresOnly": (
            arn["ArchiveDeadLetterQueue"],
            "sqs:SendMessage",
            {"ArnNotEquals": {"aws:PrincipalArn": role["ArchiverRole"]}},
        ),
    }
    assert (tls["Action"], tls["Resource"], tls["Condition"]) == (
        "sqs:*",
        [arn[q] for q in QUEUES],
        {"Bool": {"aws:SecureTransport": "false"}},
    )


def test_the_roles_the_queue_policy_admits_are_those_that_use_the_queues() -> None:
    stack = central()
    sweep = stack.resources["SweepFunction"]["Properties"]["Role"]
    worker = stack.resources["WorkerFunction"]["Properties"]["Role"]
    remediator = stack.resources["RemediatorFunction"]["Properties"]
    assert stack.resolve(sweep) == stack.resolve({"Fn::GetAtt": ["SweepRole", "Arn"]})
    assert stack.resolve(worker) == stack.resolve(remediator["Role"])
    assert stack.resolve(remediator["Role"]) == stack.resolve({"Fn::GetAtt": ["RemediatorRole", "Arn"]})
    assert remediator["DeadLetterConfig"] == {"TargetArn": stack.outputs["DeadLetterQueueArn"]}


@pytest.mark.parametrize(
    ("values", "expression", "state"),
    [
        ({}, "rate(1 day)", "ENABLED"),
        ({"SweepSchedule": "cron(0 3 * * ? *)", "EnableSweep": "false"}, "cron(0 3 * * ? *)", "DISABLED"),
    ],
)
def test_schedule_starts_the_sweep_with_retries_and_a_dead_letter_queue(
    values: dict[str, str], expression: str, state: str
) -> None:
    stack = central(values)
    rule = stack.resources["SweepRule"]["Properties"]
    assert (rule["ScheduleExpression"], rule["State"]) == (expression, state)
    # Schedules run on the default bus, not on the organization's.
    assert "EventBusName" not in rule and "EventPattern" not in rule
    assert rule["Targets"] == [
        {
            "Id": "sweep",
            "Arn": stack.resolve({"Fn::GetAtt": ["SweepFunction", "Arn"]}),
            "RetryPolicy": {"MaximumEventAgeInSeconds": 3600, "MaximumRetryAttempts": 185},
            "DeadLetterConfig": {"Arn": stack.outputs["DeadLetterQueueArn"]},
        }
    ]
    assert stack.resources["SweepInvokePermission"]["Properties"] == {
        "Action": "lambda:InvokeFunction",
        "FunctionName": stack.outputs["SweepFunctionName"],
        "Principal": "events.amazonaws.com",
        "SourceArn": stack.resolve({"Fn::GetAtt": ["SweepRule", "Arn"]}),
    }


@pytest.mark.parametrize(
    "expression",
    ["rate(1 day)", "rate(1 minute)", "rate(12 hours)", "rate(30 minutes)", "rate(7 days)",
     "cron(0 3 * * ? *)", "cron(15 2 ? * MON-FRI *)", "cron(0/30 8-17 ? * 2-6 *)"],
)  # fmt: skip
def test_sweep_schedule_accepts_rate_and_cron_expressions(expression: str) -> None:
    assert central({"SweepSchedule": expression}).parameters["SweepSchedule"] == expression


@pytest.mark.parametrize(
    "expression",
    ["", "daily", "rate(0 days)", "rate(1 days)", "rate(2 day)", "rate(01 day)", "rate(1 week)",
     "rate(1 day) ", "cron()", "cron(0 3 * * ?)", "cron(0 3 * * ? * *)", "cron(0 3 * * ? (*))",
     "at(2025-01-01T00:00:00)"],
)  # fmt: skip
def test_sweep_schedule_rejects_what_eventbridge_would(expression: str) -> None:
    with pytest.raises(ValueError, match="does not match"):
        _ = central({"SweepSchedule": expression}).parameters


@pytest.mark.parametrize(("reserved", "receives"), [("", 5), ("10", 3)])
def test_sweep_queue_outlasts_the_worker_and_redrives_to_its_dead_letter_queue(
    reserved: str, receives: int
) -> None:
    stack = central({"ReservedConcurrency": reserved})
    queue = stack.resources["SweepQueue"]["Properties"]
    dead_letters = stack.resources["SweepDeadLetterQueue"]["Properties"]
    # At least six times the function timeout, as AWS advises for an SQS event source
    # (https://docs.aws.amazon.com/lambda/latest/dg/services-sqs-configure.html); no batching window.
    assert queue["VisibilityTimeout"] == 6 * stack.resources["WorkerFunction"]["Properties"]["Timeout"]
    assert queue["MessageRetentionPeriod"] == 4 * 86400
    assert queue["RedrivePolicy"] == {
        "deadLetterTargetArn": stack.resolve({"Fn::GetAtt": ["SweepDeadLetterQueue", "Arn"]}),
        # AWS advises 5 or more against throttled receives; reserved, the worker cannot be throttled.
        "maxReceiveCount": receives,
    }
    # A standard queue's messages keep their first enqueue time in the DLQ: it must keep them longer.
    assert dead_letters["MessageRetentionPeriod"] == 14 * 86400 > queue["MessageRetentionPeriod"]
    for properties in (queue, dead_letters):
        assert properties["SqsManagedSseEnabled"] is True
        assert not {"FifoQueue", "KmsMasterKeyId", "QueueName"} & set(properties)


def test_worker_reads_the_sweep_queue_with_partial_batch_failures() -> None:
    stack = central({"WorkerConcurrency": "50", "ReservedConcurrency": "10"})
    mapping = stack.resources["WorkerEventSourceMapping"]
    assert mapping["Properties"] == {
        "EventSourceArn": stack.resolve({"Fn::GetAtt": ["SweepQueue", "Arn"]}),
        "FunctionName": stack.outputs["WorkerFunctionName"],
        "BatchSize": 5,
        "MaximumBatchingWindowInSeconds": 0,
        "FunctionResponseTypes": ["ReportBatchItemFailures"],
        "ScalingConfig": {"MaximumConcurrency": "50"},
    }
    # The mapping never invokes more workers than are reserved, so no message is throttled into the DLQ.
    assert stack.resources["WorkerFunction"]["Properties"]["ReservedConcurrentExecutions"] == "50"
    spec = load("central")["Parameters"]["WorkerConcurrency"]
    assert (spec["Type"], spec["Default"], spec["MinValue"], spec["MaxValue"]) == ("Number", 20, 2, 1000)


def test_every_function_logs_to_its_own_encrypted_group_the_key_admits() -> None:
    stack = central()
    groups = {
        g["Properties"]["LogGroupName"]: g["Properties"]
        for g in stack.of_type("AWS::Logs::LogGroup").values()
    }
    # The retained groups end with the first part of the stack id (tests/stacksets/cfn.py STACK_UUID).
    assert set(groups) == {
        "/aws/lambda/akr-remediator-51af3dc0",
        "/aws/lambda/akr-sweep",
        "/aws/lambda/akr-worker-51af3dc0",
        "/aws/lambda/akr-archiver-51af3dc0",
        "/aws/lambda/akr-reactivation-watch-51af3dc0",
    }
    functions = stack.of_type("AWS::Lambda::Function").values()
    assert {f["Properties"]["LoggingConfig"]["LogGroup"] for f in functions} == set(groups)
    for properties in groups.values():
        assert (properties["KmsKeyId"], properties["RetentionInDays"]) == (stack.outputs["KeyArn"], "365")
    (logs,) = [
        s
        for s in stack.resources["Key"]["Properties"]["KeyPolicy"]["Statement"]
        if s["Sid"] == "CloudWatchLogsEncrypt"
    ]
    admitted = logs["Condition"]["StringEquals"]["kms:EncryptionContext:aws:logs:arn"]
    assert sorted(admitted) == sorted(
        f"arn:aws:logs:eu-west-1:{SECURITY_ACCOUNT_ID}:log-group:{g}" for g in groups
    )


@pytest.mark.parametrize(
    ("name", "values"),
    [("central", {}), ("member", {"CreateConfigRecorder": "true"})],
    ids=["central", "member"],
)
def test_no_retained_resource_keeps_a_name_that_a_later_stack_would_reuse(
    name: str, values: dict[str, str]
) -> None:
    # A retained resource with a fixed name makes every later create of the stack fail ("already
    # exists"): after akr destroy, and, under DeletionPolicy Retain, after a failed first create too.
    # moto deletes RetainExceptOnCreate resources with their stack, so only the template can show this.
    first = Stack(name, values)
    again = Stack(name, values, stack_uuid="9e2c4b1a-0f3d-4c5e-8a7b-6d5e4f3a2b1c")
    clashes = []
    for logical_id, resource in first.template["Resources"].items():
        if resource.get("DeletionPolicy") not in ("Retain", "RetainExceptOnCreate"):
            continue
        named = {k: v for k, v in first.resources[logical_id]["Properties"].items() if k.endswith("Name")}
        clashes += [
            f"{logical_id}.{k}" for k, v in named.items() if again.resources[logical_id]["Properties"][k] == v
        ]
    assert clashes == []


def test_logs_and_their_key_are_kept_except_when_their_first_create_rolls_back() -> None:
    resources = load("central")["Resources"]
    for logical_id in ("RemediatorLogGroup", "WorkerLogGroup", "ArchiverLogGroup", "Key"):
        policies = (resources[logical_id]["DeletionPolicy"], resources[logical_id]["UpdateReplacePolicy"])
        assert policies == ("RetainExceptOnCreate", "Retain"), logical_id


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
    assert set(indexes) == {BY_ACCESS_KEY, BY_DAY, BY_REVOKED}
    assert indexes[BY_REVOKED]["KeySchema"] == [
        {"AttributeName": "revokes", "KeyType": "HASH"},
        {"AttributeName": "record_id", "KeyType": "RANGE"},
    ]
    assert indexes[BY_REVOKED]["Projection"] == {"ProjectionType": "KEYS_ONLY"}
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
        "revokes": "S",
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
        (
            a["Properties"]["Namespace"],
            a["Properties"]["MetricName"],
            *(d["Value"] for d in a["Properties"]["Dimensions"]),
        ): a["Properties"]
        for a in stack.of_type("AWS::CloudWatch::Alarm").values()
    }
    out = stack.outputs
    # The worker and the remediator share POWERTOOLS_SERVICE_NAME: one failure alarm covers both.
    assert set(alarms) == {
        *(
            ("AWS/SQS", "ApproximateNumberOfMessagesVisible", out[queue].rsplit("/", 1)[1])
            for queue in ("DeadLetterQueueUrl", "SweepDeadLetterQueueUrl", "ArchiveDeadLetterQueueUrl")
        ),
        *(
            ("AWS/Lambda", "Errors", out[function])
            for function in (
                "RemediatorFunctionName",
                "SweepFunctionName",
                "WorkerFunctionName",
                "ArchiverFunctionName",
                "ReactivationWatchFunctionName",
            )
        ),
        *(
            (environment["POWERTOOLS_METRICS_NAMESPACE"], metric, environment["POWERTOOLS_SERVICE_NAME"])
            for metric in (
                "RemediationFailures",
                "ExemptionsRejected",
                "SweepFoundNoAccounts",
                "AuditRecordsAltered",
                "CircuitBreakerTripped",
                "UnexplainedReactivations",
            )
        ),
    }
    for alarm in alarms.values():
        assert (alarm["Threshold"], alarm["ComparisonOperator"]) == (0, "GreaterThanThreshold")
        assert alarm["AlarmActions"] == [out["NotificationTopicArn"]]
        assert alarm["TreatMissingData"] == "notBreaching"
    # Powertools adds service=<POWERTOOLS_SERVICE_NAME> to every metric it emits.
    failures = alarms[
        (
            environment["POWERTOOLS_METRICS_NAMESPACE"],
            "RemediationFailures",
            environment["POWERTOOLS_SERVICE_NAME"],
        )
    ]
    assert failures["Dimensions"] == [{"Name": "service", "Value": environment["POWERTOOLS_SERVICE_NAME"]}]
    assert {a["Dimensions"][0]["Name"] for a in alarms.values()} == {"QueueName", "FunctionName", "service"}


def test_topic_is_encrypted_with_a_key_cloudwatch_may_use() -> None:
    stack = central()
    assert stack.resources["NotificationTopic"]["Properties"]["KmsMasterKeyId"] == stack.outputs["KeyArn"]
    key = stack.resources["Key"]["Properties"]
    assert key["EnableKeyRotation"] is True
    principals = [s["Principal"] for s in key["KeyPolicy"]["Statement"]]
    assert {"Service": "cloudwatch.amazonaws.com"} in principals
    assert "*" not in principals and {"AWS": "*"} not in principals


def test_key_policy_pins_each_service_to_this_account() -> None:
    statements = {s["Sid"]: s for s in central().resources["Key"]["Properties"]["KeyPolicy"]["Statement"]}
    assert statements["CloudWatchAlarmsPublish"]["Condition"] == {
        "StringEquals": {"aws:SourceAccount": SECURITY_ACCOUNT_ID},
        "ArnLike": {"aws:SourceArn": f"arn:aws:cloudwatch:eu-west-1:{SECURITY_ACCOUNT_ID}:alarm:*"},
    }
    # CloudWatch Logs: the encryption context names this account's log groups only.
    (context,) = statements["CloudWatchLogsEncrypt"]["Condition"]["StringEquals"].values()
    assert context and all(f":{SECURITY_ACCOUNT_ID}:log-group:" in arn for arn in context)
    services = [s for s in statements.values() if "Service" in s["Principal"]]
    assert {s["Sid"] for s in services} == {"CloudWatchAlarmsPublish", "CloudWatchLogsEncrypt"}


def test_outputs_include_what_the_cli_and_member_stacks_need() -> None:
    assert set(central().outputs) >= REQUIRED_OUTPUTS


@pytest.mark.parametrize("name", ["central", "member"])
def test_event_buses_are_referenced_by_getatt_only(name: str) -> None:
    # moto breaks on Ref to an AWS::Events::EventBus; GetAtt .Name and .Arn work in both.
    template = load(name)
    buses = {k for k, v in template["Resources"].items() if v["Type"] == "AWS::Events::EventBus"}
    text = json.dumps(template)
    assert not [bus for bus in buses if json.dumps({"Ref": bus}) in text or "${" + bus + "}" in text]
