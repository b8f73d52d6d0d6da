"""Mutation testing of the safety core (`make mutation`; not part of `make test`).

mutmut mutates one of the pure modules at a time (an operator, a number, a keyword, a string, a default)
and runs the fast tests that exercise it; a mutant that no test fails on has "survived". Each module is
mutated in a copy of its own under build/mutation/, so that modules run side by side (`--jobs`) without
one run's mutant leaking into another's tests. The scores and every survivor's diff are printed at the
end; the run fails when a module's score is below `--threshold`. docs/reliability.md lists the survivors
that are equivalent (no test can tell them apart from the original) and why.
"""

from __future__ import annotations

import argparse
import os
import shlex
import shutil
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from xml.etree import ElementTree

ROOT = Path(__file__).resolve().parent.parent

# Each module with the tests that exercise it, the quickest and most pointed first (pytest -x stops at the
# first failure, so a killed mutant costs little). The hypothesis properties of `decide` are left out: at
# 20 s a run they would make every surviving mutant cost as much as a hundred killed ones; the example
# tests are what is measured.
SUITES: dict[str, tuple[str, ...]] = {
    "remediator/decision.py": (
        "tests/unit/test_decision.py",
        "tests/unit/test_decision_lifecycle.py",
        "tests/functional",
    ),
    "remediator/exemptions.py": (
        "tests/unit/test_exemptions.py",
        "tests/unit/test_decision.py",
        "tests/functional",
    ),
    "remediator/credential_report.py": ("tests/unit/test_credential_report.py", "tests/functional"),
    "remediator/events.py": ("tests/unit/test_events.py", "tests/functional"),
    "remediator/policy.py": (
        "tests/unit/test_policy.py",
        "tests/unit/test_settings.py",
        "tests/unit/test_decision.py",
    ),
    "remediator/lifecycle.py": (
        "tests/unit/test_lifecycle.py",
        "tests/unit/test_decision_lifecycle.py",
        "tests/functional",
    ),
}
# What a copy needs to run the suites: the package, the tests and pytest's configuration.
COPIED = ("remediator", "tests", "pyproject.toml")


@dataclass(frozen=True)
class Survivor:
    line: int
    diff: str


@dataclass(frozen=True)
class Score:
    module: str
    total: int
    killed: int
    survivors: tuple[Survivor, ...]
    seconds: float

    @property
    def percent(self) -> float:
        return 100.0 * self.killed / self.total if self.total else 100.0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mutmut", required=True, type=Path, help="the mutmut executable (2.x)")
    parser.add_argument("--jobs", type=int, default=2, help="modules mutated side by side")
    parser.add_argument("--threshold", type=float, default=90.0, help="the lowest acceptable score, in %%")
    parser.add_argument("--work", type=Path, default=ROOT / "build" / "mutation")
    parser.add_argument("modules", nargs="*", default=list(SUITES), help="default: all six")
    args = parser.parse_args()
    unknown = sorted(set(args.modules) - set(SUITES))
    if unknown:
        parser.error(f"not a module of the safety core: {', '.join(unknown)}")
    started = time.monotonic()
    # Every copy is made before the first mutant: the run measures the sources as they were when it began.
    copies = {module: _copy(args.work / Path(module).stem) for module in args.modules}
    mutmut = str(args.mutmut.resolve())  # it runs in each copy
    with ThreadPoolExecutor(max_workers=args.jobs) as pool:
        scores = list(pool.map(lambda module: _mutate(module, copies[module], mutmut), args.modules))
    for score in scores:
        for survivor in score.survivors:
            print(f"\nsurvived in {score.module}, line {survivor.line}:\n{survivor.diff}")
    print(f"\nmutation score (mutmut; {time.monotonic() - started:.0f} s in all)")
    for score in scores:
        print(
            f"  {score.module:34} {score.killed:4} / {score.total:<4} killed  {score.percent:5.1f} %"
            f"  ({len(score.survivors)} survived, {score.seconds:.0f} s)"
        )
    low = [score.module for score in scores if score.percent < args.threshold]
    if low:
        print(f"below {args.threshold:g} %: {', '.join(low)}")
        return 1
    return 0


def _copy(copy: Path) -> Path:
    shutil.rmtree(copy, ignore_errors=True)
    copy.mkdir(parents=True)
    for name in COPIED:
        source = ROOT / name
        if source.is_dir():
            shutil.copytree(source, copy / name, ignore=shutil.ignore_patterns("__pycache__"))
        else:
            shutil.copy2(source, copy / name)
    return copy


def _mutate(module: str, copy: Path, mutmut: str) -> Score:
    """Mutate one module in its copy of the sources and read mutmut's results."""
    # mutmut 2 counts a mutant as killed only on exit status 1; a test module that no longer imports is
    # status 2 unless pytest goes on past collection errors.
    pytest = [
        sys.executable,
        "-m",
        "pytest",
        "-x",
        "-q",
        "-p",
        "no:cacheprovider",
        "--continue-on-collection-errors",
    ]
    runner = shlex.join([*pytest, *SUITES[module]])
    started = time.monotonic()
    log = copy.with_suffix(".log")
    with log.open("w") as out:
        subprocess.run(
            [mutmut, "run", "--paths-to-mutate", module, "--runner", runner, "--CI", "--no-progress"],
            cwd=copy,
            stdout=out,
            stderr=subprocess.STDOUT,
            # No plugin autoloading: a run starts in a third of the time without xdist and hypothesis.
            env={**os.environ, "PYTEST_DISABLE_PLUGIN_AUTOLOAD": "1"},
            check=True,  # --CI: non-zero only when mutmut itself failed (e.g. the tests fail unmutated)
        )
    seconds = time.monotonic() - started
    # Untested mutants (a run cut short) are reported as failures, so that they count against the score.
    report = subprocess.run(
        [mutmut, "junitxml", "--untested-policy=failure"],
        cwd=copy,
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    total = 0
    survivors = []
    # mutmut's own report of this run, not outside input. A survived or untested mutant is a <failure>; a
    # killed one has none (a timeout is an <error>: the tests caught it too).
    for case in ElementTree.fromstring(report).iter("testcase"):  # noqa: S314
        total += 1
        failure = case.find("failure")
        if failure is not None:
            survivors.append(Survivor(line=int(case.get("line", "0")), diff=failure.text or ""))
    return Score(module, total, total - len(survivors), tuple(survivors), seconds)


if __name__ == "__main__":
    sys.exit(main())
