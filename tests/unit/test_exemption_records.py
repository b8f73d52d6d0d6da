"""An exemption counts only with the exempt-add audit record that made it (remediator.exemption_records)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from remediator.audit import AuditRecord, Outcome, Phase, Trigger
from remediator.exemption_records import EXEMPT_ADD, mismatch, verify
from remediator.exemptions import Exemption, RejectedExemption
from remediator.policy import Mode, Thresholds

NOW = datetime(2026, 6, 1, 12, 0, tzinfo=UTC)
UNLINKED = "it has no exempt-add audit record (made outside akr exempt add; akr exempt relink links one)"
MADE = NOW - timedelta(days=10)
ACCOUNT = "111122223333"
OTHER_ACCOUNT = "444455556666"
RECORD_ID = "2026-05-22T12:00:00.000000+00:00#0123abcd"
KEY = "AKIAAAAAAAAAAAAAAAAA"


def exemption(**changes: Any) -> Exemption:
    return Exemption.model_validate(
        {
            "account_id": ACCOUNT,
            "user_name": "ci",
            "access_key_id": KEY,
            "reason": "migration",
            "owner": "platform-team",
            "expires_at": MADE + timedelta(days=30),
            "created_at": MADE,
            "record_id": RECORD_ID,
            **changes,
        }
    )


def record(**changes: Any) -> AuditRecord:
    return AuditRecord.model_validate(
        {
            "record_id": RECORD_ID,
            "account_id": ACCOUNT,
            "user_name": "ci",
            "owner": "platform-team",
            "access_key_id": KEY,
            "decision": EXEMPT_ADD,
            "mode": Mode.DELETE,
            "reason": "exempted key of user ci",
            "thresholds": Thresholds(),
            "operator": "arn:aws:sts::222222222222:assumed-role/OrganizationAccountAccessRole/alice",
            "trigger": Trigger.CLI,
            "phase": Phase.OUTCOME,
            "outcome": Outcome.DONE,
            "recorded_at": MADE,
            "expires_at": MADE + timedelta(days=30),
            **changes,
        }
    )


def test_the_exemption_its_record_made_is_honoured() -> None:
    assert mismatch(exemption(), record(), max_days=365) is None


@pytest.mark.parametrize(
    ("subject", "found", "why"),
    [
        (
            exemption(record_id=None),
            None,
            UNLINKED,
        ),
        (exemption(), None, f"its exempt-add audit record {RECORD_ID} is not in account {ACCOUNT}"),
        (
            exemption(),
            record(decision="exempt-remove"),
            f"audit record {RECORD_ID} is not a done exempt-add (exempt-remove, done)",
        ),
        (
            exemption(),
            record(outcome=Outcome.FAILED),
            f"audit record {RECORD_ID} is not a done exempt-add (exempt-add, failed)",
        ),
        (exemption(user_name="*"), record(), f"its exempt-add audit record {RECORD_ID} has another user"),
        (exemption(access_key_id=None), record(), f"its exempt-add audit record {RECORD_ID} has another key"),
        (exemption(owner="made-up"), record(), f"its exempt-add audit record {RECORD_ID} has another owner"),
        (
            exemption(expires_at=datetime(9999, 1, 1, tzinfo=UTC)),
            record(),
            f"its exempt-add audit record {RECORD_ID} has another expiry",
        ),
        (
            exemption(account_id=OTHER_ACCOUNT),
            record(),
            f"its exempt-add audit record {RECORD_ID} has another account",
        ),
        (
            exemption(user_name="*", owner="made-up"),
            record(),
            f"its exempt-add audit record {RECORD_ID} has another user and owner",
        ),
    ],
)
def test_an_exemption_its_record_does_not_prove_is_not_honoured(
    subject: Exemption, found: AuditRecord | None, why: str
) -> None:
    assert mismatch(subject, found, max_days=365) == why


@pytest.mark.parametrize(("days", "honoured"), [(29, True), (30, True), (31, False)])
def test_the_horizon_is_measured_from_the_audit_record(days: int, honoured: bool) -> None:
    expires = MADE + timedelta(days=days)
    # The exemption claims to be made now: its own created_at cannot move the horizon.
    why = mismatch(exemption(expires_at=expires, created_at=NOW), record(expires_at=expires), max_days=30)
    assert (why is None) is honoured
    if not honoured:
        assert why == "expires 2026-06-22, more than 30 days after its exempt-add audit record (2026-05-22)"


def test_verify_reads_each_exemption_in_force_once_and_names_what_it_rejects() -> None:
    reads: list[tuple[str, str]] = []
    proven = exemption()
    forged = exemption(user_name="*", access_key_id=None, record_id=None, owner="made-up")
    expired = exemption(user_name="old", expires_at=NOW - timedelta(seconds=1), record_id=None)

    def find(account_id: str, record_id: str) -> AuditRecord | None:
        reads.append((account_id, record_id))
        return record()

    def revoked(account_id: str, record_id: str) -> str | None:
        reads.append((account_id, f"revoked {record_id}"))
        return None

    kept, rejected = verify([proven, forged, expired], find, revoked, now=NOW, max_days=365)

    assert kept == (proven, expired)
    assert rejected == (
        RejectedExemption(
            account_id=ACCOUNT,
            item="*#*",
            owner="made-up",
            why=UNLINKED,
        ),
    )
    assert reads == [(ACCOUNT, RECORD_ID), (ACCOUNT, f"revoked {RECORD_ID}")]


def test_an_exemption_removed_since_its_record_is_not_honoured_when_put_back() -> None:
    removal = "2026-05-30T12:00:00.000000+00:00#fedcba98"
    assert mismatch(exemption(), record(), max_days=365, revoked_by=removal) == (
        f"it was removed (exempt-remove audit record {removal}) after its exempt-add record"
    )
    kept, rejected = verify(
        [exemption()], lambda _a, _r: record(), lambda _a, _r: removal, now=NOW, max_days=365
    )
    assert kept == ()
    assert [r.item for r in rejected] == [f"ci#{KEY}"]
