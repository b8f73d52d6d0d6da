"""`akr status`'s reactivation check (org_bootstrap.deploy.coverage.reactivation_finding): the us-east-1
StackSet instance and the rule in it that forwards keys made active. Pure: no AWS, no doubles."""

from __future__ import annotations

import pytest

from org_bootstrap.deploy.coverage import (
    AccountFacts,
    AccountReport,
    Finding,
    ForwardingRule,
    assess,
    reactivation_finding,
)
from org_bootstrap.deploy.deployment import Deployment
from org_bootstrap.deploy.status import expected_for
from tests.unit.test_status_destroy_plans import (
    BUS,
    EXPECTED,
    MANAGEMENT,
    MEMBERS,
    ORGANIZATION,
    SECURITY,
    covered_facts,
    forwarder_role,
)

RULE = "akr-forward-key-reactivations"
MEMBER = MEMBERS[0]
HOME_BUS = BUS.replace("eu-west-1", "us-east-1")
AT_HOME = EXPECTED.model_copy(update={"home_region": "us-east-1", "bus_arn": HOME_BUS})
"""A deployment at home in us-east-1: one instance holds everything, checked as `stack`."""


def facts(**changes: object) -> AccountFacts:
    return covered_facts(MEMBER).model_copy(update=changes)


def rule(state: str = "ENABLED", target: str = BUS, role: str = forwarder_role(MEMBER)) -> ForwardingRule:
    return ForwardingRule(state=state, target_arns=(target,), role_arns=(role,))


def report(found: AccountFacts) -> AccountReport:
    return assess(found, EXPECTED, member_role="AccessKeyRemediationRole", remediator_role_exists=True)


def test_the_deployment_names_the_rule_its_region_and_the_forwarder_role() -> None:
    expected = expected_for(Deployment(security_account_id=SECURITY, home_region="eu-west-1"), ORGANIZATION)
    assert (expected.reactivation_rule, expected.events_region, expected.forwarder_role_name) == (
        RULE,
        "us-east-1",
        "AccessKeyRemediationForwarder",
    )
    # Outside the aws partition the rule stays in the home region (regions.global_events_region).
    china = expected_for(Deployment(security_account_id=SECURITY, home_region="cn-north-1"), ORGANIZATION)
    assert china.events_region == "cn-north-1"


def test_a_current_instance_with_the_rule_enabled_to_the_bus_through_the_forwarder_role_is_covered() -> None:
    found = report(facts())
    assert found.covered
    assert found.findings["reactivation"] == Finding(ok=True, detail="in us-east-1, to the central bus")


@pytest.mark.parametrize(
    ("changes", "problem"),
    [
        ({"events_stack_status": None}, "no member stack in us-east-1 (the reactivation forwarding rule)"),
        (
            {"events_stack_status": "SUCCEEDED", "events_stack_sync": "OUTDATED"},
            "member stack in us-east-1 OUTDATED (SUCCEEDED): not at the StackSet's last update, so its "
            "reactivation forwarding rule may be missing or out of date; akr deploy deploys it again",
        ),
        (
            {
                "events_stack_status": "FAILED",
                "events_stack_sync": "OUTDATED",
                "events_stack_reason": "denied",
            },
            "member stack in us-east-1 OUTDATED (FAILED): not at the StackSet's last update, so its "
            "reactivation forwarding rule may be missing or out of date; akr deploy deploys it again: denied",
        ),
        (
            {"events_stack_status": "INOPERABLE", "events_stack_sync": "INOPERABLE"},
            "member stack in us-east-1 INOPERABLE (INOPERABLE): not at the StackSet's last update, so its "
            "reactivation forwarding rule may be missing or out of date; akr deploy deploys it again",
        ),
        ({"events_stack_status": "FAILED", "events_stack_sync": ""}, "member stack in us-east-1 FAILED"),
        ({"reactivation_rule": None}, f"reactivation forwarding rule {RULE} is missing in us-east-1"),
        (
            {"reactivation_rule": rule("DISABLED")},
            f"reactivation forwarding rule {RULE} is DISABLED in us-east-1",
        ),
        (
            {"reactivation_rule": rule(target=BUS.replace(SECURITY, MANAGEMENT))},
            f"reactivation forwarding rule {RULE} in us-east-1 does not target {BUS} with the role "
            f"{forwarder_role(MEMBER)}",
        ),
        (
            {"reactivation_rule": rule(role=f"arn:aws:iam::{MEMBER}:role/SomeoneElse")},
            f"reactivation forwarding rule {RULE} in us-east-1 does not target {BUS} with the role "
            f"{forwarder_role(MEMBER)}",
        ),
        (
            # The forwarder role of another account: the bus admits it, but it is not this stack's.
            {"reactivation_rule": rule(role=forwarder_role(MEMBERS[1]))},
            f"reactivation forwarding rule {RULE} in us-east-1 does not target {BUS} with the role "
            f"{forwarder_role(MEMBER)}",
        ),
        (
            {"reactivation_rule": ForwardingRule(state="ENABLED", target_arns=(BUS,))},
            f"reactivation forwarding rule {RULE} in us-east-1 does not target {BUS} with the role "
            f"{forwarder_role(MEMBER)}",
        ),
    ],
    ids=[
        "no instance",
        "outdated instance",
        "failed update",
        "inoperable instance",
        "failed current instance",
        "no rule",
        "disabled",
        "other bus",
        "other role",
        "another account's forwarder",
        "no role",
    ],
)
def test_an_account_without_a_working_reactivation_rule_is_not_covered(
    changes: dict[str, object], problem: str
) -> None:
    found = report(facts(**changes))
    assert not found.covered
    assert found.findings["reactivation"] == Finding(ok=False, detail=problem)
    assert found.problems == [problem]


