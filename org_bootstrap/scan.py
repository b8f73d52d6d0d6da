"""`akr scan`: which keys enforcement would act on, when and why, in every account; read-only.

Per account, the sweep's steps without any of its writes: the credential report nominates the users whose
active keys break a rule or will within the horizon (the paginated listing stands in when there is no
report), those users are read live, and remediator.decision.decide says what would happen, with the
central exemptions and, in staged mode, the key lifecycles (when a key was deactivated, so when it will
be deleted). A key within policy now but due within the horizon is decided again just after its due
time, assuming it is not used meanwhile: that decision and that time are its row.

No AWS here: the runner takes a factory of member-account openers (org_bootstrap.scan_plan builds the
real one), so that the tests pass fakes. Each worker thread calls the factory once and keeps what it gets:
boto3 sessions are not thread-safe, the clients a session makes are.
"""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Callable, Iterable, Mapping, Sequence
from concurrent.futures import Future, ThreadPoolExecutor, as_completed
from dataclasses import dataclass
from datetime import datetime, timedelta

from remediator.credential_report import CredentialReport, candidates
from remediator.decision import Action, Decision, Rule, decide
from remediator.errors import RemediatorError
from remediator.exemptions import Exemption
from remediator.facts import KeyFacts, UserFacts
from remediator.lifecycle import KeyLifecycle, Stage, deactivated_by_us
from remediator.policy import Mode, Policy
from remediator.ports import ExemptionSource, LifecycleStore, MemberAccount

AFTER = timedelta(seconds=1)
"""decide() has a key violate strictly after its due time: the future decision is taken this much later."""
ACTIONS = (Action.DELETE, Action.DEACTIVATE, Action.REPORT, Action.EXEMPT, Action.WARN)
"""What a row can say, in the order the totals list them."""

OpenMember = Callable[[str], MemberAccount]
"""Account id -> the account's IAM, read through a role (or the caller's own credentials)."""


@dataclass(frozen=True)
class Row:
    account_id: str
    user_name: str
    access_key_id: str
    status: str
    age_days: int
    """Today's age."""
    last_used_at: datetime | None
    action: Action
    at: datetime | None
    """None: now. Else the last instant the key is within policy (or within its grace period): the first
    run after it acts."""
    rules: tuple[Rule, ...]
    reason: str

    def sort_key(self) -> tuple[bool, datetime | None, str, str, str]:
        return (self.at is not None, self.at, self.account_id, self.user_name, self.access_key_id)


def _next_change(
    key: KeyFacts, current: Decision, policy: Policy, deactivated: Mapping[str, datetime]
) -> datetime | None:
    """When a key that nothing is done to now stops being left alone: its due time when active, the end
    of its grace period when this service deactivated it in staged mode."""
    if current.rules or current.action not in (Action.NONE, Action.WARN):
        return None
    if key.is_active:
        return current.due_at
    since = deactivated.get(key.access_key_id)
    if since is None or policy.mode is not Mode.STAGED:
        return None
    return since + timedelta(days=policy.grace_days)


def plan_user(  # noqa: PLR0917
    user: UserFacts,
    policy: Policy,
    exemptions: Sequence[Exemption],
    now: datetime,
    until: datetime,
    deactivated: Mapping[str, datetime],
) -> list[Row]:
    """One row per key that something happens to, now or before `until`. Pure.

    A key decided "none" or "warn" now whose change comes before `until` is shown with the decision just
    after that change (a warning is only the notice of it). A key due exactly at `until` is still within
    policy then: no row."""
    rows = []
    for key in user.keys:
        alone = user.model_copy(update={"keys": (key,)})
        (current,) = decide(alone, policy, exemptions, now, deactivated)
        shown, at = current, None
        change = _next_change(key, current, policy, deactivated)
        if change is not None and change < until:
            (later,) = decide(alone, policy, exemptions, change + AFTER, deactivated)
            if later.action is not Action.NONE:
                shown, at = later, change
        if shown.action is Action.NONE:
            continue
        rows.append(
            Row(
                account_id=user.account_id,
                user_name=user.user_name,
                access_key_id=key.access_key_id,
                status=key.status,
                age_days=current.key_age_days,
                last_used_at=key.last_used_at,
                action=shown.action,
                at=at,
                rules=shown.rules,
                reason=shown.reason,
            )
        )
    return rows


