"""The templates under stacksets/, with CloudFormation's tags understood (cfn-lint's decoder) and their
intrinsic functions resolved for one set of parameter values: what CloudFormation would hand to each
resource, with made-up but well-formed physical ids. Enough of CloudFormation for static invariants,
parliament and the event-pattern tests; the moto deployment (test_deploy_moto.py) checks the real thing
where moto models it."""

from __future__ import annotations

import copy
import json
import math
import re
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from functools import cache, cached_property
from pathlib import Path
from typing import Any, Final

from cfnlint.decode import cfn_yaml

REPO = Path(__file__).resolve().parents[2]
TEMPLATES = REPO / "stacksets"
TEMPLATE_NAMES = ("member", "central", "organization")

ACCOUNT_ID = "111111111111"
SECURITY_ACCOUNT_ID = "222222222222"
ORGANIZATION_ID = "o-a1b2c3d4e5"
REGION: Final = "eu-west-1"
PARTITION = "aws"
STACK_NAME = "akr"
STACK_UUID = "51af3dc0-da77-11e4-872e-1234567db123"

# Values for the parameters that have no default, valid against their AllowedPattern.
REQUIRED_PARAMETERS: dict[str, str] = {
    "SecurityAccountId": SECURITY_ACCOUNT_ID,
    "OrganizationId": ORGANIZATION_ID,
    "CentralEventBusArn": f"arn:aws:events:{REGION}:{SECURITY_ACCOUNT_ID}:event-bus/access-key-remediation",
    "CodeBucket": "akr-artifacts-222222222222",
    "CodeKey": "remediator/0123abcd.zip",
    "MemberTemplateUrl": "https://akr-artifacts-222222222222.s3.eu-west-1.amazonaws.com/member.yaml",
    "TargetOrganizationalUnitIds": "ou-ab12-cdefgh34",
    "HomeRegion": REGION,
}

# Policy documents sit under these property names (IAM roles and policies, key, bus, queue, bucket).
POLICY_PROPERTIES = ("AssumeRolePolicyDocument", "PolicyDocument", "KeyPolicy", "Policy")


class _NoValue:
    def __repr__(self) -> str:
        return "AWS::NoValue"


NO_VALUE: Any = _NoValue()


@cache
def _load(name: str) -> str:
    # A JSON round trip turns cfn-lint's node classes into plain dicts, lists and strings.
    return json.dumps(cfn_yaml.load(str(TEMPLATES / f"{name}.yaml")))


def load(name: str) -> dict[str, Any]:
    """The raw template (intrinsic functions unresolved), a fresh copy."""
    template: dict[str, Any] = json.loads(_load(name))
    return template


