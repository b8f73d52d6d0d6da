"""The live suite's settings, and why it skips. It runs only when asked twice: selected with `-m live`
(make live-test), and given a sandbox organization through AKR_LIVE_SECURITY_ACCOUNT and credentials in the
environment the test run starts with. Otherwise every test skips and says why, before anything is sent.
docs/live-testing.md says what to prepare and what each variable means."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from dataclasses import dataclass
from typing import Any

import pytest

from tests.conftest import ORIGINAL_ENVIRONMENT
from tests.stacksets.cfn import REPO

SECURITY_ACCOUNT = "AKR_LIVE_SECURITY_ACCOUNT"
SELECTED = re.compile(r"(?<!not )\blive\b")


@dataclass(frozen=True)
class Live:
    security_account: str
    region: str
    targets: tuple[str, ...]
    member_account: str
    stale_user: str
    account_role: str
    create_recorder: bool
    event_minutes: int
    environment: dict[str, str]

    def akr(self, *args: str, timeout_minutes: int = 60) -> tuple[int, dict[str, Any]]:
        """`akr <args> --region <home region> --output json` in the environment the run started with: its
        exit code and its JSON."""
        completed = subprocess.run(  # the repository's own command line
            [sys.executable, "-m", "org_bootstrap", *args, "--region", self.region, "--output", "json"],
            env=self.environment,
            cwd=REPO,
            capture_output=True,
            text=True,
            timeout=timeout_minutes * 60,
            check=False,
        )
        try:
            payload: dict[str, Any] = json.loads(completed.stdout)
        except ValueError:
            pytest.fail(
                f"akr {' '.join(args)} printed no JSON (exit {completed.returncode}):\n{completed.stderr}"
            )
        return completed.returncode, payload

    def aws(self, *args: str) -> Any:
        """One of tests/live/aws_calls.py's commands, in that environment; its JSON."""
        completed = subprocess.run(  # the repository's own module
            [sys.executable, "-m", "tests.live.aws_calls", *args],
            env=self.environment,
            cwd=REPO,
            capture_output=True,
            text=True,
            timeout=600,
            check=False,
        )
        if completed.returncode != 0:
            pytest.fail(f"aws_calls {' '.join(args)} failed:\n{completed.stderr}")
        return json.loads(completed.stdout)

    @property
    def entered(self) -> tuple[str, ...]:
        return ("--role", self.account_role, "--region", self.region)


def why_not(markexpr: str, environment: dict[str, str]) -> str | None:
    """Why the live suite does not run; None when it does."""
    if not SELECTED.search(markexpr or ""):
        return (
            "opt-in: runs against a real AWS organization only when selected, pytest -m live (make live-test)"
        )
    if not environment.get(SECURITY_ACCOUNT):
        return f"{SECURITY_ACCOUNT} is not set: no sandbox organization to run against (docs/live-testing.md)"
    for name in ("AKR_LIVE_REGION", "AKR_LIVE_MEMBER_ACCOUNT", "AKR_LIVE_STALE_USER"):
        if not environment.get(name):
            return f"{name} is not set (docs/live-testing.md)"
    return None


@pytest.fixture(scope="session")
def live(request: pytest.FixtureRequest) -> Live:
    environment = dict(ORIGINAL_ENVIRONMENT)
    reason = why_not(request.config.option.markexpr, environment)
    if reason:
        pytest.skip(reason)
    settings = Live(
        security_account=environment[SECURITY_ACCOUNT],
        region=environment["AKR_LIVE_REGION"],
        targets=tuple(t for t in environment.get("AKR_LIVE_TARGETS", "").split(",") if t),
        member_account=environment["AKR_LIVE_MEMBER_ACCOUNT"],
        stale_user=environment["AKR_LIVE_STALE_USER"],
        account_role=environment.get("AKR_LIVE_ACCOUNT_ROLE", "OrganizationAccountAccessRole"),
        create_recorder=environment.get("AKR_LIVE_CREATE_RECORDER", "").lower() == "true",
        event_minutes=int(environment.get("AKR_LIVE_EVENT_MINUTES", "45")),
        environment=environment,
    )
    if not settings.aws("credentials"):
        pytest.skip("no AWS credentials in the environment the test run started with (docs/live-testing.md)")
    return settings
