"""The Lambda zip holds everything the handler needs besides what the Lambda runtime provides (boto3 and
its dependencies): extracted alone next to boto3, the handler imports and builds its runtime."""

from __future__ import annotations

import subprocess
import sys
import zipfile
from pathlib import Path

import boto3
import pytest

from org_bootstrap.deploy.lambda_zip import RUNTIME_PROVIDED, Target, build_lambda_zip, runtime_requirements

pytestmark = pytest.mark.slow

# What the Lambda Python runtime puts on the path, besides the function's own code.
RUNTIME_MODULES = ("boto3", "botocore", "s3transfer", "jmespath", "dateutil", "six.py", "urllib3")


def lambda_runtime(tmp_path: Path) -> Path:
    site = Path(boto3.__file__).parent.parent
    runtime = tmp_path / "runtime"
    runtime.mkdir()
    for name in RUNTIME_MODULES:
        (runtime / name).symlink_to(site / name)
    return runtime


def test_handler_imports_from_the_zip_with_only_boto3_beside_it(tmp_path: Path) -> None:
    artifact = build_lambda_zip(tmp_path / "out", Target.local())
    task = tmp_path / "task"
    with zipfile.ZipFile(artifact.path) as archive:
        archive.extractall(task)
    code = (
        "import sys; "
        f"sys.path[:0] = [{str(task)!r}, {str(lambda_runtime(tmp_path))!r}]; "
        "import remediator.handler as h; h.runtime(); "
        "print(sorted({m.split('.')[0] for m in sys.modules} & {'moto', 'typer', 'aws_xray_sdk'}))"
    )
    environment = {
        "AKR_AUDIT_TABLE": "akr-audit",
        "AKR_STATE_TABLE": "akr-state",
        "AWS_DEFAULT_REGION": "eu-west-1",
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_ENDPOINT_URL": "http://127.0.0.1:9",
    }
    # -S: no site-packages, so nothing from this venv can stand in for a missing dependency.
    result = subprocess.run(
        [sys.executable, "-S", "-c", code], env=environment, capture_output=True, text=True, check=False
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "[]"


def test_zip_is_reproducible_and_named_by_its_hash(tmp_path: Path) -> None:
    first = build_lambda_zip(tmp_path / "a", Target.local())
    second = build_lambda_zip(tmp_path / "b", Target.local())
    assert first.sha256 == second.sha256
    assert first.key == f"remediator/{first.sha256[:20]}.zip"
    with zipfile.ZipFile(first.path) as archive:
        names = archive.namelist()
        assert names == sorted(names)
        assert {info.date_time for info in archive.infolist()} == {(1980, 1, 1, 0, 0, 0)}
    assert "remediator/handler.py" in names
    assert not any("__pycache__" in name for name in names)
    assert not any(name.split("/")[0] in ("boto3", "botocore") for name in names)


def test_requirements_leave_out_what_the_runtime_provides() -> None:
    names = {requirement.split("==")[0] for requirement in runtime_requirements()}
    assert {"pydantic", "pydantic-core", "aws-lambda-powertools"} <= names
    assert not names & RUNTIME_PROVIDED
