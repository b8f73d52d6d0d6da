"""The decision core: (facts, policy, exemptions, now) -> one decision per key.

Pure on purpose: no boto3, no clock, no environment, no logging. Every outcome carries its reason.
"""

from __future__ import annotations

from collections.abc import Iterable
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
    EXEMPT = "exempt"
    DEACTIVATE = "deactivate"
    DELETE = "delete"

    @property
    def mutates(self) -> bool:
        return self in (Action.DEACTIVATE, Action.DELETE)


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


def decide(
    user: UserFacts, policy: Policy, exemptions: Iterable[Exemption], now: datetime
) -> tuple[Decision, ...]:
    """Decide every key of `user` against both rules, whichever rule fired."""
    in_force = tuple(exemptions)
    return tuple(_decide_key(user, key, policy, in_force, now) for key in user.keys)


def _decide_key(
    user: UserFacts, key: KeyFacts, policy: Policy, exemptions: tuple[Exemption, ...], now: datetime
) -> Decision:
    age_days = (now - key.created_at) // DAY
    max_age = timedelta(days=policy.thresholds.max_key_age_days)
    max_unused = timedelta(days=policy.thresholds.max_unused_days)

    def decision(action: Action, rules: tuple[Rule, ...], reason: str) -> Decision:
        return Decision(
            access_key_id=key.access_key_id,
            action=action,
            rules=rules,
            reason=reason,
            key_status=key.status,
            key_created_at=key.created_at,
            key_age_days=age_days,
            last_used_at=key.last_used_at,
            due_at=min(key.created_at + max_age, key.last_activity + max_unused) if key.is_active else None,
        )

    if not key.is_active:
        return decision(Action.NONE, (), f"key is {key.status}; the rules apply to active keys only")

    # A key violates when it is strictly more than N x 24 h past its mark.
    broken: list[tuple[Rule, str]] = []
    if now - key.created_at > max_age:
        broken.append((Rule.ROTATION, f"created {age_days} days ago, limit {max_age.days}"))
    idle = now - key.last_activity
    if idle > max_unused:
        since = "last used" if key.last_used_at else "never used, created"
        broken.append((Rule.UNUSED, f"{since} {idle // DAY} days ago, limit {max_unused.days}"))
    if not broken:
        return decision(Action.NONE, (), "within policy")

    rules = tuple(rule for rule, _ in broken)
    why = "; ".join(text for _, text in broken)
    if policy.protected_user_path and user.path.startswith(policy.protected_user_path):
        return decision(Action.EXEMPT, rules, f"{why}; exempt: user path {user.path} is protected")
    if policy.opt_out_tag_key and user.tags.get(policy.opt_out_tag_key, "").lower() == "true":
        return decision(Action.EXEMPT, rules, f"{why}; exempt by user tag {policy.opt_out_tag_key}=true")
    for exemption in exemptions:
        if exemption.covers(
            account_id=user.account_id, user_name=user.user_name, access_key_id=key.access_key_id, now=now
        ):
            until = exemption.expires_at.astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC")
            return decision(
                Action.EXEMPT, rules, f"{why}; exempt until {until} ({exemption.owner}: {exemption.reason})"
            )
    if policy.mode is Mode.REPORT:
        return decision(Action.REPORT, rules, f"{why}; report mode, not changed")
    if policy.mode is Mode.DELETE:
        return decision(Action.DELETE, rules, why)
    # deactivate and staged both deactivate now; in staged mode the sweep deletes after the grace period.
    return decision(Action.DEACTIVATE, rules, why)
