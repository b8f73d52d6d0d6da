"""The in-memory fakes of tests/fakes.py, slowed to answer like AWS: shared by the benchmarks.

Every fake call that stands for AWS calls waits the simulated latency once per call it stands for, as many
as the adapters make: AssumeRole 1; the credential report 3 (GenerateCredentialReport twice,
GetCredentialReport); reading a user 2 + 1 per key (GetUser, ListAccessKeys, GetAccessKeyLastUsed); a key
action 1; in the security account an exemption or lifecycle read (a DynamoDB Query) 1.

`account(index)` is one simulated member account: 20 users with one key each; in every tenth account one
key is 120 days old, the others are 5 to 24 days old.
"""

from __future__ import annotations

import sys
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))  # tests.fakes, when run as a script

from remediator.credential_report import CredentialReport, ReportKey, ReportRow  # noqa: E402
from remediator.facts import KeyFacts, UserFacts  # noqa: E402
from remediator.lifecycle import KeyLifecycle  # noqa: E402
from tests.fakes import FakeMember, Read, StaticExemptions  # noqa: E402

NOW = datetime(2026, 11, 28, 6, 0, tzinfo=UTC)
USERS_PER_ACCOUNT = 20
VIOLATING_EVERY = 10
FIRST_ACCOUNT = 200000000000


class Latency:
    """Per simulated AWS call: `pace` (a rate limiter) if given, then `cpu` seconds of work that holds the
    GIL (botocore signs, serializes and parses in Python), then `seconds` of waiting that does not. Counts
    the calls, from every thread."""

    def __init__(self, seconds: float, cpu: float = 0.0, pace: Callable[[], object] | None = None) -> None:
        self.seconds = seconds
        self.cpu = cpu
        self.pace = pace
        self.calls = 0
        self._lock = threading.Lock()

    def _call(self, calls: int) -> None:
        if self.cpu:
            busy_until = time.thread_time() + self.cpu * calls
            while time.thread_time() < busy_until:
                pass
        time.sleep(self.seconds * calls)

    def __call__(self, calls: int = 1) -> None:
        with self._lock:
            self.calls += calls
        if self.pace is None:
            self._call(calls)
            return
        for _ in range(calls):  # each request waits for its own token
            self.pace()
            self._call(1)


@dataclass
class SlowMember(FakeMember):
    latency: Latency = field(default_factory=lambda: Latency(0.0))

    def credential_report(self) -> CredentialReport | None:
        self.latency(3)
        return super().credential_report()

    def read_user(self, user_name: str, user_id: str | None = None) -> UserFacts | None:
        user = super().read_user(user_name, user_id)
        self.latency(2 + (len(user.keys) if user else 0))
        return user

    def users(self) -> Iterator[tuple[str, str]]:
        self.latency(1 + len(self.users_by_name) // 100)
        return super().users()

    def deactivate_key(self, user_name: str, access_key_id: str) -> bool:
        self.latency()
        return super().deactivate_key(user_name, access_key_id)

    def delete_key(self, user_name: str, access_key_id: str) -> bool:
        self.latency()
        return super().delete_key(user_name, access_key_id)


class SlowLifecycle:
    """The state table's key lifecycles, by account: tests.fakes.MemoryLifecycle scans one dict of every
    account, which other threads write to while it is read."""

    def __init__(self, latency: Latency) -> None:
        self.latency = latency
        self._by_account: dict[str, dict[str, KeyLifecycle]] = {}
        self._lock = threading.Lock()

    def for_account(self, account_id: str) -> dict[str, KeyLifecycle]:
        self.latency()
        with self._lock:
            return dict(self._by_account.get(account_id, {}))

    def save(self, lifecycle: KeyLifecycle) -> None:
        """As the state table: the stage and dates; the pending mark stays as it is."""
        self.latency()
        with self._lock:
            keys = self._by_account.setdefault(lifecycle.account_id, {})
            known = keys.get(lifecycle.access_key_id)
            keys[lifecycle.access_key_id] = lifecycle.model_copy(update={"pending": known and known.pending})

    def put(self, lifecycle: KeyLifecycle) -> None:
        """The whole item, as the journal writes it (the latency is the journal's)."""
        with self._lock:
            self._by_account.setdefault(lifecycle.account_id, {})[lifecycle.access_key_id] = lifecycle


@dataclass
class SlowExemptions(StaticExemptions):
    latency: Latency = field(default_factory=lambda: Latency(0.0))

    def read(self, account_id: str) -> Read:
        self.latency()
        return super().read(account_id)


def account(index: int, latency: Latency) -> SlowMember:
    account_id = f"{FIRST_ACCOUNT + index:012d}"
    member = SlowMember(account_id, latency=latency)
    for user in range(USERS_PER_ACCOUNT):
        age = 120 if user == 0 and index % VIOLATING_EVERY == 0 else 5 + user
        created = NOW - timedelta(days=age)
        keys = (KeyFacts(access_key_id=f"AKIA{index:08d}{user:08d}", status="Active", created_at=created),)
        member.add(
            UserFacts(
                account_id=account_id, user_name=f"user-{user}", user_id=f"AIDA{index}{user}", keys=keys
            )
        )
    rows = tuple(
        ReportRow(
            user=u.user_name,
            arn=f"arn:aws:iam::{account_id}:user/{u.user_name}",
            keys=tuple(ReportKey(active=True, last_rotated=k.created_at, last_used=None) for k in u.keys),
        )
        for u in member.users_by_name.values()
    )
    member.report = CredentialReport(generated_at=NOW - timedelta(hours=1), rows=rows)
    return member
