"""`akr deploy` run again against a moto server keeps the deployed policy: an operator who ships new code to
a report-mode rollout gets new code and nothing else, and only an explicit --mode moves it, with a warning
in the plan.

Each step is a module fixture that builds on the one before and records what it saw right away, so that
the tests hold in any order and on any xdist worker."""

from __future__ import annotations

import hashlib
import json
import shutil
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from moto.cloudformation.models import CloudFormationBackend, Stack, StackSet
from typer.testing import Result

import org_bootstrap.deploy.apply
from org_bootstrap.deploy.lambda_zip import Artifact, Target, build_lambda_zip
from tests.e2e.akr import deploy
from tests.moto_server import REGION, ServerOrganization, build_organization, moto_server

pytestmark = pytest.mark.slow

CENTRAL_STACK = "access-key-remediation"
DESTRUCTIVE = "Keys will be deleted from now on: Mode report -> delete"


@dataclass
class Package:
    """The remediator package every deploy of this module gets: built once, so that a deploy can ship "new
    code" without building again (`release`: the same package with one more file, its own hash)."""

    artifact: Artifact

    def build(
        self, destination: Path, target: Target | None = None, *, cache: Path | None = None
    ) -> Artifact:
        copy = destination / self.artifact.path.name
        shutil.copyfile(self.artifact.path, copy)
        return Artifact(path=copy, sha256=self.artifact.sha256)

    def release(self, note: str) -> str:
        """New code: the package plus a file; returns its SHA-256, as akr deploy will see it."""
        path = self.artifact.path.with_name(f"release-{note}.zip")
        shutil.copyfile(self.artifact.path, path)
        with zipfile.ZipFile(path, "a") as archive:
            archive.writestr("remediator/RELEASE", note)
        self.artifact = Artifact(path=path, sha256=hashlib.sha256(path.read_bytes()).hexdigest())
        return self.artifact.sha256


@pytest.fixture(scope="module")
def package(tmp_path_factory: pytest.TempPathFactory, package_cache: Path) -> Package:
    artifact = build_lambda_zip(tmp_path_factory.mktemp("package"), Target(), cache=package_cache)
    return Package(artifact=artifact)


def _previous_values(
    backend: CloudFormationBackend, instance: Stack | StackSet, incoming_params: list[dict[str, Any]]
) -> dict[str, str]:
    """moto's resolution of UpdateStack parameters, with what AWS does for UsePreviousValue on a parameter
    that was never passed: the stack's previous value, which was the template's default. Such a parameter
    is left out, so that moto applies that default again: given explicitly, moto would count it as changed
    and update every resource that names it, also those whose Condition is false, which it never created
    (an AttributeError, a 500)."""
    values = {p["ParameterKey"]: p["ParameterValue"] for p in incoming_params if "ParameterValue" in p}
    values.update(
        {
            p["ParameterKey"]: _text(instance.parameters[p["ParameterKey"]])
            for p in incoming_params
            if p.get("UsePreviousValue") and p["ParameterKey"] in instance.parameters
        }
    )
    return values


def _text(value: Any) -> str:
    return ",".join(map(str, value)) if isinstance(value, list) else str(value)


@pytest.fixture(scope="module")
def organization(package: Package) -> Iterator[ServerOrganization]:
    with pytest.MonkeyPatch.context() as patch:
        patch.delenv("AWS_SESSION_TOKEN", raising=False)  # moto's server reads the account from the key
        patch.setattr(org_bootstrap.deploy.apply, "build_lambda_zip", package.build)
        # moto gap: UsePreviousValue works only for the parameters the last call passed (a KeyError, a 500,
        # for one left at its default), and DescribeStacks lists every parameter, defaults too. In AWS an
        # update keeps any parameter's previous value. The server runs in this process: patch its backend.
        patch.setattr(CloudFormationBackend, "_resolve_update_parameters", _previous_values)
        with moto_server() as url:
            yield build_organization(url)


def central_parameters(organization: ServerOrganization) -> dict[str, str]:
    stack = organization.client("cloudformation", organization.security).describe_stacks(
        StackName=CENTRAL_STACK
    )["Stacks"][0]
    return {p["ParameterKey"]: p.get("ParameterValue", "") for p in stack.get("Parameters", [])}


@dataclass(frozen=True)
class Step:
    payload: dict[str, Any]
    central: dict[str, str]
    """The central stack's parameters right after the step."""


def ran(organization: ServerOrganization, *extra: str) -> Step:
    result = deploy(organization, *extra, "--yes", "--output", "json")
    assert result.exit_code == 0, result.output
    return Step(payload=json.loads(result.stdout), central=central_parameters(organization))


