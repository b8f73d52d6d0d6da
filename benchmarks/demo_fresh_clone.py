"""`make demo` on a fresh clone, timed: a `git clone` of this repository into a temporary directory, then
`make demo` there (it builds its own .venv with the demo extra only, then runs the demo), as a newcomer
would. Prints the clone, the install and the demo separately, and the whole.

    python benchmarks/demo_fresh_clone.py            # pip's cache as it is on this machine
    python benchmarks/demo_fresh_clone.py --cold     # an empty pip cache: every package downloaded

The figure in README.md (Quick start) comes from here. Only loopback and the package registry are used.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def timed(command: list[str], cwd: Path, env: dict[str, str]) -> float:
    began = time.monotonic()
    subprocess.run(command, cwd=cwd, env=env, check=True, stdout=subprocess.DEVNULL)
    return time.monotonic() - began


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--cold", action="store_true", help="an empty pip cache")
    cold = parser.parse_args().cold
    with tempfile.TemporaryDirectory(prefix="akr-fresh-") as scratch:
        clone = Path(scratch) / "clone"
        env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "AKR_", "VIRTUAL_ENV"))}
        if cold:
            env["PIP_CACHE_DIR"] = str(Path(scratch) / "pip-cache")
        cloned = timed(["git", "clone", "--quiet", str(REPO), str(clone)], Path(scratch), env)
        # The same steps as `make demo`, apart so that each is timed: .venv, the demo extra, the demo.
        installed = timed(["make", "--no-print-directory", ".venv/.installed-demo"], clone, env)
        ran = timed(["make", "--no-print-directory", "demo"], clone, env)
        size = sum(f.stat().st_size for f in (clone / ".venv").rglob("*") if f.is_file()) / 2**20
    cache = "an empty pip cache" if cold else "pip's cache as it was"
    print(f"fresh clone, {cache}: clone {cloned:.1f} s, install {installed:.1f} s, demo {ran:.1f} s")
    print(f"make demo in all: {installed + ran:.1f} s; .venv {size:.0f} MB")
    print(f"python {sys.version.split()[0]} on {os.cpu_count()} core(s)")


if __name__ == "__main__":
    main()