def test_one_of_several_targets_may_be_the_bus_through_the_forwarder_role() -> None:
    two = ForwardingRule(
        state="ENABLED",
        target_arns=("arn:aws:sns:us-east-1:333333333333:elsewhere", BUS),
        role_arns=("", forwarder_role(MEMBER)),
    )
    assert report(facts(reactivation_rule=two)).covered


def test_at_home_in_us_east_1_the_one_instance_is_not_checked_twice_and_holds_the_rule() -> None:
    """The home stack is the `stack` check; no instance of the events region is looked for."""
    alone = facts(events_stack_status=None, reactivation_rule=rule(target=HOME_BUS))
    assert reactivation_finding(alone, AT_HOME) == Finding(ok=True, detail="in us-east-1, to the central bus")
    assert reactivation_finding(alone.model_copy(update={"reactivation_rule": None}), AT_HOME) == Finding(
        ok=False, detail=f"reactivation forwarding rule {RULE} is missing in us-east-1"
    )


def test_the_management_account_outside_us_east_1_is_the_known_gap_not_a_problem() -> None:
    management = facts(
        account_id=MANAGEMENT, management=True, events_stack_status=None, reactivation_rule=None
    )
    assert reactivation_finding(management, EXPECTED) == Finding(
        ok=True,
        detail=(
            "known gap: the management account's stack is in eu-west-1 only, so it has no "
            f"{RULE} in us-east-1"
        ),
    )
    assert report(management).covered


def test_the_management_account_at_home_in_us_east_1_has_the_rule_checked() -> None:
    management = facts(account_id=MANAGEMENT, management=True, events_stack_status=None)
    disabled = management.model_copy(
        update={"reactivation_rule": rule("DISABLED", target=HOME_BUS, role=forwarder_role(MANAGEMENT))}
    )
    assert reactivation_finding(disabled, AT_HOME) == Finding(
        ok=False, detail=f"reactivation forwarding rule {RULE} is DISABLED in us-east-1"
    )


def test_an_unreachable_account_missing_its_us_east_1_instance_says_so() -> None:
    """The instance is read from the StackSet, not in the account: known even when the account is not."""
    found = report(
        AccountFacts(account_id=MEMBER, name="member", stack_status="SUCCEEDED", unreachable="denied")
    )
    assert found.problems == [
        "cannot look into the account: denied",
        "no member stack in us-east-1 (the reactivation forwarding rule)",
    ]
    present = AccountFacts(
        account_id=MEMBER,
        name="member",
        stack_status="SUCCEEDED",
        events_stack_status="SUCCEEDED",
        unreachable="x",
    )
    assert report(present).findings["reactivation"].ok is None
