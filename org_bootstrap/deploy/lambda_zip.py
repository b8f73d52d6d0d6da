"""The remediator's Lambda deployment package: our code and everything it imports, the AWS SDK included.

The AWS SDK (boto3, botocore and their dependencies) is the one pinned in lambda-sdk.txt, next to this
module: the runtime's own varies by Region and over time, and an SDK whose model lacks a field drops it
(that file says why, with AWS's advice). Everything else the remediator needs (pydantic, pydantic-core,
Powertools, and aws-xray-sdk for `Tracing=true`) is installed at the versions installed here, so that what
is deployed is what was tested; `make sdk-compat` tests the remediator with the pinned SDK. pip installs
it all for the Lambda's platform. The zip is reproducible (sorted entries, fixed times and modes), and its
S3 key carries its content hash.

pip installs them from lambda-requirements.txt, hash-locked (`pip install --require-hashes`): every file's
SHA-256 is in the lock, so a wheel changed on the index after `make lock` cannot enter the package; the
build fails instead. The lock must name exactly the pins above (else `make lock` is due, and the build says
so), and it is one of the inputs the package cache is keyed by.
https://pip.pypa.io/en/stable/topics/secure-installs/
"""

from __future__ import annotations

import hashlib
import os
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
SDK_PINS = Path(__file__).with_name("lambda-sdk.txt")
LOCK = Path(__file__).with_name("lambda-requirements.txt")
HASH_MISMATCH = "DO NOT MATCH THE HASHES"
"""pip's words when a downloaded file's SHA-256 is not one the lock names."""
EXTRAS = ("tracing",)
"""Packaged whatever the stack's Tracing parameter says: it can be switched on without akr (a plain stack
update), and the remediator imports aws-xray-sdk only when tracing is on, so that it costs only bytes."""
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


def sdk_pins() -> dict[str, str]:
    """Distribution name -> version, from lambda-sdk.txt (`name==version` lines; # starts a comment)."""
    pins: dict[str, str] = {}
    for line in SDK_PINS.read_text().splitlines():
        text = line.split("#", 1)[0].strip()
        if not text:
            continue
        requirement = Requirement(text)
        specifiers = list(requirement.specifier)
        if len(specifiers) != 1 or specifiers[0].operator != "==":
            raise PackagingError(f"{SDK_PINS.name}: {text!r} is not pinned with ==")
        pins[canonicalize_name(requirement.name)] = specifiers[0].version
    return pins


def runtime_requirements() -> list[str]:
    """The closure of the remediator's runtime dependencies (with EXTRAS), pinned: the AWS SDK to
    lambda-sdk.txt, which is its whole closure (pip resolved it; `make sdk-compat` installs it the same
    way), the rest to the versions installed here. What the rest requires of the SDK (Powertools of
    jmespath, aws-xray-sdk of botocore) must hold for the pinned versions, or the package is refused."""
    sdk = sdk_pins()
    pinned: dict[str, str] = {}
    wanted: list[tuple[str, Requirement]] = []
    pending = [(PROJECT, Requirement(text)) for text in requires(PROJECT) or []]
    while pending:
        wanted_by, requirement = pending.pop()
        if not _applies(requirement, wanted_by):
            continue
        wanted.append((wanted_by, requirement))
        name = canonicalize_name(requirement.name)
        if name in pinned:
            continue
        if name in sdk:
            pinned.update(sdk)  # the installed metadata is another version's: the pins are the closure
            continue
        try:
            pinned[name] = distribution(name).version
        except PackageNotFoundError as exc:
            raise PackagingError(f"{name} is required by the remediator but not installed") from exc
        pending.extend((name, Requirement(text)) for text in requires(name) or [])
    for wanted_by, requirement in wanted:
        version = pinned[canonicalize_name(requirement.name)]
        if not requirement.specifier.contains(version, prereleases=True):
            raise PackagingError(
                f"{wanted_by} requires {requirement}, but the package would carry "
                f"{requirement.name} {version} ({SDK_PINS.name} or this environment)"
            )
    return sorted(f"{name}=={version}" for name, version in pinned.items())


def locked(lock: Path = LOCK) -> dict[str, str]:
    """Distribution name -> version of the lock's entries; each must be pinned with == and hashed."""
    try:
        text = lock.read_text()
    except OSError as exc:
        raise PackagingError(f"cannot read {lock.name}: {exc}; run make lock") from exc
    pins: dict[str, str] = {}
    for entry in text.replace("\\\n", " ").splitlines():
        words = entry.split("#", 1)[0].split()
        if not words:
            continue
        requirement = Requirement(words[0])
        specifiers = list(requirement.specifier)
        if (
            len(specifiers) != 1
            or specifiers[0].operator != "=="
            or not any(w.startswith("--hash=sha256:") for w in words[1:])
        ):
            raise PackagingError(f"{lock.name}: {words[0]!r} is not pinned with == and hashed; run make lock")
        pins[canonicalize_name(requirement.name)] = specifiers[0].version
    return pins


