"""The invariant helper fails when the ground truth breaks it: a checker that cannot fail proves nothing."""

from __future__ import annotations

import pytest

from org_bootstrap.demo.simulation import AUDIT_TABLE, STATE_TABLE, MotoOrganization
from remediator.audit import Phase
from remediator.policy import Mode
from tests.faults.harness import Delivery, Scene, check, scene
from tests.faults.injector import Injector


@pytest.fixture
def done(org: MotoOrganization) -> Scene:
    built = scene(org, Mode.DELETE, Injector(), users=1)
    built.deliver_all()
    check(built)
    return built


def test_a_mutation_whose_outcome_is_gone(done: Scene) -> None:
    table = done.org.session(done.org.security).client("dynamodb")
    outcome = next(r for r in done.records() if r.phase is Phase.OUTCOME)
    table.delete_item(
        TableName=AUDIT_TABLE,
        Key={"account_id": {"S": outcome.account_id}, "record_id": {"S": outcome.record_id}},
    )
    with pytest.raises(AssertionError, match=f"{outcome.access_key_id}: 0 done outcomes for one delete"):
        check(done)


def test_a_key_changed_outside_the_policy(done: Scene) -> None:
    account = done.members[0]
    iam = done.org.session(account).client("iam")
    fresh = next(k for (a, k), status in done.iam().items() if a == account and status == "Active")
    iam.update_access_key(UserName=done.owners[account, fresh], AccessKeyId=fresh, Status="Inactive")
    with pytest.raises(AssertionError, match=f"{fresh} was deactivated, but the policy does not act on it"):
        check(done)


def test_a_mark_left_open(done: Scene) -> None:
    table = done.org.session(done.org.security).client("dynamodb")
    table.update_item(
        TableName=STATE_TABLE,
        Key={"pk": {"S": f"key#{done.members[0]}"}, "sk": {"S": "AKIAOPEN000000000000"}},
        UpdateExpression="SET pending = :p",
        ExpressionAttributeValues={":p": {"M": {"intent_id": {"S": "x"}}}},
    )
    with pytest.raises(AssertionError, match="marks left open"):
        check(done)
    check(done, settled=False)  # before the next sweep, an open mark is allowed


def test_a_dead_lettered_event_without_its_failure(done: Scene) -> None:
    done.deliveries.append(Delivery("never-recorded", attempts=3, dead_lettered=True))
    with pytest.raises(AssertionError, match="event never-recorded dead-lettered with no failed record"):
        check(done)
