"""Exemptions the remediator verifies against their exempt-add audit record (AKR_VERIFY_EXEMPTIONS):
anything else is ignored, named in the decision's record, and counted."""

from __future__ import annotations

from datetime import timedelta

import pytest

from remediator.audit import AuditRecord, Outcome, Phase, Trigger
from remediator.exemption_records import EXEMPT_ADD
from remediator.exemptions import Exemption
from remediator.policy import Mode, Policy, Thresholds
from remediator.ports import ExemptionRecords
from remediator.service import Remediator
from tests.functional.test_service import ACCOUNT, NOW, World, key, user

OTHER_ACCOUNT = "333333333333"
OPERATOR = f"arn:aws:sts::{ACCOUNT}:assumed-role/OrganizationAccountAccessRole/alice"


def made_by_akr(
    world: World, *, account_id: str = ACCOUNT, user_name: str = "breakglass", days: int = 30, ago: int = 1
) -> tuple[Exemption, AuditRecord]:
    """What akr exempt add writes: the exempt-add record first, then the exemption naming it."""
    made = NOW - timedelta(days=ago)
    record = AuditRecord(
        record_id=f"{made.isoformat()}#{account_id[-4:]}{user_name}",
        account_id=account_id,
        user_name=user_name,
        owner="secops",
        decision=EXEMPT_ADD,
        mode=Mode.DELETE,
        reason=f"exempted user {user_name} in {account_id}",
        thresholds=Thresholds(),
        operator=OPERATOR,
        trigger=Trigger.CLI,
        phase=Phase.OUTCOME,
        outcome=Outcome.DONE,
        recorded_at=made,
        expires_at=made + timedelta(days=days),
    )
    world.audit.append(record)
    exemption = Exemption(
        account_id=account_id,
        user_name=user_name,
        reason="break-glass user, vaulted",
        owner="secops",
        expires_at=made + timedelta(days=days),
        created_at=made,
        record_id=record.record_id,
    )
    return exemption, record


def verifying(world: World, *, max_days: int = 365, records: ExemptionRecords | None = None) -> Remediator:
    return Remediator(
        policy=Policy(mode=Mode.DELETE),
        access=world.access,
        audit=world.audit,
        exemptions=world.exemptions,
        claims=world.claims,
        lifecycle=world.lifecycle,
        journal=world.journal,
        clock=lambda: NOW,
        on_result=world.results.append,
        max_exemption_days=max_days,
        exemption_records=records or world.audit,
    )


def sweep(world: World, remediator: Remediator) -> AuditRecord:
    """One account run over the break-glass user's old key; its decision record."""
    world.member.add(user("breakglass", key("AKIABRK", 400, used_days_ago=None)))
    result = remediator.remediate_account(ACCOUNT, region="eu-west-1", trigger=Trigger.SWEEP, label="run-1")
    world.results.append(result)
    [final] = [r for r in result.records if r.access_key_id == "AKIABRK"]
    return final


def test_an_exemption_made_through_akr_exempt_is_honoured() -> None:
    world = World()
    exemption, _ = made_by_akr(world)
    world.exemptions.exemptions.append(exemption)
    final = sweep(world, verifying(world))
    assert (final.decision, final.outcome) == ("exempt", Outcome.SKIPPED)
    assert world.status("breakglass") == {"AKIABRK": "Active"}
    assert world.results[-1].exemptions_rejected == 0


def forged(world: World, case: str) -> Exemption:
    exemption, _ = made_by_akr(world)
    match case:
        case "written directly, without an audit record":
            return Exemption(
                account_id=ACCOUNT,
                user_name="*",
                reason="r",
                owner="made-up",
                expires_at=NOW + timedelta(days=30),
            )
        case "with a mismatching record":
            return exemption.model_copy(update={"owner": "someone-else"})
        case "past the horizon of its record":
            old, _ = made_by_akr(world, days=40, ago=20)
            # Its own making time rewritten to pass the screen: the record's is what counts.
            return old.model_copy(update={"created_at": NOW - timedelta(days=5)})
        case "removed through akr exempt, then put back":
            removal = world.audit.records[-1].model_copy(
                update={
                    "record_id": f"{NOW.isoformat()}#removal",
                    "decision": "exempt-remove",
                    "recorded_at": NOW,
                    "revokes": exemption.record_id,
                }
            )
            world.audit.append(removal)
            return exemption
        case "with the record of another account":
            other, _ = made_by_akr(world, account_id=OTHER_ACCOUNT)
            return other.model_copy(update={"account_id": ACCOUNT})
    raise AssertionError(case)


