"""`akr scan`: which keys enforcement would act on, when and why, in every account; read-only.

Per account, the sweep's steps without any of its writes: the credential report nominates the users whose
active keys break a rule or will within the horizon (the paginated listing stands in when there is no
report), those users are read live, and remediator.decision.decide says what would happen, with the
central exemptions and, in staged mode, the key lifecycles (when a key was deactivated, so when it will
be deleted). A key within policy now but due within the horizon is decided again just after its due
time, assuming it is not used meanwhile: that decision and that time are its row.

A key exempt by a central exemption that expires by the end of the horizon is shown with what happens
once it expires, on that date, rather than as exempt: the row is what enforcement will do, and its reason
names the exemption that holds it off until then.

No AWS here: the runner takes a factory of member-account openers (org_bootstrap.review.scan_plan builds the
real one), so that the tests pass fakes. Each worker thread calls the factory once and keeps what it gets:
boto3 sessions are not thread-safe, the clients a session makes are. An account's session and clients are
let go of as soon as it is scanned: kept for the whole scan they would grow with the organization.

The central state (exemptions, lifecycles) of every account is read before the first account is: the
security account's credentials do not refresh, and a long scan would outlive them.
"""

from __future__ import annotations

import threading
import uuid
from collections import Counter
from collections.abc import Callable, Iterable, Mapping, Sequence
from concurrent.futures import Future, ThreadPoolExecutor, as_completed
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Protocol

from pydantic import ValidationError

from remediator.credential_report import CredentialReport, candidates
from remediator.decision import Action, Decision, Rule, decide
from remediator.errors import RemediatorError
from remediator.exemptions import DEFAULT_MAX_EXEMPTION_DAYS, Exemption, screen
from remediator.facts import KeyFacts, UserFacts
from remediator.lifecycle import KeyLifecycle, Stage, deactivated_by_us
from remediator.policy import Mode, Policy
from remediator.ports import ExemptionSource, LifecycleStore, MemberAccount

AFTER = timedelta(seconds=1)
"""decide() has a key violate strictly after its due time: the future decision is taken this much later."""
ACTIONS = (Action.DELETE, Action.DEACTIVATE, Action.REPORT, Action.EXEMPT, Action.WARN)
"""What a row can say, in the order the totals list them (and none, with --include-compliant)."""

FINDINGS = uuid.uuid5(uuid.NAMESPACE_URL, "access-key-remediation:scan-finding")
"""The namespace of the findings' ids (uuid5)."""

OpenMember = Callable[[str], MemberAccount]
"""Account id -> the account's IAM, read through a role (or the caller's own credentials)."""


