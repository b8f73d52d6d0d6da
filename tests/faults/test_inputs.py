"""What the remediator reads and cannot use: a credential report with rows that do not read, and
exemption items it cannot honour (a time without a zone, a bare date, an expiry far beyond the horizon).
Nothing is silently dropped, and nothing stops the rest of the account."""

from __future__ import annotations

import random
from typing import Any

import pytest

from org_bootstrap.demo.simulation import STATE_TABLE, MotoOrganization
from remediator.audit import Outcome, Phase
from remediator.policy import Mode
from tests.faults.harness import OLD, check, event_for, scene
from tests.faults.injector import Injector


def garble(user: str, how: str) -> Any:
    """Rewrite the report's row of `user`: a malformed timestamp, or an unquoted comma in a field."""

    def change(parsed: dict[str, Any]) -> None:
        if "Content" not in parsed:
            return  # an error answer (no report kept yet)
        lines = parsed["Content"].decode().splitlines()
        header = lines[0].split(",")
        rotated = header.index("access_key_1_last_rotated")
        for i, line in enumerate(lines):
            fields = line.split(",")
            if fields[0] == user:
                if how == "timestamp":
                    fields[rotated] = "2026-13-45T99:00:00+00:00"
                else:
                    fields[1] = fields[1] + ",x"
                lines[i] = ",".join(fields)
        parsed["Content"] = ("\n".join(lines) + "\n").encode()

    return change


@pytest.mark.parametrize("how", ["timestamp", "comma"])
def test_an_unreadable_row_is_a_finding_its_user_is_read_live_and_the_account_goes_on(
    org: MotoOrganization, how: str
) -> None:
    injector = Injector(seed=13).rewrite("iam", "GetCredentialReport", garble("old-0", how))
    built = scene(org, Mode.DELETE, injector, users=2)
    built.events.clear()  # every event was lost: the sweep alone finds the keys
    assert built.sweep() == {"batchItemFailures": []}
    check(built)
    now = built.iam()
    assert all(key not in now for key in built.acted_on)  # old-0 too: read live
    findings = [r for r in built.records() if r.decision == "finding"]
    why = "access_key_1_last_rotated '2026-13-45T99:00:00+00:00'" if how == "timestamp" else "1 more field(s)"
    assert sorted((r.user_name, r.account_id) for r in findings) == sorted(
        ("old-0", a) for a in built.members
    )
    assert all(why in r.reason and r.reason.endswith("the user was read live") for r in findings)


def exemption_item(account: str, user: str, expires_at: str, created_at: str | None) -> dict[str, Any]:
    item = {
        "pk": {"S": f"exemption#{account}"},
        "sk": {"S": f"{user}#*"},
        "account_id": {"S": account},
        "user_name": {"S": user},
        "reason": {"S": "written by hand"},
        "owner": {"S": "someone"},
        "expires_at": {"S": expires_at},
    }
    if created_at:
        item["created_at"] = {"S": created_at}
    return item


EXPIRIES = {
    "naive": ("2027-01-01T00:00:00", None, "input should have timezone info"),
    "date-only": ("2027-01-01", None, "input should have timezone info"),
    "far-future": (
        "9999-12-31T00:00:00+00:00",
        "2026-12-01T00:00:00+00:00",
        "more than 365 days after it was made",
    ),
}


@pytest.mark.parametrize("kind", list(EXPIRIES))
def test_an_exemption_that_cannot_be_honoured_is_named_in_the_decision_and_counted(
    org: MotoOrganization, kind: str
) -> None:
    expires_at, created_at, why = EXPIRIES[kind]
    built = scene(org, Mode.DELETE, Injector(seed=14), users=1)
    account = built.members[0]
    handle = org.add_user(account, "hand-exempt", OLD)
    built.initial = built.iam()
    built.acted_on = {(account, handle.key_ids[0])}
    dynamodb = org.session(org.security).client("dynamodb")
    dynamodb.put_item(
        TableName=STATE_TABLE, Item=exemption_item(account, "hand-exempt", expires_at, created_at)
    )
    built.events = [event_for(account, handle.user_id, "config_noncompliant_rotated", random.Random(1))]
    built.deliver_all()
    check(built)
    (done,) = [r for r in built.records() if r.user_name == "hand-exempt" and r.phase is Phase.OUTCOME]
    assert done.outcome is Outcome.DONE
    assert "exemption hand-exempt#* by someone ignored: " in done.reason
    assert why in done.reason
    assert built.metrics["ExemptionsRejected"] == 1
