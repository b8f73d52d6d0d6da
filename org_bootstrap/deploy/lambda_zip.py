"""The remediator's Lambda deployment package: our code plus every dependency the runtime lacks.

The Lambda Python runtime ships boto3 and its dependencies; everything else the remediator needs (pydantic,
pydantic-core, Powertools, ...) is installed for the Lambda's platform with pip, at the versions installed
here, so that what is deployed is what was tested. The zip is reproducible (sorted entries, fixed times and
modes), and its S3 key carries its content hash.
"""

from __future__ import annotations

import hashlib
import shutil
import subprocess
import sys
import tempfile
import zipfile
from collections.abc import Iterable
from dataclasses import dataclass
from importlib.metadata import PackageNotFoundError, distribution, requires
from pathlib import Path

from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

PROJECT = "access-key-remediation"
# In every Lambda Python runtime: boto3 and what it depends on.
RUNTIME_PROVIDED = frozenset(
    canonicalize_name(name)
    for name in ("boto3", "botocore", "s3transfer", "jmespath", "python-dateutil", "six", "urllib3")
)
PACKAGES = ("remediator",)
_EPOCH = (1980, 1, 1, 0, 0, 0)


class PackagingError(RuntimeError):
    """The deployment package could not be built."""


@dataclass(frozen=True)
class Target:
    """The Lambda's platform. Defaults match stacksets/central.yaml: arm64, Python 3.12."""

    platform: str = "manylinux2014_aarch64"
    python_version: str = "3.12"

    @classmethod
    def local(cls) -> Target | None:
        """None: install for this interpreter (tests import the result here)."""
        return None


@dataclass(frozen=True)
class Artifact:
    path: Path
    sha256: str

    @property
    def key(self) -> str:
        return f"remediator/{self.sha256[:20]}.zip"


def runtime_requirements() -> list[str]:
    """The closure of the remediator's runtime dependencies, minus what Lambda provides, pinned to the
    versions installed here."""
    pinned: dict[str, str] = {}
    pending = [Requirement(text) for text in requires(PROJECT) or []]
    while pending:
        requirement = pending.pop()
        if requirement.marker is not None and not requirement.marker.evaluate({"extra": ""}):
            continue
        name = canonicalize_name(requirement.name)
        if name in pinned or name in RUNTIME_PROVIDED:
            continue
        try:
            version = distribution(name).version
        except PackageNotFoundError as exc:
            raise PackagingError(f"{name} is required by the remediator but not installed") from exc
        pinned[name] = version
        pending.extend(Requirement(text) for text in requires(name) or [])
    return sorted(f"{name}=={version}" for name, version in pinned.items())


def build_lambda_zip(destination: Path, target: Target | None = Target()) -> Artifact:
    """Build the zip in `destination` (a directory) and return it with its hash."""
    source = Path(__file__).resolve().parents[2]
    with tempfile.TemporaryDirectory(prefix="akr-lambda-") as work:
        root = Path(work) / "package"
        _pip_install(root, runtime_requirements(), target)
        for package in PACKAGES:
            shutil.copytree(
                source / package, root / package, ignore=shutil.ignore_patterns("__pycache__", "*.pyc")
            )
        destination.mkdir(parents=True, exist_ok=True)
        staged = Path(work) / "remediator.zip"
        _write_zip(staged, root)
        digest = hashlib.sha256(staged.read_bytes()).hexdigest()
        final = destination / f"remediator-{digest[:20]}.zip"
        shutil.move(staged, final)
    return Artifact(path=final, sha256=digest)


def _pip_install(root: Path, requirements: Iterable[str], target: Target | None) -> None:
    command = [sys.executable, "-m", "pip", "install", "--quiet", "--no-compile", "--no-deps"]
    command += ["--disable-pip-version-check", "--target", str(root)]
    if target is not None:
        command += ["--platform", target.platform, "--python-version", target.python_version]
        command += ["--implementation", "cp", "--only-binary=:all:"]
    command += list(requirements)
    completed = subprocess.run(command, capture_output=True, text=True, check=False)  # noqa: S603
    if completed.returncode != 0:
        raise PackagingError(f"pip could not install the Lambda's dependencies:\n{completed.stderr.strip()}")


def _write_zip(path: Path, root: Path) -> None:
    files = sorted(
        (p for p in root.rglob("*") if p.is_file() and "__pycache__" not in p.parts),
        key=lambda p: p.relative_to(root).as_posix(),
    )
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED, compresslevel=9) as archive:
        for file in files:
            info = zipfile.ZipInfo(file.relative_to(root).as_posix(), date_time=_EPOCH)
            info.external_attr = 0o644 << 16
            info.compress_type = zipfile.ZIP_DEFLATED
            archive.writestr(info, file.read_bytes())
