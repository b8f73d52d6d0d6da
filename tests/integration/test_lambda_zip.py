"""The Lambda zip holds everything the handler imports, the AWS SDK of lambda-sdk.txt included: extracted
alone, with nothing else on the path, the handler imports and builds its runtime, with tracing too."""

from __future__ import annotations

import hashlib
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from org_bootstrap.deploy import lambda_zip
from org_bootstrap.deploy.lambda_zip import (
    PackagingError,
    Target,
    build_lambda_zip,
    check_lock,
    runtime_requirements,
    sdk_pins,
)

pytestmark = pytest.mark.slow

PROBE = (
    "import sys; "
    "sys.path[:0] = [{task!r}]; "
    "import remediator.handler as h; h.runtime(); "
    "import boto3, botocore; "
    "print(boto3.__version__, botocore.__version__, botocore.__file__.startswith({task!r}), "
    "sorted({{m.split('.')[0] for m in sys.modules}} & {{'moto', 'typer', 'aws_xray_sdk'}}))"
)


@pytest.fixture(scope="module")
def task(tmp_path_factory: pytest.TempPathFactory) -> Path:
    artifact = build_lambda_zip(tmp_path_factory.mktemp("out"), Target.local())
    task = tmp_path_factory.mktemp("task")
    with zipfile.ZipFile(artifact.path) as archive:
        archive.extractall(task)
    return task