class Opener(Protocol):
    """One worker thread's way into the member accounts."""

    def open(self, account_id: str) -> MemberAccount: ...

    def forget(self, account_id: str) -> None:
        """Let go of what `open` keeps for the account (its session and clients): it has been scanned."""
        ...


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
    run after it acts; or the instant its exemption expires: the first run from then on acts."""
    rules: tuple[Rule, ...]
    reason: str

    @property
    def finding_id(self) -> str:
        """Stable across scans, from the account, the user and the key: a re-run updates the same
        finding in the tools that ingest them."""
        return str(uuid.uuid5(FINDINGS, f"{self.account_id}/{self.user_name}/{self.access_key_id}"))

    @property
    def breaks_a_rule_now(self) -> bool:
        """Over a limit now, and not exempt: a finding (what --fail-on-findings counts)."""
        return self.at is None and bool(self.rules) and self.action is not Action.EXEMPT

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


def _exempt_until(
    user: UserFacts, key: KeyFacts, exemptions: Sequence[Exemption], at: datetime
) -> Exemption | None:
    """Of the central exemptions covering the key at `at`, the one that lasts longest. Exemptions have no
    start, so together they cover the key until that one expires."""
    covering = [
        e
        for e in exemptions
        if e.covers(
            account_id=user.account_id, user_name=user.user_name, access_key_id=key.access_key_id, now=at
        )
    ]
    return max(covering, key=lambda e: e.expires_at, default=None)


def plan_user(  # noqa: PLR0917
    user: UserFacts,
    policy: Policy,
    exemptions: Sequence[Exemption],
    now: datetime,
    until: datetime,
    deactivated: Mapping[str, datetime],
    *,
    include_compliant: bool = False,
) -> list[Row]:
    """One row per key that something happens to, now or before `until`. Pure.

    A key decided "none" or "warn" now whose change comes before `until` is shown with the decision just
    after that change (a warning is only the notice of it). A key due exactly at `until` is still within
    policy then: no row. A key exempt (now or at its change) by central exemptions that expire by `until`
    is shown with the decision at their expiry; an exemption no longer covers at its expiry instant, so
    one expiring exactly at `until` counts. With `include_compliant`, the keys nothing happens to are rows
    too (action none, no rule): the evidence that they pass."""
    rows = []
    for key in user.keys:
        alone = user.model_copy(update={"keys": (key,)})
        (current,) = decide(alone, policy, exemptions, now, deactivated)
        shown, at, reason = current, None, current.reason
        change = _next_change(key, current, policy, deactivated)
        if change is not None and change < until:
            (later,) = decide(alone, policy, exemptions, change + AFTER, deactivated)
            if later.action is not Action.NONE:
                shown, at, reason = later, change, later.reason
        exempt = _exempt_until(user, key, exemptions, now if at is None else at + AFTER)
        if shown.action is Action.EXEMPT and exempt is not None and exempt.expires_at <= until:
            (expired,) = decide(alone, policy, exemptions, exempt.expires_at, deactivated)
            if expired.action not in (Action.NONE, Action.EXEMPT):  # EXEMPT: a protected path or tag
                ends = f"{exempt.expires_at.astimezone(UTC):%Y-%m-%d %H:%M} UTC"
                shown, at = expired, exempt.expires_at
                reason = f"{expired.reason}; exempt until {ends} ({exempt.owner}: {exempt.reason})"
        if shown.action is Action.NONE and not include_compliant:
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
                reason=reason,
            )
        )
    return rows


def nominate(
    report: CredentialReport,
    policy: Policy,
    until: datetime,
    lifecycles: Mapping[str, KeyLifecycle],
    *,
    everyone: bool = False,
) -> tuple[str, ...]:
    """The users worth a live look: by the report, an active key that breaks a rule before `until`, or is
    in the warning window by then; the users whose rows do not read; in staged mode also the users of keys
    this service deactivated. Pure. The report's own age (up to four hours) widens the window: a user too
    many is read, none is missed. `everyone`: every user of the report (the compliant keys are listed too)."""
    if everyone:
        return tuple(sorted({row.user for row in report.users} | {row.user for row in report.problems}))
    found = set(candidates(report, policy.thresholds, until, warn_days=policy.warn_days_before))
    found |= {problem.user for problem in report.problems}  # rows that do not read: read live instead
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


@dataclass(frozen=True)
class Central:
    """One account's central state, read before any account is scanned."""

    exemptions: tuple[Exemption, ...] = ()
    lifecycles: dict[str, KeyLifecycle] = field(default_factory=dict)
    error: str | None = None
    """Why it could not be read: the account is then failed with this reason, and not read."""


def failure(exc: Exception, doing: str) -> str:
    """One line for an account's errors. A RemediatorError names its call already; anything else (a
    corrupt item, a report that does not parse) gets what was being done and what went wrong."""
    if isinstance(exc, RemediatorError):
        return str(exc)
    if isinstance(exc, ValidationError):
        fields = "; ".join(f"{'.'.join(map(str, e['loc'])) or '-'}: {e['msg']}" for e in exc.errors())
        return f"{doing}: invalid {exc.title}: {fields}"
    return f"{doing}: {type(exc).__name__}: {' '.join(str(exc).split())}"


def read_central(
    account_id: str,
    exemptions: ExemptionSource | None,
    lifecycle: LifecycleStore | None,
    *,
    now: datetime,
    max_exemption_days: int = DEFAULT_MAX_EXEMPTION_DAYS,
) -> Central:
    """The account's exemptions (those the remediator honours) and key lifecycles; both None without a
    central stack."""
    doing = f"exemptions of {account_id}"
    try:
        read = exemptions.read(account_id).valid if exemptions else ()
        known, _ = screen(read, now=now, max_days=max_exemption_days)
        doing = f"key lifecycles of {account_id}"
        lifecycles = lifecycle.for_account(account_id) if lifecycle else {}
    except Exception as exc:  # noqa: BLE001  # one bad item fails its account, listed; not the scan
        return Central(error=failure(exc, doing))
    return Central(known, lifecycles)


