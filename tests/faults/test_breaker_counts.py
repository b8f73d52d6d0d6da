"""The circuit breaker's count under lost replies: the counter is raised in the intent's transaction, so a
transaction applied and then retried (its reply lost) finds its intent and is not counted again. With the
per-account cap set to exactly the keys the policy acts on, one count too many would hold a key back."""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime

import pytest

from org_bootstrap.demo.simulation import AUDIT_TABLE, STATE_TABLE, MotoOrganization
from remediator.adapters.breaker_table import DynamoDBControl
from remediator.breaker import ORGANIZATION
from remediator.policy import Mode
from remediator.settings import Settings
from tests.faults.harness import check, phase_of, scene, security_session
from tests.faults.injector import Injector


@pytest.mark.parametrize("mode", [Mode.DELETE, Mode.DEACTIVATE])
def test_a_lost_reply_on_the_counting_transaction_counts_once(
    org: MotoOrganization, mode: Mode, monkeypatch: pytest.MonkeyPatch
) -> None:
    injector = Injector(seed=12).lose_reply(
        "dynamodb", "TransactWriteItems", match=phase_of("intent"), times=None, rate=0.5
    )
    built = scene(org, mode, injector, users=2)
    per_account = Counter(account for account, _ in built.acted_on)
    cap = max(per_account.values())
    assert set(per_account.values()) == {cap}  # every member has the same keys to act on
    settings = Settings(
        audit_table=AUDIT_TABLE,
        state_table=STATE_TABLE,
        mode=mode,
        grace_days=14,
        max_actions_per_account=cap,
        max_actions_per_day=len(built.acted_on),
    )
    monkeypatch.setattr(built, "settings", lambda: settings)

    built.deliver_all()

    assert injector.log, "no reply was lost"
    check(built, settled=False)
    # Ground truth: every key the policy acts on was acted on in IAM, none was held back, and the counters
    # hold exactly the number of intents.
    after = built.iam()
    assert [key for key in sorted(built.acted_on) if after.get(key, "deleted") == "Active"] == []
    records = built.records()
    assert [r for r in records if "held back" in r.reason] == []
    intents = Counter(r.account_id for r in records if r.phase == "intent")
    control = DynamoDBControl(client=security_session(org).client("dynamodb"), table_name=STATE_TABLE)
    now = datetime.now(UTC)
    assert {account: control.count(account, now) for account in per_account} == dict(intents) == per_account
    assert control.count(ORGANIZATION, now) == len(built.acted_on)
    assert built.metrics["CircuitBreakerTripped"] == 0
