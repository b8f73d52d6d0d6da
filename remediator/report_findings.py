"""What a sweep reports from the credential report without acting on it: the root user's keys, users with
several active keys, and rows that could not be read (those users were read live instead)."""

from __future__ import annotations

from remediator.credential_report import CredentialReport, users_with_several_active_keys
from remediator.recording import Recorder
from remediator.run import Run

ROOT_USER = "<root_account>"


def record_findings(recorder: Recorder, run: Run, report: CredentialReport, *, checked: set[str]) -> None:
    """Report-only findings. Users read live in this run (`checked`) were judged on their live keys
    already."""
    root = report.root
    if root is not None and root.active_keys:
        recorder.finding(
            run,
            ROOT_USER,
            None,
            f"the root user has {root.active_keys} active access key(s); only the root user can delete "
            "them (CIS 1.4)",
        )
    for user_name in users_with_several_active_keys(report.users):
        if user_name not in checked:
            recorder.finding(run, user_name, None, "several active access keys; CIS 1.13 allows one")
    for problem in report.problems:
        recorder.finding(
            run,
            problem.user,
            None,
            f"credential report row unreadable ({problem.why}); the user was read live",
        )
