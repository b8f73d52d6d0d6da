"""The management account under --management-account report: the remediator decides its keys in report mode
whatever the deployed mode (its member role holds no key action there), on the event path and in the sweep;
under off, the sweep leaves it out. Over the in-memory fakes, and the settings as the functions read them."""

from __future__ import annotations

import pytest

from remediator.policy import Mode
from remediator.settings import load_settings
from tests.functional.test_service import ACCOUNT, World, key, user

BASE = {"AKR_AUDIT_TABLE": "audit", "AKR_STATE_TABLE": "state"}


def test_a_report_only_account_is_reported_and_never_changed_on_the_event_path() -> None:
    world = World(Mode.DELETE, report_only=frozenset({ACCOUNT}))
    alice = user("alice", key("AKIAOLD", 120), key("AKIANEW", 5))
    world.member.add(alice)
    world.remediator.remediate_event(world.event(alice))
    assert world.status("alice") == {"AKIAOLD": "Active", "AKIANEW": "Active"}
    assert "delete_key" not in world.member.calls and "deactivate_key" not in world.member.calls
    decided = {r.access_key_id: (r.decision, r.mode) for r in world.audit.records if r.access_key_id}
    assert decided["AKIAOLD"] == ("report", "report")


def test_a_report_only_account_is_reported_in_the_sweep_too() -> None:
    world = World(Mode.DELETE, report_only=frozenset({ACCOUNT}))
    world.member.add(user("bob", key("AKIAOLDER", 200)))
    world.remediator.sweep_account(ACCOUNT, region="eu-west-1", label="sweep-1")
    assert world.status("bob") == {"AKIAOLDER": "Active"}
    assert {r.mode for r in world.audit.records} == {"report"}


def test_another_account_is_still_treated_in_the_deployed_mode() -> None:
    world = World(Mode.DELETE, report_only=frozenset({"999999999999"}))
    alice = user("alice", key("AKIAOLD", 120))
    world.member.add(alice)
    world.remediator.remediate_event(world.event(alice))
    assert "AKIAOLD" not in world.status("alice")  # deleted


@pytest.mark.parametrize(
    ("mode", "report_only", "unswept"),
    [
        ("report", frozenset({ACCOUNT}), frozenset()),
        ("off", frozenset(), frozenset({ACCOUNT})),
        ("enforce", frozenset(), frozenset()),
    ],
)
def test_the_settings_name_the_management_account_by_its_mode(
    mode: str, report_only: frozenset[str], unswept: frozenset[str]
) -> None:
    settings = load_settings(
        {**BASE, "AKR_MANAGEMENT_ACCOUNT_ID": ACCOUNT, "AKR_MANAGEMENT_ACCOUNT_MODE": mode}
    )
    assert (settings.report_only_accounts, settings.unswept_accounts) == (report_only, unswept)


def test_a_stack_from_before_the_setting_treats_the_management_account_as_every_account() -> None:
    settings = load_settings({**BASE, "AKR_MANAGEMENT_ACCOUNT_ID": ""})
    assert settings.management_account_mode == "enforce"
    assert (settings.report_only_accounts, settings.unswept_accounts) == (frozenset(), frozenset())
