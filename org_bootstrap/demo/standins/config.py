"""The Config stand-in: moto stores Config rules but never evaluates them, and its CloudFormation skips
AWS::Config::* (org_bootstrap.demo.standins). `register_member_config` puts into an account what the
member stack would have created there (its two rules, and its recorder when CreateConfigRecorder is on)
and the recorder an organization already has otherwise, so that `akr status` finds what a real
deployment has; `ConfigEvaluator` evaluates the rules."""

from __future__ import annotations

import json
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from mypy_boto3_config import ConfigServiceClient
    from mypy_boto3_events import EventBridgeClient
    from mypy_boto3_iam import IAMClient

ROTATED = "access-keys-rotated"
UNUSED = "iam-user-unused-credentials-check"
RECORDER = "default"
# The member template's parameter defaults, for the StackSet parameters that were not passed.
_DEFAULTS = {
    "RuleNamePrefix": "akr-",
    "EnableAccessKeysRotatedRule": "true",
    "EnableUnusedCredentialsRule": "true",
    "MaxAccessKeyAge": "90",
    "MaxCredentialUsageAge": "90",
    "ConfigRuleFrequency": "TwentyFour_Hours",
    "CreateConfigRecorder": "false",
}


def member_config_rules(parameters: Mapping[str, str]) -> list[dict[str, Any]]:
    """The AWS::Config::ConfigRule resources of stacksets/member.yaml for these StackSet parameters, as
    PutConfigRule takes them. tests/stacksets/test_member_template.py checks them against the template."""
    values = {**_DEFAULTS, **parameters}
    prefix, frequency = values["RuleNamePrefix"], values["ConfigRuleFrequency"]
    rules = []
    if values["EnableAccessKeysRotatedRule"] == "true":
        rules.append(
            {
                "ConfigRuleName": prefix + ROTATED,
                "InputParameters": json.dumps({"maxAccessKeyAge": values["MaxAccessKeyAge"]}),
                "MaximumExecutionFrequency": frequency,
                "Source": {"Owner": "AWS", "SourceIdentifier": "ACCESS_KEYS_ROTATED"},
            }
        )
    if values["EnableUnusedCredentialsRule"] == "true":
        rules.append(
            {
                "ConfigRuleName": prefix + UNUSED,
                "InputParameters": json.dumps({"maxCredentialUsageAge": values["MaxCredentialUsageAge"]}),
                "MaximumExecutionFrequency": frequency,
                "Source": {"Owner": "AWS", "SourceIdentifier": "IAM_USER_UNUSED_CREDENTIALS_CHECK"},
            }
        )
    return rules


def recording_group(parameters: Mapping[str, str]) -> dict[str, Any]:
    """The member stack's own recorder records IAM users only; without it, the recorder the account
    already has is the common one of Control Tower and Security Hub setups: everything, IAM included."""
    if {**_DEFAULTS, **parameters}["CreateConfigRecorder"] == "true":
        return {
            "allSupported": False,
            "includeGlobalResourceTypes": False,
            "recordingStrategy": {"useOnly": "INCLUSION_BY_RESOURCE_TYPES"},
            "resourceTypes": ["AWS::IAM::User"],
        }
    return {"allSupported": True, "includeGlobalResourceTypes": True}


def register_member_config(
    config: ConfigServiceClient, account_id: str, parameters: Mapping[str, str]
) -> None:
    """A recording recorder (with its delivery channel) and the member stack's rules, in the client's
    account and region."""
    if not config.describe_configuration_recorders()["ConfigurationRecorders"]:
        recorder: Any = {
            "name": RECORDER,
            "roleARN": f"arn:aws:iam::{account_id}:role/aws-service-role/config.amazonaws.com/"
            "AWSServiceRoleForConfig",
            "recordingGroup": recording_group(parameters),
        }
        config.put_configuration_recorder(ConfigurationRecorder=recorder)
        config.put_delivery_channel(
            DeliveryChannel={"name": RECORDER, "s3BucketName": f"config-bucket-{account_id}"}
        )
        config.start_configuration_recorder(ConfigurationRecorderName=RECORDER)
    for rule in member_config_rules(parameters):
        config.put_config_rule(ConfigRule=rule)  # type: ignore[arg-type]


@dataclass
class ConfigEvaluator:
    account_id: str
    region: str
    rule_name_prefix: str
    max_key_age_days: int
    max_unused_days: int
    _last: dict[tuple[str, str], str] = field(default_factory=dict)

    def evaluate(self, iam: IAMClient, now: datetime) -> list[dict[str, Any]]:
        """One periodic evaluation of both rules over every user; the compliance-change events it emits."""
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
    def publish(events: EventBridgeClient, event: dict[str, Any]) -> None:
        """Put one event onto the account's default bus, as Config does (moto accepts an `aws.` source)."""
        response = events.put_events(
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

    def _verdicts(self, iam: IAMClient, user_name: str, now: datetime) -> dict[str, str]:
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
