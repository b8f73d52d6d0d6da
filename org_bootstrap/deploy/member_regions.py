"""Where the member StackSet has and lacks instances: the home region, and the region of IAM's events
(regions.member_regions), whose instance holds only the reactivation forwarding rule. Pure."""

from __future__ import annotations

from typing import NamedTuple

from org_bootstrap.deploy.observed import ACTIVE, Observed
from org_bootstrap.deploy.regions import member_regions


class Coverage(NamedTuple):
    regions: tuple[str, ...] = ()
    """The StackSet's regions, the home region first."""
    held: tuple[str, ...] = ()
    """Those that hold instances now: what an update of the StackSet names."""
    added: tuple[str, ...] = ()
    """Regions beside the home region without any instance: a deployment from before the reactivation
    forwarding rule gets its us-east-1 instances there. (An account that joins later gets an instance in
    every region of the StackSet, from AutoDeployment or with the accounts missing in the home region.)"""
    missing: tuple[str, ...] = ()
    """ACTIVE target accounts without an instance in the home region."""


def is_active(observed: Observed, account_id: str) -> bool:
    """An account StackSets deploy to: ACTIVE, or not among the organization's accounts akr read."""
    account = observed.account(account_id)
    return account is None or account.status == ACTIVE


def stackset_coverage(home_region: str, observed: Observed) -> Coverage:
    instances = {(i.account_id, i.region) for i in (observed.stackset.instances if observed.stackset else ())}
    active = [a for a in observed.target_accounts if is_active(observed, a)]
    regions = member_regions(home_region)
    present = {region for _, region in instances}
    return Coverage(
        regions=regions,
        held=tuple(r for r in regions if r in present),
        added=tuple(r for r in regions[1:] if r not in present) if observed.stackset else (),
        missing=tuple(a for a in active if (a, home_region) not in instances),
    )
