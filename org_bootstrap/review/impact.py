"""The deploy plan's figure of how many keys the policy about to be deployed would act on at once.

akr scan's own runner (org_bootstrap.review.scan_plan.run_scan), not a second scanner: in each account the
deployment acts in, the credential report nominates the users, they are read live through --account-role
under the scan's read-only session policy, and remediator.decision.decide decides with the central
exemptions and key lifecycles. The policy is the one the plan sends (mode, limits, grace and warning days,
protected path) over the deployed remediator's other settings. Read-only, as akr scan is.

It runs on a first deploy and when the policy's mode or limits change: then the figure is what the first
runs of the new policy meet. With --skip-scan the plan says it was not counted, and how to count it.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from org_bootstrap.aws import Aws
from org_bootstrap.deploy.apply import Prepared
from org_bootstrap.deploy.central import central_location, settings_from
from org_bootstrap.deploy.deployment import Deployment, ManagementAccount, PolicyError, resolve_policy
from org_bootstrap.deploy.observed import Observed
from org_bootstrap.deploy.plan import Change, Plan
from org_bootstrap.review.rate_limit import RateLimiter
from org_bootstrap.review.scan import AccountScan, ScanResult
from org_bootstrap.review.scan_plan import ScanPlan, ScanPolicy, run_scan
from remediator.composition import utc_now
from remediator.decision import Action
from remediator.exemptions import DEFAULT_MAX_EXEMPTION_DAYS
from remediator.policy import Policy

ACTS = (Action.DELETE, Action.DEACTIVATE)
"""What counts as acting on a key: the actions the circuit breaker counts."""
SCAN_RATE = 20.0
"""Requests a second, all accounts together: akr scan's default --max-calls-per-second."""
SCAN_CONCURRENCY = 8


def policy_changes(plan: Plan, deployment: Deployment, observed: Observed) -> bool:
    """A first deploy (or a central stack created again), or another mode or limit than deployed."""
    central = observed.central_stack
    if central is None or plan.central in (Change.CREATE, Change.RECREATE):
        return True
    bare = Deployment(security_account_id=deployment.security_account_id, home_region=deployment.home_region)
    try:
        deployed = resolve_policy(bare, central=central.parameters, member=None)
    except PolicyError:
        return True  # what is deployed cannot be read: count what the new policy meets
    return (deployed.mode, deployed.thresholds) != (plan.policy.mode, plan.policy.thresholds)


def acted_in(plan: Plan, observed: Observed) -> tuple[str, ...]:
    """The ACTIVE accounts the deployment acts in: the targets', and the management account in enforce
    (in report or off nothing is done there)."""
    accounts = [
        a for a in observed.target_accounts if (found := observed.account(a)) and found.status == "ACTIVE"
    ]
    if plan.management_choice.mode is ManagementAccount.ENFORCE:
        accounts.append(observed.management_account)
    return tuple(sorted(set(accounts)))


def scan_policy(plan: Plan, deployment: Deployment, observed: Observed) -> ScanPolicy:
    """The plan's policy over the deployed remediator's other settings (the defaults on a first deploy),
    with the deployed central exemptions and lifecycles."""
    stack = observed.central_stack
    tables = {"AuditTableName", "StateTableName"}  # what settings_from reads of the outputs
    usable = stack is not None and plan.central is not Change.RECREATE and tables <= stack.outputs.keys()
    new = plan.policy
    if stack is not None and usable:
        settings = settings_from(stack, account_role=deployment.account_role, quiet=True)
        base, state_table, horizon = settings.policy, settings.state_table, settings.max_exemption_days
        source, note = "deployed", f"the parameters of stack {stack.name} in {central_location(deployment)}"
    else:
        base, state_table = Policy(), None
        horizon = DEFAULT_MAX_EXEMPTION_DAYS
        source, note = "defaults", "no central stack yet: no central exemptions"
    policy = base.model_copy(
        update={
            "mode": new.mode,
            "thresholds": new.thresholds,
            "grace_days": new.grace_days,
            "warn_days_before": new.warn_days_before,
            "protected_user_path": new.protected_user_path or None,
        }
    )
    return ScanPolicy(policy, source, note, {}, state_table, base, horizon)