@dataclass(frozen=True)
class Stack:
    """One template resolved for one set of parameter values."""

    name: str
    overrides: Mapping[str, str] = field(default_factory=dict)
    account_id: str = ACCOUNT_ID
    region: str = REGION
    """AWS::Region: member.yaml's reactivation forwarding rule exists only in GlobalEventsRegion."""
    stack_uuid: str = STACK_UUID
    """The last part of AWS::StackId: another value is another stack of the same name."""

    @cached_property
    def template(self) -> dict[str, Any]:
        return load(self.name)

    @cached_property
    def parameters(self) -> dict[str, str]:
        declared: dict[str, Any] = self.template["Parameters"]
        unknown = set(self.overrides) - set(declared)
        if unknown:
            raise KeyError(f"{self.name}.yaml has no parameters {sorted(unknown)}")
        values = {}
        for name, spec in declared.items():
            if name in self.overrides:
                value = self.overrides[name]
            elif "Default" in spec:
                value = str(spec["Default"])
            else:
                value = REQUIRED_PARAMETERS[name]
            check_parameter(name, spec, value)
            values[name] = value
        return values

    def condition(self, name: str) -> bool:
        return bool(self._evaluate_condition(self.template["Conditions"][name]))

    @cached_property
    def resources(self) -> dict[str, dict[str, Any]]:
        """Logical id -> {"Type", "Properties", ...} for the resources whose Condition holds."""
        created = {}
        for logical_id, resource in self.template["Resources"].items():
            if "Condition" in resource and not self.condition(resource["Condition"]):
                continue
            resolved = copy.deepcopy(resource)
            resolved["Properties"] = self.resolve(resource.get("Properties", {}))
            created[logical_id] = resolved
        return created

    @cached_property
    def outputs(self) -> dict[str, Any]:
        return {
            name: self.resolve(output["Value"])
            for name, output in self.template.get("Outputs", {}).items()
            if "Condition" not in output or self.condition(output["Condition"])
        }

    def of_type(self, resource_type: str) -> dict[str, dict[str, Any]]:
        return {k: v for k, v in self.resources.items() if v["Type"] == resource_type}

    def policy_documents(self) -> Iterator[tuple[str, dict[str, Any]]]:
        """(where, document) for every IAM policy document the stack creates."""
        for logical_id, resource in self.resources.items():
            properties = resource["Properties"]
            for key in POLICY_PROPERTIES:
                if isinstance(properties.get(key), dict) and "Statement" in properties[key]:
                    yield f"{self.name}.{logical_id}.{key}", properties[key]
            for policy in properties.get("Policies", []):
                yield f"{self.name}.{logical_id}.Policies.{policy['PolicyName']}", policy["PolicyDocument"]

    # ------------------------------------------------------------------ intrinsic functions

    def resolve(self, node: Any) -> Any:
        if isinstance(node, list):
            return [item for item in (self.resolve(v) for v in node) if item is not NO_VALUE]
        if not isinstance(node, dict):
            return node
        if len(node) == 1:
            ((key, arg),) = node.items()
            function = _FUNCTIONS.get(key)
            if function is not None:
                return function(self, arg)
        return {k: v for k, v in ((k, self.resolve(v)) for k, v in node.items()) if v is not NO_VALUE}

    def _evaluate_condition(self, node: Any) -> Any:
        if isinstance(node, dict) and len(node) == 1:
            ((key, arg),) = node.items()
            if key == "Condition":
                return self.condition(arg)
            if key == "Fn::Equals":
                left, right = (self._evaluate_condition(v) for v in arg)
                return str(left) == str(right)
            if key == "Fn::Not":
                return not self._evaluate_condition(arg[0])
            if key == "Fn::And":
                return all(self._evaluate_condition(v) for v in arg)
            if key == "Fn::Or":
                return any(self._evaluate_condition(v) for v in arg)
        return self.resolve(node)

    def _ref(self, name: str) -> Any:
        pseudo = {
            "AWS::AccountId": self.account_id,
            "AWS::Region": self.region,
            "AWS::Partition": PARTITION,
            "AWS::StackName": STACK_NAME,
            "AWS::StackId": (
                f"arn:{PARTITION}:cloudformation:{self.region}:{self.account_id}:stack/{STACK_NAME}/"
                + self.stack_uuid
            ),
            "AWS::URLSuffix": "amazonaws.com",
            "AWS::NoValue": NO_VALUE,
        }
        if name in pseudo:
            return pseudo[name]
        if name in self.template["Parameters"]:
            value = self.parameters[name]
            if self.template["Parameters"][name]["Type"] == "CommaDelimitedList":
                return value.split(",")
            return value
        return self._physical_id(name)

    def _properties(self, logical_id: str) -> dict[str, Any]:
        properties: dict[str, Any] = self.resolve(
            self.template["Resources"][logical_id].get("Properties", {})
        )
        return properties

    def _physical_id(self, logical_id: str) -> str:
        resource_type = self.template["Resources"][logical_id]["Type"]
        properties = self._properties(logical_id)
        generated = f"{STACK_NAME}-{logical_id}-ABCDEF123456"
        arn = f"arn:{PARTITION}:{{}}:{self.region}:{self.account_id}:{{}}"
        match resource_type:
            case "AWS::IAM::Role":
                return str(properties.get("RoleName", generated))
            case "AWS::Events::EventBus":
                return str(properties["Name"])
            case "AWS::Events::Rule":
                return str(properties.get("Name", generated))
            case "AWS::Logs::LogGroup":
                return str(properties.get("LogGroupName", generated))
            case "AWS::SNS::Topic":
                return arn.format("sns", generated)
            case "AWS::SQS::Queue":
                return f"https://sqs.{self.region}.amazonaws.com/{self.account_id}/{generated}"
            case "AWS::KMS::Key":
                return "0a1b2c3d-4e5f-4a6b-8c7d-9e0f1a2b3c4d"
            case "AWS::S3::Bucket":
                return generated.lower()
            case "AWS::Lambda::Alias":  # Ref: the alias ARN
                return arn.format("lambda", f"function:{properties['FunctionName']}:{properties['Name']}")
            case _:
                return generated

    def _get_att(self, logical_id: str, attribute: str) -> str:
        resource_type = self.template["Resources"][logical_id]["Type"]
        physical_id = self._physical_id(logical_id)
        arn = f"arn:{PARTITION}:{{}}:{self.region}:{self.account_id}:{{}}"
        queue = physical_id.rsplit("/", 1)[-1]
        values: dict[tuple[str, str], Callable[[], str]] = {
            ("AWS::IAM::Role", "Arn"): lambda: f"arn:{PARTITION}:iam::{self.account_id}:role/{physical_id}",
            ("AWS::DynamoDB::Table", "Arn"): lambda: arn.format("dynamodb", f"table/{physical_id}"),
            ("AWS::DynamoDB::Table", "StreamArn"): lambda: arn.format(
                "dynamodb", f"table/{physical_id}/stream/2026-01-01T00:00:00.000"
            ),
            ("AWS::SQS::Queue", "Arn"): lambda: arn.format("sqs", queue),
            ("AWS::SQS::Queue", "QueueName"): lambda: queue,
            ("AWS::KMS::Key", "Arn"): lambda: arn.format("kms", f"key/{physical_id}"),
            ("AWS::Logs::LogGroup", "Arn"): lambda: arn.format("logs", f"log-group:{physical_id}:*"),
            ("AWS::Lambda::Function", "Arn"): lambda: arn.format("lambda", f"function:{physical_id}"),
            ("AWS::Lambda::Version", "Version"): lambda: "1",
            ("AWS::Lambda::CodeSigningConfig", "CodeSigningConfigArn"): lambda: arn.format(
                "lambda", "code-signing-config:csc-0123456789abcdef0"
            ),
            ("AWS::Events::EventBus", "Name"): lambda: physical_id,
            ("AWS::Events::EventBus", "Arn"): lambda: arn.format("events", f"event-bus/{physical_id}"),
            ("AWS::Events::Rule", "Arn"): lambda: self._rule_arn(logical_id, physical_id),
            ("AWS::S3::Bucket", "Arn"): lambda: f"arn:{PARTITION}:s3:::{physical_id}",
        }
        value = values.get((resource_type, attribute))
        if value is None:
            raise KeyError(f"tests/stacksets/cfn.py does not model {resource_type}.{attribute}")
        return value()

    def _rule_arn(self, logical_id: str, physical_id: str) -> str:
        bus = self._properties(logical_id).get("EventBusName", "default")
        path = "rule/" + (f"{bus}/" if bus != "default" else "") + physical_id
        return f"arn:{PARTITION}:events:{self.region}:{self.account_id}:{path}"

    def _sub(self, arg: Any) -> str:
        text, variables = (arg, {}) if isinstance(arg, str) else (arg[0], self.resolve(arg[1]))

        def replace(match: re.Match[str]) -> str:
            name = match.group(1)
            if name.startswith("!"):
                return "${" + name[1:] + "}"
            if name in variables:
                return str(variables[name])
            if "." in name and not name.startswith("AWS::"):
                return self._get_att(*name.split(".", 1))
            return str(self._ref(name))

        return re.sub(r"\$\{([^}]+)\}", replace, text)


