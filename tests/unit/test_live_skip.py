"""The live suite runs only when selected with -m live and given a sandbox organization; otherwise it skips
and says why, before it sends anything (tests/live/conftest.py)."""

from __future__ import annotations

import pytest

from tests.live.conftest import why_not

SANDBOX = {
    "AKR_LIVE_SECURITY_ACCOUNT": "222222222222",
    "AKR_LIVE_REGION": "eu-west-1",
    "AKR_LIVE_MEMBER_ACCOUNT": "333333333333",
    "AKR_LIVE_STALE_USER": "akr-live-stale",
}
OPT_IN = "opt-in: runs against a real AWS organization only when selected, pytest -m live (make live-test)"


@pytest.mark.parametrize("markexpr", ["", "not live", "slow", "not live and slow"])
def test_not_selected_it_skips_even_with_a_sandbox(markexpr: str) -> None:
    assert why_not(markexpr, SANDBOX) == OPT_IN


@pytest.mark.parametrize("markexpr", ["live", "live and not slow"])
def test_selected_it_runs_with_a_sandbox(markexpr: str) -> None:
    assert why_not(markexpr, SANDBOX) is None


@pytest.mark.parametrize("missing", sorted(SANDBOX))
def test_selected_without_a_setting_it_skips_and_names_it(missing: str) -> None:
    reason = why_not("live", {k: v for k, v in SANDBOX.items() if k != missing})
    assert reason is not None
    assert reason.startswith(f"{missing} is not set")
