"""Users under the protected path in a sweep on a moto organization: never changed, and never silently
invisible. Each one holding an active key is a `finding` of every sweep (threat T11 in
docs/threat-model.md: a member administrator who moves a user under the path to exempt it is seen), whether
the credential report nominates the user for a live read (its keys break the policy) or not."""

from __future__ import annotations

import json

from org_bootstrap.demo.simulation import AUDIT_TABLE, KeySpec, MotoOrganization
from remediator.adapters.audit_table import DynamoDBAuditLog
from remediator.composition import build_remediator
from remediator.policy import Mode
from remediator.worker_handler import handle_batch
from tests.functional.test_sweep import sqs_event
from tests.integration.test_sweep_moto import settings

PROTECTED = "/break-glass/"


def test_the_sweep_reports_every_protected_user_with_active_keys_and_changes_none(
    org: MotoOrganization,
) -> None:
    account = org.members[0]
    vault = org.add_user(account, "vault", KeySpec(age_days=400, used_days_ago=None), path=PROTECTED)
    moved = org.add_user(account, "moved", KeySpec(age_days=10, used_days_ago=1), path=f"{PROTECTED}ops/")
    keyless = org.add_user(account, "keyless", path=PROTECTED)
    org.add_user(account, "stale", KeySpec(age_days=400, used_days_ago=None))
    remediator = build_remediator(
        settings(mode=Mode.DELETE, protected_user_path=PROTECTED),
        org.session(org.security),
        sleep=lambda _: None,
    )
    event = sqs_event(json.dumps({"account_id": account, "run_id": "daily-1"}))

    assert handle_batch(event, None, remediator, "eu-west-1") == {"batchItemFailures": []}

    assert org.keys(account, "vault") == {vault.key_ids[0]: "Active"}
    assert org.keys(account, "moved") == {moved.key_ids[0]: "Active"}
    assert org.keys(account, "stale") == {}  # the policy still applies outside the path
    log = DynamoDBAuditLog(client=org.session(org.security).client("dynamodb"), table_name=AUDIT_TABLE)
    records = log.for_account(account)
    findings = {r.user_name: r.reason for r in records if r.decision == "finding"}
    assert findings == {
        "vault": (
            "protected path /break-glass/: 1 active access key(s) that this service never deactivates or "
            "deletes; check that the user belongs under it"
        ),
        "moved": (
            "protected path /break-glass/ops/: 1 active access key(s) that this service never deactivates "
            "or deletes; check that the user belongs under it"
        ),
    }
    assert keyless.user_name not in findings
    (exempt,) = [r for r in records if r.decision == "exempt"]
    assert (exempt.user_name, exempt.access_key_id) == ("vault", vault.key_ids[0])
    assert exempt.reason.endswith("exempt: user path /break-glass/ is protected")
    assert not [
        r for r in records if r.user_name in ("vault", "moved") and r.decision in ("delete", "deactivate")
    ]


def test_without_a_protected_path_there_is_no_such_finding(org: MotoOrganization) -> None:
    account = org.members[0]
    org.add_user(account, "vault", KeySpec(age_days=10, used_days_ago=1), path=PROTECTED)
    remediator = build_remediator(settings(mode=Mode.REPORT), org.session(org.security), sleep=lambda _: None)
    event = sqs_event(json.dumps({"account_id": account, "run_id": "daily-1"}))
    assert handle_batch(event, None, remediator, "eu-west-1") == {"batchItemFailures": []}
    log = DynamoDBAuditLog(client=org.session(org.security).client("dynamodb"), table_name=AUDIT_TABLE)
    assert [r for r in log.for_account(account) if r.decision == "finding"] == []