@pytest.fixture(scope="module")
def report_rollout(organization: ServerOrganization) -> Step:
    return ran(organization, "--mode", "report", "--grace-days", "7", "--cis", "1.4")


@pytest.fixture(scope="module")
def new_code(organization: ServerOrganization, package: Package, report_rollout: Step) -> Step:
    """A plain `akr deploy` that ships a new package: no policy option. Before it, the operator set a
    parameter akr does not manage on the central stack."""
    names = central_parameters(organization)
    organization.client("cloudformation", organization.security).update_stack(
        StackName=CENTRAL_STACK,
        UsePreviousTemplate=True,
        Capabilities=["CAPABILITY_NAMED_IAM"],
        Parameters=[
            {"ParameterKey": "LogLevel", "ParameterValue": "DEBUG"},
            *({"ParameterKey": name, "UsePreviousValue": True} for name in names if name != "LogLevel"),
        ],
    )
    package.release("new-code")
    return ran(organization)


@pytest.fixture(scope="module")
def to_delete(organization: ServerOrganization, new_code: Step) -> tuple[Result, Step]:
    """--mode delete: first declined at the prompt (the table plan), then with --yes."""
    declined = deploy(organization, "--mode", "delete", stdin="n\n")
    return declined, ran(organization, "--mode", "delete")


def test_report_rollout_deploys_report_mode(report_rollout: Step) -> None:
    assert report_rollout.payload["status"] == "ok"
    assert report_rollout.central["Mode"] == "report"
    assert (report_rollout.central["GraceDays"], report_rollout.central["MaxUnusedDays"]) == ("7", "45")


def test_plain_deploy_with_new_code_keeps_report_mode_and_says_nothing_about_the_policy(
    organization: ServerOrganization, package: Package, new_code: Step
) -> None:
    key = package.artifact.key
    assert new_code.payload["status"] == "ok"
    assert new_code.payload["changed"] is True
    assert new_code.central["Mode"] == "report"
    assert (new_code.central["GraceDays"], new_code.central["MaxUnusedDays"]) == ("7", "45")
    assert new_code.central["CodeKey"] == key
    assert new_code.central["LogLevel"] == "DEBUG"  # sent with UsePreviousValue, not reset to INFO
    assert new_code.payload["plan"] == [
        f"Would upload the remediator code to s3://akr-code-{organization.security}-{REGION}/{key}",
        f"Would update stack {CENTRAL_STACK} in the security account {organization.security}: new code",
    ]
    assert not any("Mode" in line or "GraceDays" in line for line in new_code.payload["plan"])


def test_explicit_mode_delete_shows_the_change_and_the_destructive_line(
    organization: ServerOrganization, to_delete: tuple[Result, Step]
) -> None:
    declined, done = to_delete
    assert declined.exit_code == 1
    assert DESTRUCTIVE in declined.stdout
    assert declined.stdout.rstrip().endswith("Aborted: nothing was changed.")
    # The member role gains iam:DeleteAccessKey: the member stacks are updated before the central stack.
    # The management account's stays read-only (report, a first deploy's default).
    assert done.payload["plan"] == [
        "Would update StackSet access-key-remediation-member (service-managed, automatic deployment) for "
        f"{organization.workloads_ou} in {REGION}, us-east-1: Mode report -> delete",
        f"Would update stack {CENTRAL_STACK} in the security account {organization.security}: "
        "Mode report -> delete",
        "The member role in every account holds no key action; mode delete needs iam:DeleteAccessKey: "
        "the member stacks add iam:DeleteAccessKey before the central stack is updated",
        DESTRUCTIVE,
        "The new policy (mode delete, limits 90 days of age, 45 unused) would act on no key at once in the 3 "
        "account(s) it acts in: counted just now by a read-only scan (akr scan's: each account's credential "
        "report, those users read live through the account role, the central exemptions); akr scan --mode "
        "delete --max-key-age-days 90 --max-unused-days 45 lists them",
    ]
    stackset = organization.client("cloudformation", organization.management).describe_stack_set(
        StackSetName="access-key-remediation-member"
    )["StackSet"]
    assert {p["ParameterKey"]: p["ParameterValue"] for p in stackset["Parameters"]}["Mode"] == "delete"
    assert done.central["Mode"] == "delete"
    assert (done.central["GraceDays"], done.central["MaxUnusedDays"], done.central["LogLevel"]) == (
        "7",
        "45",
        "DEBUG",
    )
