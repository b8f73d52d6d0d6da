"""The audit trail under injected faults, at scale: about 200 events per scenario on a moto organization,
through the real handlers (tests/faults/harness.py), then one sweep; the ground truth read from IAM and
the central tables.

Per scenario: the keys the policy acts on, how many ended remediated, the IAM mutations without exactly
one intent and one `done` outcome (unaudited), intents left open, the failures recorded (and those only
logged and counted because the audit log itself was down), the events dead-lettered, the KeysDeleted
metric against the real deletions, and the longest back-off one event spent waiting (recorded, not slept).

Run: ``.venv/bin/python benchmarks/faults.py [--users 48] [--members 4] [--json]``.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))  # tests.faults, when run as a script

from moto import mock_aws  # noqa: E402

import tests.conftest  # noqa: E402, F401  # fake credentials, no AKR_ variables, freezegun's ignore list
from org_bootstrap.demo.simulation import create_organization  # noqa: E402
from remediator.audit import Outcome, Phase  # noqa: E402
from remediator.policy import Mode  # noqa: E402
from tests.faults.harness import Scene, scene  # noqa: E402
from tests.faults.injector import Injector  # noqa: E402

SERVICES = ("iam", "sts", "dynamodb")


@dataclass(frozen=True)
class Figures:
    scenario: str
    events: int
    keys_expected: int
    remediated: int
    unaudited: int
    open_intents: int
    failures_recorded: int
    failures_only_counted: int
    dead_lettered: int
    keys_deleted_metric: int
    keys_deleted_real: int
    longest_backoff_s: float
    seconds: float


def every_service(rate: float, per: str) -> Callable[[Injector], None]:
    def inject(injector: Injector) -> None:
        for service in SERVICES:
            injector.throttle(service, rate, per=per)

    return inject


def lost_replies(injector: Injector) -> None:
    injector.lose_reply("iam", "DeleteAccessKey", times=None, rate=0.5)
    injector.lose_reply("dynamodb", "TransactWriteItems", times=None, rate=0.3)
    injector.lose_reply("dynamodb", "PutItem", times=None, rate=0.3)


SCENARIOS: dict[str, Callable[[Injector], None]] = {
    "30% of attempts throttled (IAM, STS, DynamoDB)": every_service(0.3, "attempt"),
    "60% of attempts throttled (IAM, STS, DynamoDB)": every_service(0.6, "attempt"),
    "30% of calls failing, retries spent (IAM, STS, DynamoDB), then one sweep": every_service(0.3, "call"),
    "lost replies: DeleteAccessKey 50%, journal and audit writes 30%": lost_replies,
}


def measure(name: str, inject: Callable[[Injector], None], *, users: int, members: int) -> Figures:
    with mock_aws():
        org = create_organization(members=members)
        injector = Injector(seed=1)
        inject(injector)
        built = scene(org, Mode.DELETE, injector, users=users)
        built.warm = True
        began = time.perf_counter()
        slept_before = 0.0
        longest = 0.0
        for event in built.events:
            built.deliver(event)
            spent = sum(injector.slept) - slept_before
            longest, slept_before = max(longest, spent), sum(injector.slept)
        injector.clear()
        built.sweep()
        seconds = time.perf_counter() - began
        return _figures(name, built, longest, seconds)


def _figures(name: str, built: Scene, longest: float, seconds: float) -> Figures:
    now = built.iam()
    records = built.records()
    intents = {r.record_id: r for r in records if r.phase is Phase.INTENT}
    closed = {r.intent_id for r in records if r.phase is Phase.OUTCOME}
    done = [r for r in records if r.phase is Phase.OUTCOME and r.outcome is Outcome.DONE]
    unaudited = 0
    deleted = 0
    for (account, key), before in built.initial.items():
        after = now.get((account, key))
        mutation = (
            "delete" if after is None else "deactivate" if (before, after) == ("Active", "Inactive") else None
        )
        if mutation is None:
            continue
        deleted += mutation == "delete"
        matching = [r for r in done if r.access_key_id == key and r.decision == mutation]
        if len(matching) != 1 or matching[0].intent_id not in intents:
            unaudited += 1
    failed = sum(1 for r in records if r.outcome is Outcome.FAILED)
    return Figures(
        scenario=name,
        events=len(built.events),
        keys_expected=len(built.acted_on),
        remediated=sum(1 for k in built.acted_on if now.get(k) in (None, "Inactive")),
        unaudited=unaudited,
        open_intents=len(set(intents) - closed),
        failures_recorded=failed,
        failures_only_counted=max(built.metrics["RemediationFailures"] - failed, 0),
        dead_lettered=sum(1 for d in built.deliveries if d.dead_lettered),
        keys_deleted_metric=built.metrics["KeysDeleted"],
        keys_deleted_real=deleted,
        longest_backoff_s=round(longest, 1),
        seconds=round(seconds, 1),
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--users", type=int, default=48, help="users with an old key per member account")
    parser.add_argument("--members", type=int, default=4)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    results = [
        measure(name, inject, users=args.users, members=args.members) for name, inject in SCENARIOS.items()
    ]
    if args.json:
        print(json.dumps([asdict(r) for r in results], indent=2))
        return 0
    print(
        "| scenario | events | keys expected | remediated | unaudited | open intents | failures recorded "
        "| only counted | dead-lettered | KeysDeleted / real | longest back-off per event |"
    )
    print("|---|---|---|---|---|---|---|---|---|---|---|")
    for r in results:
        print(
            f"| {r.scenario} | {r.events} | {r.keys_expected} | {r.remediated} | {r.unaudited} "
            f"| {r.open_intents} | {r.failures_recorded} | {r.failures_only_counted} | {r.dead_lettered} "
            f"| {r.keys_deleted_metric} / {r.keys_deleted_real} | {r.longest_backoff_s} s |"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
