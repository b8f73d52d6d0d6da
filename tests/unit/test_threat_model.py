"""docs/threat-model.md names the test that shows each mitigation: every test it names exists, and the
README links the page."""

from __future__ import annotations

import re
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
PAGE = REPO / "docs" / "threat-model.md"
# `tests/x/test_y.py::test_z`, or `::test_z` after one of those in the same cell (same file).
CITED = re.compile(r"`(tests/[\w/]+\.py)?(?:::(test_\w+))?`")


def cited() -> list[tuple[str, str | None]]:
    found: list[tuple[str, str | None]] = []
    for line in PAGE.read_text().splitlines():
        current = None
        for path, test in CITED.findall(line):
            current = path or current
            if current:
                found.append((current, test or None))
    return found


def test_every_cited_test_exists() -> None:
    assert cited()
    missing = []
    for path, test in cited():
        source = REPO / path
        if not source.exists() or (test and f"def {test}(" not in source.read_text()):
            missing.append(f"{path}::{test}" if test else path)
    assert missing == []


def test_the_readme_links_the_threat_model() -> None:
    assert "docs/threat-model.md" in (REPO / "README.md").read_text()
