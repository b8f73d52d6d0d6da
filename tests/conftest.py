from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import freezegun
import pytest

# The environment as the test run found it, before the line below replaces it: only the opt-in live suite
# (tests/live, pytest -m live) hands it on, to the processes it runs against a real organization.
ORIGINAL_ENVIRONMENT = dict(os.environ)

# Never reach a real endpoint from a test: fake credentials everywhere, and no profile lookups.
os.environ.update(
    AWS_ACCESS_KEY_ID="testing",
    AWS_SECRET_ACCESS_KEY="testing",
    AWS_SESSION_TOKEN="testing",
    AWS_DEFAULT_REGION="eu-west-1",
    AWS_CONFIG_FILE="/dev/null",
    AWS_SHARED_CREDENTIALS_FILE="/dev/null",
    POWERTOOLS_METRICS_NAMESPACE="AccessKeyRemediation",
)
os.environ.pop("AWS_PROFILE", None)
# The command line's tables fit COLUMNS when it is set: without it, piped output (and a test's) is 150 wide.
os.environ.pop("COLUMNS", None)

# freezegun walks every loaded module's attributes, which makes Powertools' lazy parser package import
# its pydantic models while datetime is patched. Those modules never need a frozen clock.
freezegun.configure(extend_ignore_list=["aws_lambda_powertools"])


@pytest.fixture(autouse=True)
def _no_akr_environment(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    for name in list(os.environ):
        if name.startswith("AKR_"):
            monkeypatch.delenv(name)
    yield


@pytest.fixture(scope="session")
def package_cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The run's cache of Lambda packages, shared by the xdist workers (keyed by the package's inputs)."""
    base = tmp_path_factory.getbasetemp()
    return (base.parent if os.environ.get("PYTEST_XDIST_WORKER") else base) / "lambda-packages"


@pytest.fixture(scope="session", autouse=True)
def _one_package_per_run(package_cache: Path) -> Iterator[None]:
    """Every deploy of the run packages the same code with the same pins: pip runs once, and the other
    deploys copy that zip from the run's cache, in place of the demo's own (never the user's cache
    directory). tests/integration/test_lambda_zip.py builds without it."""
    import org_bootstrap.deploy.apply  # noqa: PLC0415
    from org_bootstrap.deploy.lambda_zip import Artifact, Target, build_lambda_zip  # noqa: PLC0415

    def cached(destination: Path, target: Target | None, *, cache: Path | None = None) -> Artifact:
        return build_lambda_zip(destination, target, cache=package_cache)

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(org_bootstrap.deploy.apply, "build_lambda_zip", cached)
        yield
