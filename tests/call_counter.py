"""Counts AWS API calls per "service:Operation" with a botocore hook, and fills moto's Config gap."""

from __future__ import annotations

import json
from collections import Counter
from typing import Any

import boto3
from botocore.awsrequest import AWSResponse, HTTPHeaders


class CallCounter:
    def __init__(self) -> None:
        self.calls: Counter[str] = Counter()

    def attach(self, session: boto3.Session) -> boto3.Session:
        session.events.register("before-call.*.*", self._count)
        return session

    def _count(self, model: Any, **_: Any) -> None:
        self.calls[f"{model.service_model.endpoint_prefix}:{model.name}"] += 1

    def of(self, *services: str) -> dict[str, int]:
        return {name: n for name, n in sorted(self.calls.items()) if name.split(":")[0] in services}

    def total(self, *services: str) -> int:
        return sum(self.of(*services).values())


def answer_config_from_iam(member: boto3.Session, lookup: boto3.Session) -> None:
    """moto's Config knows no IAM users. Answer ListDiscoveredResources as AWS does where the recorder
    records AWS::IAM::User, from the account's IAM state read through `lookup` (an uncounted session)."""

    def answer(params: dict[str, Any], **_: Any) -> tuple[AWSResponse, dict[str, Any]]:
        wanted = set(json.loads(params["body"])["resourceIds"])
        users = lookup.client("iam").list_users()["Users"]
        found = [
            {"resourceType": "AWS::IAM::User", "resourceId": u["UserId"], "resourceName": u["UserName"]}
            for u in users
            if u["UserId"] in wanted
        ]
        return AWSResponse("https://config.local", 200, HTTPHeaders(), None), {"resourceIdentifiers": found}

    # botocore takes a before-call handler's return value as the response (the stubs say None).
    member.events.register("before-call.config-service.ListDiscoveredResources", answer)  # type: ignore[arg-type]
