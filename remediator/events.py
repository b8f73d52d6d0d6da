"""The EventBridge "Config Rules Compliance Change" event, and the checks that make it ours.

Shapes follow real events (see the fixtures in tests/events/): `oldEvaluationResult` is absent on a first
evaluation, `annotation` and `resultToken` may be absent or null. The envelope `account` is set by
EventBridge and always required: whoever can invoke the function directly could otherwise name any account
in the detail (moto drops it on delivery; the demo's stand-ins and the test fixtures keep it). Unknown
fields are ignored; anything that would make us act on the wrong thing is an error.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from datetime import datetime
from enum import StrEnum
from typing import Any, Literal

from aws_lambda_powertools.utilities.parser import parse
from aws_lambda_powertools.utilities.parser.models import EventBridgeModel
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator
from pydantic.alias_generators import to_camel

from remediator.errors import EventRejectedError
from remediator.facts import AccountId

_RULE_ARN = re.compile(r"^arn:aws[\w-]*:config:(?P<region>[\w-]+):(?P<account>[0-9]{12}):config-rule/")


class ComplianceType(StrEnum):
    COMPLIANT = "COMPLIANT"
    NON_COMPLIANT = "NON_COMPLIANT"
    NOT_APPLICABLE = "NOT_APPLICABLE"
    INSUFFICIENT_DATA = "INSUFFICIENT_DATA"


class _Model(BaseModel):
    model_config = ConfigDict(frozen=True, alias_generator=to_camel, populate_by_name=True)


class EvaluationResultQualifier(_Model):
    config_rule_name: str
    resource_type: str
    resource_id: str
    evaluation_mode: str | None = None


class EvaluationResultIdentifier(_Model):
    evaluation_result_qualifier: EvaluationResultQualifier
    ordering_timestamp: datetime | None = None


class EvaluationResult(_Model):
    evaluation_result_identifier: EvaluationResultIdentifier
    compliance_type: ComplianceType
    result_recorded_time: datetime | None = None
    config_rule_invoked_time: datetime | None = None
    annotation: str | None = None
    result_token: str | None = None


class ComplianceChangeDetail(_Model):
    resource_id: str = Field(min_length=1, max_length=128)
    aws_region: str = Field(pattern=r"^[a-z]{2}(-[a-z]+)+-[0-9]$")
    aws_account_id: AccountId
    config_rule_name: str = Field(min_length=1, max_length=128)
    record_version: str | None = None
    config_rule_arn: str | None = Field(default=None, alias="configRuleARN")
    message_type: Literal["ComplianceChangeNotification"]
    new_evaluation_result: EvaluationResult
    old_evaluation_result: EvaluationResult | None = None
    notification_creation_time: datetime | None = None
    resource_type: Literal["AWS::IAM::User"]

    @model_validator(mode="after")
    def _consistent(self) -> ComplianceChangeDetail:
        qualifier = self.new_evaluation_result.evaluation_result_identifier.evaluation_result_qualifier
        if qualifier.resource_id != self.resource_id:
            raise ValueError(
                f"newEvaluationResult names resource {qualifier.resource_id}, detail names {self.resource_id}"
            )
        if self.config_rule_arn is not None:
            match = _RULE_ARN.match(self.config_rule_arn)
            if match is None:
                raise ValueError(f"configRuleARN {self.config_rule_arn!r} is not a Config rule ARN")
            if match["account"] != self.aws_account_id:
                raise ValueError(
                    f"configRuleARN belongs to account {match['account']}, "
                    f"detail.awsAccountId is {self.aws_account_id}"
                )
        return self


class ComplianceChangeEvent(EventBridgeModel):
    model_config = ConfigDict(frozen=True, populate_by_name=True)

    source: Literal["aws.config"]
    detail_type: Literal["Config Rules Compliance Change"] = Field(alias="detail-type")
    account: AccountId | None = None  # type: ignore[assignment]  # checked below, with the other fields
    resources: list[str] = Field(default_factory=list)
    detail: ComplianceChangeDetail

    @model_validator(mode="after")
    def _not_forged(self) -> ComplianceChangeEvent:
        # No setting turns this off: an event without the envelope account did not come through the bus.
        if not self.account:
            raise ValueError(
                "the envelope account is missing: EventBridge always sets it, so this event did not come "
                "through the bus"
            )
        # AWS sets the envelope account; a detail that names another account is forged or misrouted.
        if self.account != self.detail.aws_account_id:
            raise ValueError(
                f"envelope account {self.account} differs from detail.awsAccountId "
                f"{self.detail.aws_account_id}"
            )
        return self

    @property
    def compliance(self) -> ComplianceType:
        return self.detail.new_evaluation_result.compliance_type

    @property
    def dedupe_key(self) -> dict[str, str]:
        """What makes two deliveries the same compliance change. The envelope id may change on a
        bus-to-bus hop, so it is not part of it."""
        recorded = self.detail.new_evaluation_result.result_recorded_time
        return {
            "account": self.detail.aws_account_id,
            "resource": self.detail.resource_id,
            "rule": self.detail.config_rule_name,
            "recorded": recorded.isoformat() if recorded else self.time.isoformat(),
        }


def rule_matches(rule_name: str, prefixes: Iterable[str]) -> bool:
    """True when the rule name starts with one of the prefixes: the same test as the EventBridge
    patterns' prefix matchers, so that what the buses route and what is accepted agree. Conformance packs
    append `-conformance-pack-<id>`, which a prefix allows; Security Hub's `securityhub-<rule>-<hex>` is
    accepted by configuring the prefix `securityhub-<rule>-`."""
    return any(rule_name.startswith(prefix) for prefix in prefixes)


def parse_compliance_change(raw: Any, rule_name_prefixes: Sequence[str]) -> ComplianceChangeEvent:
    """Validate a raw event; raise EventRejectedError with every problem found, before any AWS call."""
    if not isinstance(raw, dict):
        raise EventRejectedError(f"event rejected: expected a JSON object, got {type(raw).__name__}")
    try:
        event = parse(event=raw, model=ComplianceChangeEvent)
    except ValidationError as exc:
        raise EventRejectedError(f"event rejected: {_describe(exc)}") from exc
    if not rule_matches(event.detail.config_rule_name, rule_name_prefixes):
        raise EventRejectedError(
            f"event rejected: Config rule {event.detail.config_rule_name!r} matches none of the "
            f"configured prefixes {', '.join(rule_name_prefixes)}"
        )
    return event


def _describe(exc: ValidationError) -> str:
    problems = []
    for error in exc.errors(include_url=False):
        message = error["msg"].removeprefix("Value error, ")
        where = ".".join(str(part) for part in error["loc"])
        problems.append(f"{where}: {message}" if where else message)
    return "; ".join(problems)