def scan_account(  # noqa: PLR0917
    account_id: str,
    open_member: OpenMember,
    central: Central,
    policy: Policy,
    now: datetime,
    until: datetime,
    *,
    include_compliant: bool = False,
) -> AccountScan:
    """One account, read only. Any failure is an error of the account, with its reason: of the whole
    account before its users are known, else of the one user, and the others are read. KeyboardInterrupt
    is no Exception: it still stops the scan."""
    if central.error is not None:
        return AccountScan(account_id, errors=(central.error,))
    doing = f"sts:AssumeRole into {account_id}"
    try:
        member = open_member(account_id)
        doing = f"credential report of {account_id}"
        report = member.credential_report()
        if report is None:
            doing = f"iam:ListUsers in {account_id}"
            nominated_by, users = "user listing", tuple(name for name, _ in member.users())
        else:
            nominated = nominate(report, policy, until, central.lifecycles, everyone=include_compliant)
            nominated_by, users = "credential report", nominated
    except Exception as exc:  # noqa: BLE001  # listed as this account's reason; the others go on
        return AccountScan(account_id, errors=(failure(exc, doing),))
    deactivated = deactivated_by_us(central.lifecycles)
    rows: list[Row] = []
    errors: list[str] = []
    read = 0
    for user_name in users:
        try:
            facts = member.read_user(user_name)
            if facts is None:  # deleted since the report or the listing
                continue
            rows.extend(
                plan_user(
                    facts,
                    policy,
                    central.exemptions,
                    now,
                    until,
                    deactivated,
                    include_compliant=include_compliant,
                )
            )
        except Exception as exc:  # noqa: BLE001  # listed; the account's other users are read
            errors.append(failure(exc, f"reading user {user_name} in {account_id}"))
            continue
        read += 1
    return AccountScan(account_id, tuple(rows), tuple(errors), nominated_by, read)


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
        totals = {action.value: counted[action] for action in ACTIONS}
        if counted[Action.NONE]:
            totals[Action.NONE.value] = counted[Action.NONE]
        return totals


def scan_accounts(  # noqa: PLR0917
    accounts: Iterable[str],
    factory: Callable[[], Opener],
    exemptions: ExemptionSource | None,
    lifecycle: LifecycleStore | None,
    policy: Policy,
    now: datetime,
    until: datetime,
    *,
    concurrency: int = 8,
    on_done: Callable[[AccountScan], None] | None = None,
    max_exemption_days: int = DEFAULT_MAX_EXEMPTION_DAYS,
    include_compliant: bool = False,
) -> ScanResult:
    """Every account, `concurrency` at a time; results in the order of `accounts`. First the central state
    of them all, then the accounts: nothing central is read once the first account is opened. `on_done`
    runs in the calling thread as each account finishes (a progress bar)."""
    if concurrency < 1:
        raise ValueError("concurrency must be at least 1")
    ordered = list(dict.fromkeys(accounts))
    local = threading.local()
    central: dict[str, Central] = {}

    def scan_one(account_id: str) -> AccountScan:
        opener: Opener | None = getattr(local, "opener", None)
        if opener is None:
            opener = local.opener = factory()
        try:
            return scan_account(
                account_id,
                opener.open,
                central[account_id],
                policy,
                now,
                until,
                include_compliant=include_compliant,
            )
        finally:
            opener.forget(account_id)

    done: dict[str, AccountScan] = {}
    executor = ThreadPoolExecutor(max_workers=concurrency, thread_name_prefix="akr-scan")
    try:
        reads = {
            executor.submit(
                read_central, a, exemptions, lifecycle, now=now, max_exemption_days=max_exemption_days
            ): a
            for a in ordered
        }
        for read in as_completed(reads):
            central[reads[read]] = read.result()
        futures: dict[Future[AccountScan], str] = {executor.submit(scan_one, a): a for a in ordered}
        for future in as_completed(futures):
            scanned = done[futures[future]] = future.result()
            if on_done is not None:
                on_done(scanned)
    finally:
        # On an interrupt: start no new account, let the running ones finish.
        executor.shutdown(wait=True, cancel_futures=True)
    return ScanResult(tuple(done[a] for a in ordered))
