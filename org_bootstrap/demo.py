"""`akr demo`: the whole event path on a simulated organization in moto, with nothing to set up.

Builds an organization (management, security and member accounts) with users whose keys cover the cases
that matter, lets the Config stand-in evaluate the managed rules, hands each NON_COMPLIANT event to the
real Lambda handler, and shows what the central audit log recorded.
"""

from __future__ import annotations

import os
import random
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from moto import mock_aws

from org_bootstrap.simulation import (
    AUDIT_TABLE,
    REGION,
    STATE_TABLE,
    KeySpec,
    MotoOrganization,
    create_organization,
)
from org_bootstrap.standins import ConfigEvaluator
from remediator.adapters.audit_table import DynamoDBAuditLog
from remediator.adapters.exemption_table import DynamoDBExemptions
from remediator.audit import AuditRecord, Phase
from remediator.exemptions import Exemption
from remediator.settings import load_settings

RULE_PREFIX = "akr-"

# (user name, keys): the cases a reviewer wants to see, in every member account.
CASES: tuple[tuple[str, tuple[KeySpec, ...]], ...] = (
    ("dev-fresh", (KeySpec(age_days=10, used_days_ago=1),)),
    ("ci-89-days", (KeySpec(age_days=89, used_days_ago=1),)),
    ("ci-91-days", (KeySpec(age_days=91, used_days_ago=1),)),
    ("batch-never-used", (KeySpec(age_days=100),)),
    ("two-keys", (KeySpec(age_days=120, used_days_ago=2), KeySpec(age_days=20, used_days_ago=1))),
    ("inactive-old", (KeySpec(age_days=200, used_days_ago=150, active=False),)),
    ("idle-60-days", (KeySpec(age_days=70, used_days_ago=60),)),
    ("breakglass", (KeySpec(age_days=300),)),
)


@dataclass(frozen=True)
class DemoResult:
    records: tuple[AuditRecord, ...]
    """The final record of every decision (outcomes and decisions, not intents)."""
    events_delivered: int

    def counts(self) -> dict[str, int]:
        return dict(Counter(r.decision for r in self.records))

    @property
    def errors(self) -> int:
        return sum(1 for r in self.records if r.outcome == "failed")


def populate(org: MotoOrganization, seed: int) -> None:
    rng = random.Random(seed)  # noqa: S311  # reproducible demo data, not secrets
    for account in org.members:
        for name, keys in CASES:
            org.add_user(account, name, *keys, tags={"owner": f"{name}@example.com"})
        for i in range(3):
            age = rng.randint(1, 200)
            used = rng.choice([None, rng.randint(0, age)])
            org.add_user(account, f"svc-{i}", KeySpec(age_days=age, used_days_ago=used))
        DynamoDBExemptions(client=org.session(org.security).client("dynamodb"), table_name=STATE_TABLE).put(
            Exemption(
                account_id=account,
                user_name="breakglass",
                reason="break-glass user, key vaulted",
                owner="secops@example.com",
                expires_at=org.now + timedelta(days=30),
            )
        )
    org.add_user(org.management, "mgmt-admin", KeySpec(age_days=150, used_days_ago=40))


@contextmanager
def lambda_environment(org: MotoOrganization, mode: str) -> Iterator[None]:
    """The central Lambda's environment: the security account's credentials and the AKR_* settings."""
    credentials = org.session(org.security).get_credentials()
    assert credentials is not None  # noqa: S101  # assumed-role sessions always carry credentials
    values = {
        "AWS_ACCESS_KEY_ID": credentials.access_key,
        "AWS_SECRET_ACCESS_KEY": credentials.secret_key,
        "AWS_SESSION_TOKEN": credentials.token or "",
        "AKR_AUDIT_TABLE": AUDIT_TABLE,
        "AKR_STATE_TABLE": STATE_TABLE,
        "AKR_MODE": mode,
        "AKR_RULE_NAME_PREFIXES": RULE_PREFIX,
        # The metrics would be CloudWatch EMF lines on stdout; the demo shows the audit log instead.
        "POWERTOOLS_METRICS_DISABLED": "true",
    }
    saved = {name: os.environ.get(name) for name in values}
    os.environ.update(values)
    try:
        yield
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


def run_demo(*, members: int = 3, seed: int = 7, mode: str = "delete") -> DemoResult:
    # Fake credentials so that nothing can reach AWS; mock_aws answers every call in-process.
    os.environ.update(
        AWS_ACCESS_KEY_ID="demo",
        AWS_SECRET_ACCESS_KEY="demo",  # noqa: S106  # moto's fake credentials
        AWS_DEFAULT_REGION=REGION,
    )
    os.environ.pop("AWS_PROFILE", None)
    with mock_aws():
        org = create_organization(members=members)
        populate(org, seed)
        from remediator import handler  # noqa: PLC0415  # imported once moto is in place

        delivered = 0
        with lambda_environment(org, mode):
            handler.runtime.cache_clear()
            settings = load_settings()
            for account in (*org.members, org.management):
                evaluator = ConfigEvaluator(
                    account_id=account,
                    region=REGION,
                    rule_name_prefix=RULE_PREFIX,
                    max_key_age_days=settings.thresholds.max_key_age_days,
                    max_unused_days=settings.thresholds.max_unused_days,
                )
                for event in evaluator.evaluate(org.session(account), org.now):
                    # What the member's forwarding rule lets through: our rules, NON_COMPLIANT only.
                    if event["detail"]["newEvaluationResult"]["complianceType"] == "NON_COMPLIANT":
                        handler.lambda_handler(event, _DemoContext())
                        delivered += 1
            handler.runtime.cache_clear()
        audit = DynamoDBAuditLog(client=org.session(org.security).client("dynamodb"), table_name=AUDIT_TABLE)
        records = [
            record
            for account in (*org.members, org.management)
            for record in audit.for_account(account, newest_first=False)
            if record.phase is not Phase.INTENT
        ]
    return DemoResult(records=tuple(records), events_delivered=delivered)


class _DemoContext:
    """The attributes Powertools reads from a Lambda context."""

    function_name = "access-key-remediator"
    memory_limit_in_mb = 256
    invoked_function_arn = f"arn:aws:lambda:{REGION}:000000000000:function:access-key-remediator"
    aws_request_id = "demo"

    def get_remaining_time_in_millis(self) -> int:
        return 60_000


def summary(result: DemoResult) -> dict[str, Any]:
    return {
        "events_delivered": result.events_delivered,
        "decisions": len(result.records),
        "counts": result.counts(),
        "errors": result.errors,
    }