def check_lock(requirements: Iterable[str], lock: Path = LOCK) -> None:
    """The lock must name exactly the requirements (what is installed here and lambda-sdk.txt)."""
    wanted: dict[str, str] = {canonicalize_name(r.split("==")[0]): r.split("==")[1] for r in requirements}
    have = locked(lock)
    if wanted != have:
        differences = sorted(
            f"{name} {have.get(name, '(not locked)')} locked, {wanted.get(name, '(not needed)')} wanted"
            for name in set(wanted) | set(have)
            if wanted.get(name) != have.get(name)
        )
        raise PackagingError(f"{lock.name} is out of date ({'; '.join(differences)}): run make lock")


def _applies(requirement: Requirement, wanted_by: str) -> bool:
    """A requirement without a marker, or whose marker holds for the Lambda: no extra, except the
    project's own EXTRAS."""
    if requirement.marker is None:
        return True
    extras = EXTRAS if wanted_by == PROJECT else ()
    return any(requirement.marker.evaluate({"extra": extra}) for extra in ("", *extras))


def build_lambda_zip(
    destination: Path, target: Target | None = Target(), *, cache: Path | None = None
) -> Artifact:
    """Build the zip in `destination` (a directory) and return it with its hash. With a `cache` directory,
    a package built before from the same inputs (requirements, platform, our code, this builder) is copied
    from there instead of running pip again: the build is reproducible, so it is the same zip."""
    source = Path(__file__).resolve().parents[2]
    requirements = runtime_requirements()
    check_lock(requirements, LOCK)
    inputs = [*requirements, LOCK.read_text()]
    cached = cache / f"{_inputs_digest(source, inputs, target)}.zip" if cache else None
    destination.mkdir(parents=True, exist_ok=True)
    if cached is not None and cached.is_file():
        return _placed(cached, destination)
    with tempfile.TemporaryDirectory(prefix="akr-lambda-") as work:
        root = Path(work) / "package"
        install_locked(root, LOCK, target)
        for package in PACKAGES:
            shutil.copytree(
                source / package, root / package, ignore=shutil.ignore_patterns("__pycache__", "*.pyc")
            )
        staged = Path(work) / "remediator.zip"
        _write_zip(staged, root)
        if cached is not None:
            cached.parent.mkdir(parents=True, exist_ok=True)
            # Written aside and renamed: builds running side by side never see half a file.
            partial = cached.with_name(f"{cached.stem}.{os.getpid()}.partial")
            shutil.copyfile(staged, partial)
            partial.replace(cached)
        return _placed(staged, destination)


def _placed(built: Path, destination: Path) -> Artifact:
    digest = hashlib.sha256(built.read_bytes()).hexdigest()
    final = destination / f"remediator-{digest[:20]}.zip"
    shutil.copyfile(built, final)
    return Artifact(path=final, sha256=digest)


def _inputs_digest(
    source: Path, requirements: Iterable[str], target: Target | None, builder: Path = Path(__file__)
) -> str:
    """What the package is made of: the pinned requirements and their lock, the platform, the packaged
    code, and this module (how it is made)."""
    digest = hashlib.sha256()
    digest.update("\n".join(requirements).encode())
    digest.update(repr(target).encode())
    files = sorted(
        path
        for package in PACKAGES
        for path in (source / package).rglob("*")
        if path.is_file() and "__pycache__" not in path.parts and path.suffix != ".pyc"
    )
    for path in [*files, builder.resolve()]:
        digest.update(path.relative_to(source).as_posix().encode())
        digest.update(hashlib.sha256(path.read_bytes()).digest())
    return digest.hexdigest()


def install_locked(root: Path, lock: Path, target: Target | None, index: Iterable[str] = ()) -> None:
    """pip install the lock's entries into `root`, each file checked against the lock's hashes. `index`:
    pip's options naming where to look (e.g. --no-index --find-links DIR); the configured index otherwise."""
    command = [sys.executable, "-m", "pip", "install", "--quiet", "--no-compile", "--no-deps"]
    command += ["--disable-pip-version-check", "--require-hashes", "--target", str(root), *index]
    if target is not None:
        command += ["--platform", target.platform, "--python-version", target.python_version]
        command += ["--implementation", "cp", "--only-binary=:all:"]
    command += ["-r", str(lock)]
    completed = subprocess.run(command, capture_output=True, text=True, check=False)  # noqa: S603
    if completed.returncode == 0:
        return
    if HASH_MISMATCH in completed.stderr:
        raise PackagingError(
            f"a file the index served does not have a SHA-256 that {lock.name} names: it is not the file "
            f"that was locked, and nothing was packaged (if the lock is wrong, run make lock):\n"
            f"{completed.stderr.strip()}"
        )
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
