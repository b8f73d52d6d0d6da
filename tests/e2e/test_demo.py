"""The demo end to end: a simulated organization, Config stand-in events, the real handler, the audit log."""

from __future__ import annotations

import json
import os
import subprocess
import sys

from typer.testing import CliRunner

from org_bootstrap.cli import app
from org_bootstrap.demo import run_demo

# Written from the policy (90/90, delete mode), independently of the code: what each case must become.
EXPECTED = {
    ("ci-91-days", 91): ("delete", "done"),
    ("batch-never-used", 100): ("delete", "done"),
    ("two-keys", 120): ("delete", "done"),
    ("two-keys", 20): ("none", "skipped"),
    ("breakglass", 300): ("exempt", "skipped"),
    ("mgmt-admin", 150): ("delete", "done"),
}
NO_EVENT = {"dev-fresh", "ci-89-days", "inactive-old", "idle-60-days"}


def test_demo_remediates_exactly_the_violating_keys() -> None:
    result = run_demo(members=1, seed=1)
    seen = {
        (r.user_name, r.key_age_days): (r.decision, r.outcome)
        for r in result.records
        if r.access_key_id and not (r.user_name or "").startswith("svc-")
    }
    assert seen == EXPECTED
    assert not NO_EVENT & {r.user_name for r in result.records}
    assert result.errors == 0


def test_demo_json_summary() -> None:
    outcome = CliRunner().invoke(app, ["demo", "--members", "1", "--json"])
    assert outcome.exit_code == 0, outcome.output
    assert '"errors": 0' in outcome.output
    assert '"delete":' in outcome.output


def test_make_demo_runs_in_a_fresh_process() -> None:
    # What `make demo` runs, outside pytest: nothing set up by the test suite can help it.
    completed = subprocess.run(
        [sys.executable, "-m", "org_bootstrap", "demo", "--members", "1", "--json"],
        capture_output=True,
        text=True,
        check=False,
        env={k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "AKR_"))},
    )
    assert completed.returncode == 0, completed.stderr[-3000:]
    assert json.loads(completed.stdout)["errors"] == 0
