"""What a sweep reports without acting on it: the root user's keys, users with several active keys, users
under the protected path who hold active keys, and credential report rows that could not be read (those
users were read live instead)."""

from __future__ import annotations

from remediator.credential_report import CredentialReport, users_with_several_active_keys
from remediator.facts import UserFacts
from remediator.recording import Recorder
from remediator.run import Run

ROOT_USER = "<root_account>"
PROTECTED_PATH = "protected path"
"""How a finding about a user under the protected path begins: the remediator never changes those keys, so
a user moved there (by anyone who may change IAM paths in the account) stays visible in every sweep."""


def protected_user_finding(path: str, active_keys: int) -> str:
    return (
        f"{PROTECTED_PATH} {path}: {active_keys} active access key(s) that this service never deactivates "
        "or deletes; check that the user belongs under it"
    )


def user_path(arn: str) -> str:
    """The IAM path in a user's ARN (arn:aws:iam::123456789012:user/break-glass/vault -> /break-glass/)."""
    resource = arn.split(":", 5)[-1]
    return "/" + "".join(f"{part}/" for part in resource.split("/")[1:-1])


def record_user_findings(
    recorder: Recorder, run: Run, facts: UserFacts, *, active_keys: int, protected_path: str | None
) -> None:
    """A sweep's findings about one user read live: several active keys (CIS 1.13), and active keys under
    the protected path."""
    if active_keys > 1:
        recorder.finding(
            run, facts.user_name, facts.user_id, f"{active_keys} active access keys; CIS 1.13 allows one"
        )
    if protected_path and facts.path.startswith(protected_path) and active_keys:
        recorder.finding(run, facts.user_name, facts.user_id, protected_user_finding(facts.path, active_keys))


def record_findings(
    recorder: Recorder,
    run: Run,
    report: CredentialReport,
    *,
    checked: set[str],
    protected_path: str | None = None,
) -> None:
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
    for row in report.users:
        path = user_path(row.arn)
        if protected_path and path.startswith(protected_path) and row.active_keys and row.user not in checked:
            recorder.finding(run, row.user, None, protected_user_finding(path, row.active_keys))
    for problem in report.problems:
        recorder.finding(
            run,
            problem.user,
            None,
            f"credential report row unreadable ({problem.why}); the user was read live",
        )
