"""The decision core: (facts, policy, exemptions, now) -> one decision per key.

Pure on purpose: no boto3, no clock, no environment, no logging. Every outcome carries its reason.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import UTC, datetime, timedelta
from enum import StrEnum

from pydantic import AwareDatetime, BaseModel, ConfigDict

from remediator.exemptions import Exemption
from remediator.facts import KeyFacts, UserFacts
from remediator.policy import Mode, Policy

DAY = timedelta(days=1)


class Rule(StrEnum):
    ROTATION = "rotation"
    """The key is older than max_key_age_days (ACCESS_KEYS_ROTATED)."""
    UNUSED = "unused"
    """The key was last used (or, never used, created) more than max_unused_days ago."""


class Action(StrEnum):
    NONE = "none"
    """Within policy, or inactive: nothing to do."""
    REPORT = "report"
    """Violating, but the mode is report: recorded, not touched."""
    WARN = "warn"
    """Within policy, but due within the warning window: the owner is told, nothing is touched."""
    EXEMPT = "exempt"
    DEACTIVATE = "deactivate"
    DELETE = "delete"
    REACTIVATE = "reactivate"
    """Only by an operator's undo, never decided here."""

    @property
    def mutates(self) -> bool:
        return self in (Action.DEACTIVATE, Action.DELETE, Action.REACTIVATE)


class Decision(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    access_key_id: str
    action: Action
    rules: tuple[Rule, ...]
    """The rules the key breaks now; empty when it breaks none."""
    reason: str
    key_status: str
    key_created_at: AwareDatetime
    key_age_days: int
    last_used_at: AwareDatetime | None
    due_at: AwareDatetime | None
    """The last instant an active key is within policy (it violates strictly after); None if inactive."""
    planned_action: Action | None = None
    """For a warning: what will happen at `due_at`."""


def decide(
    user: UserFacts,
    policy: Policy,
    exemptions: Iterable[Exemption],
    now: datetime,
    deactivated_by_us: Mapping[str, datetime] | None = None,
) -> tuple[Decision, ...]:
    """Decide every key of `user` against both rules, whichever rule fired.

    `deactivated_by_us`: AccessKeyId -> when this service deactivated it (staged mode deletes such a key
    once the grace period has passed, if it is still inactive).
    """
    in_force = tuple(exemptions)
    deactivated = deactivated_by_us or {}
    return tuple(_decide_key(user, key, policy, in_force, now, deactivated) for key in user.keys)


def _decide_key(  # noqa: PLR0917
    user: UserFacts,
    key: KeyFacts,
    policy: Policy,
    exemptions: tuple[Exemption, ...],
    now: datetime,
    deactivated: Mapping[str, datetime],
) -> Decision:
    age_days = (now - key.created_at) // DAY
    max_age = timedelta(days=policy.thresholds.max_key_age_days)
    max_unused = timedelta(days=policy.thresholds.max_unused_days)
    due_at = min(key.created_at + max_age, key.last_activity + max_unused) if key.is_active else None

    def decision(
        action: Action, rules: tuple[Rule, ...], reason: str, planned: Action | None = None
    ) -> Decision:
        return Decision(
            access_key_id=key.access_key_id,
            action=action,
            rules=rules,
            reason=reason,
            key_status=key.status,
            key_created_at=key.created_at,
            key_age_days=age_days,
            last_used_at=key.last_used_at,
            due_at=due_at,
            planned_action=planned,
        )

    if not key.is_active:
        since = deactivated.get(key.access_key_id)
        if since is None or policy.mode is not Mode.STAGED:
            return decision(Action.NONE, (), f"key is {key.status}; the rules apply to active keys only")
        grace = timedelta(days=policy.grace_days)
        why = f"deactivated by this service on {since:%Y-%m-%d}"
        if key.last_used_at is not None and key.last_used_at > since:
            # Someone made it active and used it in between, even if no sweep saw it active: never
            # delete on the strength of the old deactivation.
            return decision(
                Action.NONE, (), f"{why}; used since, on {key.last_used_at:%Y-%m-%d}: not deleted"
            )
        if now - since <= grace:
            return decision(
                Action.NONE, (), f"{why}; deleted after {since + grace:%Y-%m-%d} if still inactive"
            )
        exempt = _exemption(user, key, policy, exemptions, now)
        if exempt:
            return decision(Action.EXEMPT, (), f"{why}; {exempt}")
        return decision(Action.DELETE, (), f"{why}; the {policy.grace_days}-day grace period has passed")

    # A key violates when it is strictly more than N x 24 h past its mark.
    broken: list[tuple[Rule, str]] = []
    if now - key.created_at > max_age:
        broken.append((Rule.ROTATION, f"created {age_days} days ago, limit {max_age.days}"))
    idle = now - key.last_activity
    if idle > max_unused:
        since_text = "last used" if key.last_used_at else "never used, created"
        broken.append((Rule.UNUSED, f"{since_text} {idle // DAY} days ago, limit {max_unused.days}"))
    planned = _planned(policy.mode)
    if not broken:
        assert due_at is not None  # noqa: S101  # active keys always have one
        warn = policy.warn_days_before and policy.mode is not Mode.REPORT  # report mode does nothing
        if warn and due_at - now <= timedelta(days=policy.warn_days_before):
            exempt = _exemption(user, key, policy, exemptions, now)
            if exempt:
                return decision(Action.NONE, (), f"within policy until {due_at:%Y-%m-%d}; {exempt}")
            return decision(
                Action.WARN, (), f"within policy until {due_at:%Y-%m-%d}; then {planned.value}", planned
            )
        return decision(Action.NONE, (), "within policy")

    rules = tuple(rule for rule, _ in broken)
    why = "; ".join(text for _, text in broken)
    exempt = _exemption(user, key, policy, exemptions, now)
    if exempt:
        return decision(Action.EXEMPT, rules, f"{why}; {exempt}")
    if policy.mode is Mode.REPORT:
        return decision(Action.REPORT, rules, f"{why}; report mode, not changed")
    return decision(planned, rules, why)


def _planned(mode: Mode) -> Action:
    """What the mode does to a violating key: deactivate and staged both deactivate now (staged deletes
    after the grace period), report only records."""
    return {Mode.REPORT: Action.REPORT, Mode.DELETE: Action.DELETE}.get(mode, Action.DEACTIVATE)


def _exemption(
    user: UserFacts, key: KeyFacts, policy: Policy, exemptions: tuple[Exemption, ...], now: datetime
) -> str | None:
    """Why the key is exempt, or None."""
    if policy.protected_user_path and user.path.startswith(policy.protected_user_path):
        return f"exempt: user path {user.path} is protected"
    if policy.opt_out_tag_key and user.tags.get(policy.opt_out_tag_key, "").lower() == "true":
        return f"exempt by user tag {policy.opt_out_tag_key}=true"
    for exemption in exemptions:
        if exemption.covers(
            account_id=user.account_id, user_name=user.user_name, access_key_id=key.access_key_id, now=now
        ):
            until = exemption.expires_at.astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC")
            return f"exempt until {until} ({exemption.owner}: {exemption.reason})"
    return None