def nominate(
    report: CredentialReport, policy: Policy, until: datetime, lifecycles: Mapping[str, KeyLifecycle]
) -> tuple[str, ...]:
    """The users worth a live look: by the report, an active key that breaks a rule before `until`, or is
    in the warning window by then; in staged mode also the users of keys this service deactivated. Pure.
    The report's own age (up to four hours) widens the window: a user too many is read, none is missed."""
    found = set(candidates(report, policy.thresholds, until, warn_days=policy.warn_days_before))
    if policy.mode is Mode.STAGED:
        found |= {lc.user_name for lc in lifecycles.values() if lc.stage is Stage.DEACTIVATED}
    return tuple(sorted(found))


@dataclass(frozen=True)
class AccountScan:
    account_id: str
    rows: tuple[Row, ...] = ()
    errors: tuple[str, ...] = ()
    nominated_by: str = ""
    """"credential report", "user listing", or "" when the account could not be read."""
    users_read: int = 0

    @property
    def failed(self) -> bool:
        return bool(self.errors)


def scan_account(  # noqa: PLR0917
    account_id: str,
    open_member: OpenMember,
    exemptions: ExemptionSource | None,
    lifecycle: LifecycleStore | None,
    policy: Policy,
    now: datetime,
    until: datetime,
) -> AccountScan:
    """One account, read only. A user that cannot be read is an error of the account; the others go on.
    `exemptions` and `lifecycle` are None without a central stack."""
    try:
        member = open_member(account_id)
        known = list(exemptions.for_account(account_id)) if exemptions else []
        lifecycles = lifecycle.for_account(account_id) if lifecycle else {}
        report = member.credential_report()
        if report is None:
            nominated_by, users = "user listing", tuple(name for name, _ in member.users())
        else:
            nominated_by, users = "credential report", nominate(report, policy, until, lifecycles)
    except RemediatorError as exc:
        return AccountScan(account_id, errors=(str(exc),))
    deactivated = deactivated_by_us(lifecycles)
    rows: list[Row] = []
    errors: list[str] = []
    for user_name in users:
        try:
            facts = member.read_user(user_name)
        except RemediatorError as exc:
            errors.append(str(exc))
            continue
        if facts is not None:  # None: deleted since the report or the listing
            rows.extend(plan_user(facts, policy, known, now, until, deactivated))
    return AccountScan(account_id, tuple(rows), tuple(errors), nominated_by, len(users) - len(errors))


@dataclass(frozen=True)
class ScanResult:
    accounts: tuple[AccountScan, ...]

    @property
    def rows(self) -> tuple[Row, ...]:
        """Every account's rows: now first, then by date; then by account, user and key."""
        return tuple(sorted((row for a in self.accounts for row in a.rows), key=Row.sort_key))

    @property
    def failed(self) -> tuple[AccountScan, ...]:
        return tuple(a for a in self.accounts if a.failed)

    @property
    def errors(self) -> int:
        return sum(len(a.errors) for a in self.accounts)

    def totals(self) -> dict[str, int]:
        counted = Counter(row.action for a in self.accounts for row in a.rows)
        return {action.value: counted[action] for action in ACTIONS}


def scan_accounts(  # noqa: PLR0917
    accounts: Iterable[str],
    factory: Callable[[], OpenMember],
    exemptions: ExemptionSource | None,
    lifecycle: LifecycleStore | None,
    policy: Policy,
    now: datetime,
    until: datetime,
    *,
    concurrency: int = 8,
    on_done: Callable[[AccountScan], None] | None = None,
) -> ScanResult:
    """Every account, `concurrency` at a time; results in the order of `accounts`. `on_done` runs in the
    calling thread as each account finishes (a progress bar)."""
    if concurrency < 1:
        raise ValueError("concurrency must be at least 1")
    ordered = list(dict.fromkeys(accounts))
    local = threading.local()

    def scan_one(account_id: str) -> AccountScan:
        opener: OpenMember | None = getattr(local, "opener", None)
        if opener is None:
            opener = local.opener = factory()
        return scan_account(account_id, opener, exemptions, lifecycle, policy, now, until)

    done: dict[str, AccountScan] = {}
    executor = ThreadPoolExecutor(max_workers=concurrency, thread_name_prefix="akr-scan")
    try:
        futures: dict[Future[AccountScan], str] = {executor.submit(scan_one, a): a for a in ordered}
        for future in as_completed(futures):
            scanned = done[futures[future]] = future.result()
            if on_done is not None:
                on_done(scanned)
    finally:
        # On an interrupt: start no new account, let the running ones finish.
        executor.shutdown(wait=True, cancel_futures=True)
    return ScanResult(tuple(done[a] for a in ordered))
