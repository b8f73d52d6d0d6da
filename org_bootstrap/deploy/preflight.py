"""The pre-flight: what would fail if the plan were carried out now, found before anything is created.
Pure data and wording; org_bootstrap.deploy.readiness reads what it needs."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict


class Preflight(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    problems: tuple[str, ...] = ()
    """What would fail. While there is one the deploy does not start: --yes does not skip them."""
    unchecked: tuple[str, ...] = ()
    """What could not be looked at (an account the caller cannot enter): said, not held against the plan."""


def describe_preflight(preflight: Preflight) -> list[str]:
    """The plan's lines for the pre-flight, after its "Would ..." lines."""
    return [f"Problem: {problem}" for problem in preflight.problems] + [
        f"Not checked: {note}" for note in preflight.unchecked
    ]
