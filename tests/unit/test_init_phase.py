"""In a Lambda execution environment the handlers build what every invocation needs while their module is
imported (the init phase); elsewhere on first use. Each case runs in a fresh interpreter, as Lambda does."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
ENV = {
    "PATH": os.environ.get("PATH", ""),
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_DEFAULT_REGION": "eu-west-1",
    # Nothing at init may call AWS: a call would fail at once on the discard port.
    "AWS_ENDPOINT_URL": "http://127.0.0.1:9",
    "AWS_EC2_METADATA_DISABLED": "true",
    "AWS_CONFIG_FILE": os.devnull,
    "AWS_SHARED_CREDENTIALS_FILE": os.devnull,
}
REMEDIATOR_SETTINGS = {
    "AKR_AUDIT_TABLE": "audit",
    "AKR_STATE_TABLE": "state",
    "AKR_SWEEP_QUEUE_URL": "https://sqs.eu-west-1.amazonaws.com/111111111111/sweep",
}
# Each function's own settings (a function refuses another's: stacksets/central.yaml gives each its own).
SETTINGS = {
    "remediator.handler": REMEDIATOR_SETTINGS,
    "remediator.worker_handler": REMEDIATOR_SETTINGS,
    "remediator.sweep_handler": REMEDIATOR_SETTINGS,
    "remediator.archiver_handler": {
        "AKR_ARCHIVE_BUCKET": "akr-auditarchivebucket-0123",
        "AKR_ARCHIVE_BUCKET_OWNER": "111111111111",
    },
}
BUILT = {
    "remediator.handler": "runtime",
    "remediator.worker_handler": "runtime",
    "remediator.sweep_handler": "settings",
    "remediator.archiver_handler": "runtime",
}
BAD_SETTING = {
    "remediator.handler": ("AKR_MODE", "yolo"),
    "remediator.worker_handler": ("AKR_MODE", "yolo"),
    "remediator.sweep_handler": ("AKR_MODE", "yolo"),
    "remediator.archiver_handler": ("AKR_ARCHIVE_BUCKET_OWNER", "yolo"),
}


def _import(module: str, **extra: str) -> subprocess.CompletedProcess[str]:
    probe = (
        f"import sys, {module} as m; "
        f"print('built' if m.{BUILT[module]}.cache_info().currsize else 'lazy'); "
        "from remediator.adapters.sessions import _LOADER; "
        "print(sorted({(k[1], k[2]) for k in _LOADER._cache if k[0] == 'load_service_model'}))"
    )
    return subprocess.run(
        [sys.executable, "-c", probe],
        cwd=REPO,
        env={**ENV, **SETTINGS[module], **extra},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


@pytest.mark.parametrize("module", sorted(BUILT))
def test_in_lambda_the_runtime_is_built_at_import(module: str) -> None:
    done = _import(module, AWS_LAMBDA_FUNCTION_NAME="akr-remediator")
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines()[0] == "built"


@pytest.mark.parametrize("module", sorted(BUILT))
def test_elsewhere_it_is_built_on_first_use(module: str) -> None:
    done = _import(module)
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines()[0] == "lazy"


@pytest.mark.parametrize("module", sorted(BUILT))
def test_a_bad_configuration_fails_the_init(module: str) -> None:
    name, value = BAD_SETTING[module]
    done = _import(module, AWS_LAMBDA_FUNCTION_NAME="akr-remediator", **{name: value})
    assert done.returncode == 1
    assert f"ConfigurationError: invalid configuration: {name}" in done.stderr


@pytest.mark.parametrize("module", ["remediator.handler", "remediator.worker_handler"])
def test_the_member_accounts_models_are_parsed_at_init(module: str) -> None:
    # What the first account's IAM and Config clients would otherwise parse: their models, endpoint rules
    # and the paginators Boto3MemberAccount uses.
    parsed = (
        "[('config', 'endpoint-rule-set-1'), ('config', 'service-2'), ('iam', 'endpoint-rule-set-1'), "
        "('iam', 'paginators-1'), ('iam', 'service-2')]"
    )
    assert _import(module, AWS_LAMBDA_FUNCTION_NAME="akr-remediator").stdout.splitlines()[1] == parsed
    assert _import(module).stdout.splitlines()[1] == "[]"
