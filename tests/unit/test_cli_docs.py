"""docs/cli.md is what `make docs` generates from the commands' help: regenerate it when they change."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

DOCS = Path(__file__).resolve().parents[2] / "docs" / "cli.md"


def test_cli_reference_matches_the_help(tmp_path: Path) -> None:
    generated = tmp_path / "cli.md"
    subprocess.run(
        [
            sys.executable,
            "-m",
            "typer",
            "org_bootstrap.commands.app",
            "utils",
            "docs",
            "--name",
            "akr",
            "--output",
            str(generated),
        ],
        check=True,
        capture_output=True,
    )
    assert generated.read_text() == DOCS.read_text(), "docs/cli.md is stale: run `make docs`"
