"""The static gates the Makefile also runs: cfn-lint with the repository's .cfnlintrc, and the rule that every
checkov skip and every cfn-lint ignore carries its reason. checkov itself runs from its own venv
(`make checkov`): it pins a boto3 that this venv cannot share."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from tests.stacksets.cfn import REPO, TEMPLATE_NAMES, load

CFN_LINT = Path(sys.executable).with_name("cfn-lint")


def test_cfn_lint_passes_with_the_repository_configuration() -> None:
    # No arguments: templates and included checks come from .cfnlintrc, exactly as `make cfn-lint`.
    result = subprocess.run([str(CFN_LINT)], cwd=REPO, capture_output=True, text=True, check=False)
    assert result.returncode == 0, result.stdout + result.stderr


def test_cfnlintrc_ignores_nothing_without_a_reason() -> None:
    text = (REPO / ".cfnlintrc").read_text()
    config = yaml.safe_load(text)
    assert set(config["include_checks"]) >= {"I"}
    lines = text.splitlines()
    for rule in config.get("ignore_checks") or []:
        index = next(i for i, line in enumerate(lines) if line.strip() == f"- {rule}")
        assert lines[index - 1].strip().startswith("#"), f"{rule} is ignored without a comment above it"


@pytest.mark.parametrize("name", TEMPLATE_NAMES)
def test_every_checkov_skip_is_justified_in_the_resource_metadata(name: str) -> None:
    for logical_id, resource in load(name)["Resources"].items():
        for skip in resource.get("Metadata", {}).get("checkov", {}).get("skip", []):
            assert skip["id"].startswith("CKV_"), (logical_id, skip)
            assert len(skip.get("comment", "").split()) >= 8, (
                f"{name}.{logical_id} skips {skip['id']} without a reason"
            )


# CloudFormation's limits on a template: 51,200 bytes in the request (TemplateBody: the member and
# organization templates, which the StackSet and the management stack receive that way) and 1 MB from S3
# (TemplateURL: the central template, org_bootstrap/deploy/template_store.py). Better to learn that a
# template outgrew its way in from a test than from a deploy.
# https://docs.aws.amazon.com/sdk-for-kotlin/api/latest/cloudformation/aws.sdk.kotlin.services.cloudformation.model/-create-change-set-request/template-body.html
# https://docs.aws.amazon.com/sdk-for-kotlin/api/latest/cloudformation/aws.sdk.kotlin.services.cloudformation.model/-create-change-set-request/template-url.html
TEMPLATE_BODY_LIMIT = 51_200
TEMPLATE_URL_LIMIT = 1_000_000
LIMITS = {"central": TEMPLATE_URL_LIMIT, "member": TEMPLATE_BODY_LIMIT, "organization": TEMPLATE_BODY_LIMIT}


def test_every_template_has_a_size_limit() -> None:
    assert sorted(LIMITS) == sorted(TEMPLATE_NAMES)


@pytest.mark.parametrize("name", TEMPLATE_NAMES)
def test_templates_fit_the_way_they_reach_cloudformation(name: str) -> None:
    size = len((REPO / "stacksets" / f"{name}.yaml").read_bytes())
    assert size <= LIMITS[name], f"{name}.yaml is {size} bytes"


def test_templates_and_docs_cite_only_files_that_exist() -> None:
    # Comments and pages point readers at the code and tests that hold a template to its contract.
    cited = re.compile(r"\b(?:remediator|org_bootstrap|tests|stacksets|docs)/[\w./-]*\w\.(?:py|yaml|md)\b")
    sources = [REPO / "stacksets" / f"{name}.yaml" for name in TEMPLATE_NAMES]
    sources += sorted((REPO / "docs" / "templates").glob("*.md"))
    missing = [
        (source.relative_to(REPO).as_posix(), path)
        for source in sources
        for path in sorted(set(cited.findall(source.read_text())))
        if not (REPO / path).is_file()
    ]
    assert missing == []