def _select(stack: Stack, arg: Any) -> Any:
    index, values = stack.resolve(arg[0]), stack.resolve(arg[1])
    return values[int(index)]


def _get_att(stack: Stack, arg: Any) -> str:
    logical_id, attribute = arg.split(".", 1) if isinstance(arg, str) else arg
    return stack._get_att(logical_id, attribute)


_FUNCTIONS: dict[str, Any] = {
    "Ref": lambda stack, arg: stack._ref(arg),
    "Fn::GetAtt": _get_att,
    "Fn::Sub": lambda stack, arg: stack._sub(arg),
    "Fn::Join": lambda stack, arg: stack.resolve(arg[0]).join(str(v) for v in stack.resolve(arg[1])),
    "Fn::Split": lambda stack, arg: stack.resolve(arg[1]).split(stack.resolve(arg[0])),
    "Fn::Select": _select,
    "Fn::If": lambda stack, arg: stack.resolve(arg[1] if stack.condition(arg[0]) else arg[2]),
}


def check_parameter(name: str, spec: Mapping[str, Any], value: str) -> None:
    """CloudFormation's own parameter validation, so that test values are values a deploy would accept.

    AllowedPattern must match the whole value. CloudFormation's patterns are Java regular expressions, whose
    \\w and \\d are ASCII only: re.ASCII gives Python's the same meaning."""
    if "AllowedValues" in spec and value not in [str(v) for v in spec["AllowedValues"]]:
        raise ValueError(f"{name}={value!r} is not one of {spec['AllowedValues']}")
    if "AllowedPattern" in spec and not re.fullmatch(spec["AllowedPattern"], value, re.ASCII):
        raise ValueError(f"{name}={value!r} does not match {spec['AllowedPattern']}")
    if spec["Type"] == "Number":
        number = float(value)  # a Number parameter takes an integer or a float
        if not math.isfinite(number):
            raise ValueError(f"{name}={value!r} is not a number")
        if not spec.get("MinValue", number) <= number <= spec.get("MaxValue", number):
            raise ValueError(f"{name}={value!r} is out of range")