@pytest.mark.parametrize(("tracing", "imported"), [("false", "[]"), ("true", "['aws_xray_sdk']")])
def test_handler_runs_from_the_zip_alone_with_the_pinned_sdk(task: Path, tracing: str, imported: str) -> None:
    environment = {
        "AKR_AUDIT_TABLE": "akr-audit",
        "AKR_STATE_TABLE": "akr-state",
        "AKR_TRACING": tracing,
        "AWS_DEFAULT_REGION": "eu-west-1",
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_ENDPOINT_URL": "http://127.0.0.1:9",
    }
    # -S: no site-packages, so nothing from this venv (nor a runtime's boto3) can stand in for what the zip
    # lacks. aws-xray-sdk is imported only when tracing is on.
    result = subprocess.run(
        [sys.executable, "-S", "-c", PROBE.format(task=str(task))],
        env=environment,
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    pins = sdk_pins()
    assert result.stdout.split(" ", 3) == [pins["boto3"], pins["botocore"], "True", f"{imported}\n"]


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
    pins = sdk_pins()
    shipped = {name.split("/")[0] for name in names if name.split("/")[0].endswith(".dist-info")}
    assert {f"boto3-{pins['boto3']}.dist-info", f"botocore-{pins['botocore']}.dist-info"} <= shipped


def test_requirements_carry_the_pinned_sdk_and_the_tracing_extra() -> None:
    requirements = dict(requirement.split("==") for requirement in runtime_requirements())
    assert {"pydantic", "pydantic-core", "aws-lambda-powertools", "aws-xray-sdk"} <= set(requirements)
    assert {name: requirements[name] for name in sdk_pins()} == sdk_pins()


def test_an_sdk_pin_that_breaks_a_requirement_is_refused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    pins = tmp_path / "lambda-sdk.txt"
    pins.write_text(lambda_zip.SDK_PINS.read_text().replace("jmespath==1.1.0", "jmespath==0.10.0"))
    monkeypatch.setattr(lambda_zip, "SDK_PINS", pins)
    with pytest.raises(PackagingError) as raised:
        runtime_requirements()
    assert str(raised.value) == (
        "aws-lambda-powertools requires jmespath<2.0.0,>=1.0.1, but the package would carry jmespath 0.10.0 "
        "(lambda-sdk.txt or this environment)"
    )


def test_an_sdk_pin_must_be_exact(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    pins = tmp_path / "lambda-sdk.txt"
    pins.write_text("boto3>=1.41  # a floor is not a pin\n")
    monkeypatch.setattr(lambda_zip, "SDK_PINS", pins)
    with pytest.raises(PackagingError) as raised:
        sdk_pins()
    assert str(raised.value) == "lambda-sdk.txt: 'boto3>=1.41' is not pinned with =="


def test_a_cached_package_is_the_same_zip_and_changed_inputs_build_anew(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    cache = tmp_path / "cache"
    built = build_lambda_zip(tmp_path / "a", Target.local(), cache=cache)

    def no_pip(*_: object) -> None:
        raise AssertionError("pip ran")

    monkeypatch.setattr(lambda_zip, "install_locked", no_pip)
    copied = build_lambda_zip(tmp_path / "b", Target.local(), cache=cache)
    assert (copied.sha256, copied.path.read_bytes()) == (built.sha256, built.path.read_bytes())
    assert copied.path.parent == tmp_path / "b"
    # Another platform, other pins, or another lock are other inputs: built, not taken from the cache.
    with pytest.raises(AssertionError, match="pip ran"):
        build_lambda_zip(tmp_path / "c", Target(), cache=cache)
    relocked = tmp_path / "lambda-requirements.txt"
    relocked.write_text(lambda_zip.LOCK.read_text() + "# locked again\n")
    monkeypatch.setattr(lambda_zip, "LOCK", relocked)
    with pytest.raises(AssertionError, match="pip ran"):
        build_lambda_zip(tmp_path / "d", Target.local(), cache=cache)
    monkeypatch.setattr(lambda_zip, "runtime_requirements", lambda: ["boto3==1.0.0"])
    monkeypatch.setattr(lambda_zip, "check_lock", lambda *_: None)
    with pytest.raises(AssertionError, match="pip ran"):
        build_lambda_zip(tmp_path / "e", Target.local(), cache=cache)
    assert [p.suffix for p in cache.iterdir()] == [".zip"]


def probe_wheel(directory: Path) -> str:
    """A wheel of a one-file distribution in `directory` (a local index: no network); its SHA-256."""
    wheel = directory / "akrprobe-1.0-py3-none-any.whl"
    with zipfile.ZipFile(wheel, "w") as archive:
        archive.writestr("akrprobe/__init__.py", "VALUE = 1\n")
        archive.writestr(
            "akrprobe-1.0.dist-info/METADATA", "Metadata-Version: 2.1\nName: akrprobe\nVersion: 1.0\n"
        )
        archive.writestr(
            "akrprobe-1.0.dist-info/WHEEL",
            "Wheel-Version: 1.0\nGenerator: test\nRoot-Is-Purelib: true\nTag: py3-none-any\n",
        )
        archive.writestr(
            "akrprobe-1.0.dist-info/RECORD",
            "akrprobe/__init__.py,,\nakrprobe-1.0.dist-info/METADATA,,\nakrprobe-1.0.dist-info/WHEEL,,\n"
            "akrprobe-1.0.dist-info/RECORD,,\n",
        )
    return hashlib.sha256(wheel.read_bytes()).hexdigest()


def test_a_file_whose_hash_the_lock_does_not_name_fails_the_build(tmp_path: Path) -> None:
    # The index serves another file than the one locked (a wheel replaced after `make lock`).
    index = tmp_path / "index"
    index.mkdir()
    served = probe_wheel(index)
    lock = tmp_path / "lambda-requirements.txt"
    lock.write_text(f"akrprobe==1.0 \\\n    --hash=sha256:{'0' * 64}\n")
    local = ("--no-index", "--find-links", str(index))
    with pytest.raises(PackagingError) as raised:
        lambda_zip.install_locked(tmp_path / "package", lock, Target.local(), local)
    message = str(raised.value)
    assert message.startswith(
        "a file the index served does not have a SHA-256 that lambda-requirements.txt names: it is not the "
        "file that was locked, and nothing was packaged (if the lock is wrong, run make lock):\n"
    )
    assert served in message  # pip names the hash of what it got
    assert not (tmp_path / "package" / "akrprobe").exists()
    # The same file under its own hash installs: the refusal is the hash's, not the index's.
    lock.write_text(f"akrprobe==1.0 \\\n    --hash=sha256:{served}\n")
    lambda_zip.install_locked(tmp_path / "package", lock, Target.local(), local)
    assert (tmp_path / "package" / "akrprobe" / "__init__.py").read_text() == "VALUE = 1\n"


def test_the_lock_names_exactly_what_the_package_needs() -> None:
    check_lock(runtime_requirements())  # the committed lock is current: `make lock` was run
    assert set(lambda_zip.locked()) == {r.split("==")[0] for r in runtime_requirements()}


def test_a_lock_that_differs_from_the_pins_says_make_lock(tmp_path: Path) -> None:
    lock = tmp_path / "lambda-requirements.txt"
    lock.write_text(f"boto3==1.0.0 --hash=sha256:{'a' * 64}\nsix==1.17.0 --hash=sha256:{'b' * 64}\n")
    with pytest.raises(PackagingError) as raised:
        check_lock(["boto3==1.41.5", "urllib3==2.8.0"], lock)
    assert str(raised.value) == (
        "lambda-requirements.txt is out of date (boto3 1.0.0 locked, 1.41.5 wanted; six 1.17.0 locked, "
        "(not needed) wanted; urllib3 (not locked) locked, 2.8.0 wanted): run make lock"
    )


@pytest.mark.parametrize("entry", ["boto3==1.41.5", f"boto3>=1.41 --hash=sha256:{'a' * 64}"])
def test_a_lock_entry_must_be_pinned_and_hashed(tmp_path: Path, entry: str) -> None:
    lock = tmp_path / "lambda-requirements.txt"
    lock.write_text(entry + "\n")
    with pytest.raises(PackagingError) as raised:
        lambda_zip.locked(lock)
    assert str(raised.value) == (
        f"lambda-requirements.txt: {entry.split(maxsplit=1)[0]!r} is not pinned with == and hashed; "
        "run make lock"
    )


def test_the_cache_key_follows_the_packaged_code(tmp_path: Path) -> None:
    # A deploy after an edit must never ship the zip of the code before it.
    source = tmp_path / "src"
    shutil.copytree(Path(lambda_zip.__file__).resolve().parents[2] / "remediator", source / "remediator")
    builder = source / "org_bootstrap" / "deploy" / "lambda_zip.py"
    builder.parent.mkdir(parents=True)
    builder.write_text("builder")
    requirements = ["boto3==1.0.0"]

    def key() -> str:
        return lambda_zip._inputs_digest(source, requirements, Target(), builder)

    before = key()
    assert key() == before
    handler = source / "remediator" / "handler.py"
    handler.write_text(handler.read_text() + "\n# edited\n")
    assert key() != before
    edited = key()
    builder.write_text("another builder")
    assert key() != edited
