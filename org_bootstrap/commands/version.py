"""The installed version of the command line, as `akr --version` and the scan's findings name it."""

from __future__ import annotations

from functools import cache
from importlib.metadata import PackageNotFoundError
from importlib.metadata import version as installed


@cache
def version() -> str:
    try:
        return installed("access-key-remediation")
    except PackageNotFoundError:  # a source tree that was never installed
        return "unknown"