REASONS = {
    "written directly, without an audit record": (
        "exemption *#* by made-up ignored: it has no exempt-add audit record (made outside akr exempt add; "
        "akr exempt relink links one)"
    ),
    "with a mismatching record": (
        "exemption breakglass#* by someone-else ignored: its exempt-add audit record "
        f"{NOW - timedelta(days=1):%Y-%m-%dT%H:%M:%S}+00:00#2222breakglass has another owner"
    ),
    "past the horizon of its record": (
        "exemption breakglass#* by secops ignored: expires 2026-12-18, more than 30 days after its "
        "exempt-add audit record (2026-11-08)"
    ),
    "with the record of another account": f"is not in account {ACCOUNT}",
    "removed through akr exempt, then put back": (
        f"exemption breakglass#* by secops ignored: it was removed (exempt-remove audit record "
        f"{NOW.isoformat()}#removal) after its exempt-add record"
    ),
}


@pytest.mark.parametrize("case", sorted(REASONS))
def test_an_exemption_its_audit_record_does_not_prove_is_ignored_and_named(case: str) -> None:
    world = World()
    world.exemptions.exemptions.append(forged(world, case))
    final = sweep(world, verifying(world, max_days=30))
    assert (final.decision, final.outcome) == ("delete", Outcome.DONE)
    assert REASONS[case] in final.reason
    assert world.status("breakglass") == {}
    assert world.results[-1].exemptions_rejected == 1


def test_without_verification_the_state_tables_word_still_counts() -> None:
    # A stack whose exemptions are not all linked yet (upgrade): nothing that protected a key stops doing so.
    world = World()
    world.exemptions.exemptions.append(forged(world, "written directly, without an audit record"))
    final = sweep(world, world.remediator)
    assert (final.decision, final.outcome) == ("exempt", Outcome.SKIPPED)
    assert world.status("breakglass") == {"AKIABRK": "Active"}


class CountingRecords:
    """The audit log's reads for verification, counted by the exemption's user."""

    def __init__(self, world: World) -> None:
        self.audit = world.audit
        self.reads: list[str] = []

    def find(self, account_id: str, record_id: str) -> AuditRecord | None:
        found = self.audit.find(account_id, record_id)
        self.reads.append(found.user_name if found and found.user_name else record_id)
        return found

    def revoked_by(self, account_id: str, record_id: str) -> str | None:
        return self.audit.revoked_by(account_id, record_id)


def test_an_event_verifies_only_the_exemptions_that_can_cover_its_user_and_the_sweep_every_one() -> None:
    world = World()
    for name in ("breakglass", "vendor"):
        exemption, _ = made_by_akr(world, user_name=name)
        world.exemptions.exemptions.append(exemption)
    everybody = forged(world, "written directly, without an audit record")  # "*": covers alice too
    world.exemptions.exemptions.append(everybody)
    records = CountingRecords(world)
    remediator = verifying(world, records=records)
    alice = user("alice", key("AKIAOLD", 120))
    world.member.add(alice)

    result = remediator.remediate_event(world.event(alice))

    # Only "*" can cover alice: it names no record, so it is rejected (and named) without a read;
    # breakglass's and vendor's cannot cover her, and are not read.
    assert records.reads == []
    [final] = [r for r in result.records if r.access_key_id == "AKIAOLD" and r.phase is Phase.OUTCOME]
    assert (final.decision, final.outcome) == ("delete", Outcome.DONE)
    assert REASONS["written directly, without an audit record"] in final.reason
    assert result.exemptions_rejected == 1
    assert world.status("alice") == {}

    # The sweep proves every exemption in force, whoever it covers: breakglass's stays honoured.
    swept = sweep(world, verifying(world))
    assert (swept.decision, swept.outcome) == ("exempt", Outcome.SKIPPED)
    assert world.results[-1].exemptions_rejected == 1


def test_an_event_verifies_the_exemption_of_its_own_user() -> None:
    world = World()
    exemption, _ = made_by_akr(world, user_name="alice")
    world.exemptions.exemptions.append(exemption)
    records = CountingRecords(world)
    remediator = verifying(world, records=records)
    alice = user("alice", key("AKIAOLD", 120))
    world.member.add(alice)
    result = remediator.remediate_event(world.event(alice))
    assert records.reads == ["alice"]
    [final] = [r for r in result.records if r.access_key_id == "AKIAOLD"]
    assert (final.decision, final.outcome) == ("exempt", Outcome.SKIPPED)
    assert world.status("alice") == {"AKIAOLD": "Active"}