@dataclass(frozen=True)
class Impact:
    """What the first runs of the new policy would do, by account."""

    scanned: tuple[AccountScan, ...]
    per_account_cap: int
    per_day_cap: int

    def acted(self, action: Action | None = None) -> int:
        wanted = (action,) if action else ACTS
        return sum(1 for a in self.scanned for row in a.rows if row.at is None and row.action in wanted)

    @property
    def accounts_acted_in(self) -> int:
        return sum(1 for a in self.scanned if any(r.at is None and r.action in ACTS for r in a.rows))

    @property
    def first_day(self) -> int:
        """How many of them the circuit breaker lets through on the first day."""
        per_account = [
            min(self.per_account_cap, sum(1 for r in a.rows if r.at is None and r.action in ACTS))
            for a in self.scanned
        ]
        return min(self.per_day_cap, sum(per_account))

    @property
    def failed(self) -> tuple[str, ...]:
        return tuple(a.account_id for a in self.scanned if a.failed)


def count_impact(
    aws: Aws,
    deployment: Deployment,
    plan: Plan,
    observed: Observed,
    *,
    tick: Callable[[AccountScan], None] | None = None,
) -> Impact:
    """Scan the accounts the deployment acts in with the plan's policy, now (no horizon: at once)."""
    now = utc_now()
    scan = ScanPlan(
        caller=observed.caller_account,
        organization_id=observed.organization_id,
        accounts=acted_in(plan, observed),
        policy=scan_policy(plan, deployment, observed),
        account_role=deployment.account_role,
        now=now,
        within="0s",
        until=now,
    )
    result: ScanResult = run_scan(
        aws,
        deployment,
        scan,
        limiter=RateLimiter(SCAN_RATE),
        concurrency=SCAN_CONCURRENCY,
        on_done=tick,
    )
    return Impact(result.accounts, plan.policy.max_actions_per_account, plan.policy.max_actions_per_day)


def _scan_command(plan: Plan) -> str:
    limits = plan.policy.thresholds
    return (
        f"akr scan --mode {plan.policy.mode.value} --max-key-age-days {limits.max_key_age_days} "
        f"--max-unused-days {limits.max_unused_days}"
    )


def describe_impact(plan: Plan, impact: Impact) -> str:
    """The plan's line: the figure, what the circuit breaker makes of it, and how it was obtained."""
    policy = plan.policy
    what = (
        f"The new policy (mode {policy.mode.value}, limits {policy.thresholds.max_key_age_days} days of age, "
        f"{policy.thresholds.max_unused_days} unused)"
    )
    total = impact.acted()
    accounts = len(impact.scanned)
    if total:
        split = ", ".join(
            f"{impact.acted(a)} {verb}"
            for a, verb in ((Action.DELETE, "deleted"), (Action.DEACTIVATE, "deactivated"))
            if impact.acted(a)
        )
        figure = (
            f"would act on {total} key(s) at once ({split}) in {impact.accounts_acted_in} of the {accounts} "
            "account(s) it acts in"
        )
        held = total - impact.first_day
        caps = f"{impact.per_account_cap} per account, {impact.per_day_cap} a day"
        figure += (
            f"; the circuit breaker ({caps}) lets {impact.first_day} through on the first day and holds "
            f"{held} back to the following days"
            if held
            else f"; all of them on the first day, within the circuit breaker's caps ({caps})"
        )
    else:
        reported = impact.acted(Action.REPORT)
        figure = f"would act on no key at once in the {accounts} account(s) it acts in" + (
            f" ({reported} would be reported)" if reported else ""
        )
    how = (
        "counted just now by a read-only scan (akr scan's: each account's credential report, those users "
        f"read live through the account role, the central exemptions); {_scan_command(plan)} lists them"
    )
    line = f"{what} {figure}: {how}"
    if impact.failed:
        line += (
            f"; {len(impact.failed)} account(s) could not be read ({', '.join(impact.failed)}): their keys "
            "are not in the figure"
        )
    return line


def not_counted(plan: Plan) -> str:
    return (
        "How many keys the new policy would act on at once was not counted (--skip-scan): "
        f"{_scan_command(plan)} counts them"
    )


def impact_lines(aws: Aws, prepared: Prepared, report: Callable[[str], None], *, skip: bool) -> list[str]:
    """The plan's line: on a first deploy and when the mode or a limit changes, how many keys the new policy
    would act on at once (or, with `skip`, that it was not counted); else none."""
    plan, deployment, observed = prepared.plan, prepared.deployment, prepared.observed
    if not policy_changes(plan, deployment, observed):
        return []
    if skip:
        return [not_counted(plan)]
    accounts = acted_in(plan, observed)
    report(f"counting the keys the new policy would act on at once in {len(accounts)} account(s)")
    return [describe_impact(plan, count_impact(aws, deployment, plan, observed))]
