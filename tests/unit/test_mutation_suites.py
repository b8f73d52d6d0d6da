"""`make mutation` is not part of `make test`: these keep its list of modules and tests from drifting
away from the code while nobody runs it."""

from __future__ import annotations

from pathlib import Path

from tests.mutation import ROOT, SUITES


def test_the_safety_core_is_mutated_whole() -> None:
    assert set(SUITES) == {
        "remediator/decision.py",
        "remediator/exemptions.py",
        "remediator/credential_report.py",
        "remediator/events.py",
        "remediator/policy.py",
        "remediator/lifecycle.py",
    }


def test_every_suite_names_tests_that_exist() -> None:
    for module, suite in SUITES.items():
        assert (ROOT / module).is_file(), module
        for tests in suite:
            path = ROOT / tests
            assert path.is_file() or (path.is_dir() and any(path.glob("test_*.py"))), tests
            assert Path(tests).parts[:2] in {("tests", "unit"), ("tests", "functional")}, tests
