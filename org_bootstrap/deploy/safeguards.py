"""What keeps a deploy from acting on too many keys at once, in words: the 30-day floor of the limits (below
it only with --i-know), and the circuit breaker's caps (what a deployment that predates them gets, and what
a change of them means). Pure."""

from __future__ import annotations

from org_bootstrap.deploy.deployment import CAP_PER_ACCOUNT, CAP_PER_DAY, Deployment
from org_bootstrap.deploy.observed import Observed
from org_bootstrap.deploy.plan import Change, ParameterChange, Plan, PlanError

THRESHOLD_FLOOR_DAYS = 30
"""A limit below this is refused without --i-know: a key that young is most likely in use, and a limit that
low acts on most of the organization's keys at once."""
I_KNOW = "--i-know"


def below_floor(deployment: Deployment) -> list[str]:
    """The limits given on the command line below the floor, in words. Only the options given: a deployed
    value was given (and acknowledged) by an earlier deploy."""
    found = []
    limits = (
        ("--max-key-age-days", deployment.max_key_age_days, "older than"),
        ("--max-unused-days", deployment.max_unused_days, "unused for more than"),
    )
    for option, days, what in limits:
        if days is not None and days < THRESHOLD_FLOOR_DAYS:
            found.append(
                f"{option} {days} is below the {THRESHOLD_FLOOR_DAYS}-day floor: every key {what} {days} "
                "day(s) in the organization would be acted on, and keys that young are most likely in use"
            )
    return found


def check_floor(deployment: Deployment, *, i_know: bool) -> None:
    """Refuse a limit below the floor without --i-know, before anything is read or changed."""
    found = below_floor(deployment)
    if found and not i_know:
        raise PlanError(f"{'; '.join(found)}; pass {I_KNOW} to deploy it anyway")


def acknowledged(deployment: Deployment) -> list[str]:
    """The plan's lines for the limits below the floor that --i-know lets through."""
    return [f"{line} (deployed anyway: {I_KNOW})" for line in below_floor(deployment)]


def _caps(plan: Plan) -> str:
    return (
        f"at most {plan.policy.max_actions_per_account} key action(s) (deactivations, deletions) per "
        f"account and {plan.policy.max_actions_per_day} in the organization per UTC day"
    )


def cap_notes(plan: Plan, observed: Observed) -> list[str]:
    """What the circuit breaker's caps mean for a deployed central stack: a stack that predates them gets
    them (the template's defaults, 30 and 300, unless the options say otherwise); a change is said in
    words, both ways."""
    central = observed.central_stack
    if plan.central is not Change.UPDATE or central is None:
        return []
    if CAP_PER_ACCOUNT not in central.parameters or CAP_PER_DAY not in central.parameters:
        return [
            f"The remediator gets a circuit breaker, which the deployed stack predates: {_caps(plan)}; past "
            "either cap the rest of the day's keys are only reported (the sweep acts on them on the "
            "following days), the audit records say which cap, and CircuitBreakerAlarm fires; "
            "--max-actions-per-account and --max-actions-per-day change the caps"
        ]
    changed = [plan.central_diff.change(CAP_PER_ACCOUNT), plan.central_diff.change(CAP_PER_DAY)]
    if not any(changed):
        return []
    return [f"The circuit breaker's caps change: {_caps(plan)}{_was(changed)}"]


def cap_warnings(plan: Plan) -> list[str]:
    """A raised cap lets more keys be acted on in a day: a line that needs the operator's attention."""
    found = []
    for name, per in ((CAP_PER_ACCOUNT, "in one account"), (CAP_PER_DAY, "in the organization")):
        change = plan.central_diff.change(name)
        if change and change.old and change.old.isdigit() and int(change.new) > int(change.old):
            found.append(
                f"More keys can be acted on in a day {per}: {name} {change.old} -> {change.new} (the circuit "
                "breaker trips later)"
            )
    return found


def _was(changes: list[ParameterChange | None]) -> str:
    olds = [f"{c.name} was {c.old}" for c in changes if c is not None and c.old is not None]
    return f" ({', '.join(olds)})" if olds else ""
