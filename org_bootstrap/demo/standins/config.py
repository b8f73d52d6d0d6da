"""The Config stand-in: moto stores Config rules but never evaluates them (org_bootstrap.demo.standins)."""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

import boto3

if TYPE_CHECKING:
    from mypy_boto3_iam import IAMClient

ROTATED = "access-keys-rotated"
UNUSED = "iam-user-unused-credentials-check"


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
