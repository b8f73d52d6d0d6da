"""docs/templates/*.md against the templates and the code: every parameter is described, the threshold tables
that manual deployments rely on give the CIS presets' real values, and the state-table restriction the
remediator's role carries is described with the prefixes the template allows."""

from __future__ import annotations

import re

import pytest

from remediator.policy import PRESETS, Thresholds
from tests.stacksets.cfn import REPO, TEMPLATE_NAMES, load

DOCS = REPO / "docs" / "templates"

# | `CisPreset` value or "empty (no preset)" | rotation days | unused days |
THRESHOLD_ROW = re.compile(
    r"^>?\s*\|\s*(`cis-[\d.]+`|empty \(no preset\))\s*\|\s*(\d+)\s*\|\s*(\d+)\s*\|\s*$"
)


def page(name: str) -> str:
    return (DOCS / f"{name}.md").read_text()


def documented_parameters(name: str) -> set[str]:
    """Backticked names in the first column of the page's Parameters table."""
    section = page(name).split("## Parameters", 1)[1].split("\n## ", 1)[0]
    names: set[str] = set()
    for line in section.splitlines():
        if line.startswith("| ") and not line.startswith("| parameter"):
            first = line.split("|")[1]
            names.update(re.findall(r"`(\w+)`", first))
            if "all `member.yaml` parameters" in first:
                names.update(load("member")["Parameters"])
    return names


@pytest.mark.parametrize("name", TEMPLATE_NAMES)
def test_every_parameter_is_documented(name: str) -> None:
    missing = set(load(name)["Parameters"]) - documented_parameters(name)
    assert missing == set(), f"docs/templates/{name}.md does not describe {sorted(missing)}"


@pytest.mark.parametrize("name", TEMPLATE_NAMES)
def test_threshold_tables_give_the_values_of_the_cis_presets(name: str) -> None:
    # Manual deployments must give the member rules the central thresholds; these tables say which.
    text = page(name)
    assert "must match the central stack" in text or "must equal those of the member Config rules" in text
    rows = {}
    for line in text.splitlines():
        match = THRESHOLD_ROW.match(line)
        if match:
            preset, rotation, unused = match.groups()
            rows[preset.strip("`")] = (int(rotation), int(unused))
    expected = {key: (value.max_key_age_days, value.max_unused_days) for key, value in PRESETS.items()}
    expected["empty (no preset)"] = (Thresholds().max_key_age_days, Thresholds().max_unused_days)
    assert rows == expected
    # The presets in the table are the ones the central stack offers.
    offered = {str(v) for v in load("central")["Parameters"]["CisPreset"]["AllowedValues"]} - {""}
    assert offered == set(PRESETS)


def test_member_defaults_match_the_central_defaults() -> None:
    # Deployed with their defaults, the two stacks agree (no preset, no override: 90 and 90).
    member = load("member")["Parameters"]
    default = Thresholds()
    assert load("central")["Parameters"]["CisPreset"]["Default"] == ""
    assert (member["MaxAccessKeyAge"]["Default"], member["MaxCredentialUsageAge"]["Default"]) == (
        default.max_key_age_days,
        default.max_unused_days,
    )


def test_central_page_describes_the_state_table_restriction() -> None:
    statements = load("central")["Resources"]["RemediatorRole"]["Properties"]["Policies"][0][
        "PolicyDocument"
    ]["Statement"]
    conditions = [s["Condition"] for s in statements if "dynamodb:LeadingKeys" in str(s.get("Condition"))]
    assert len(conditions) == 2  # OwnStateItems and CheckPause
    text = page("central")
    assert "dynamodb:LeadingKeys" in text
    for condition in conditions:
        ((operator, keys),) = condition.items()
        assert operator in text
        for prefix in keys["dynamodb:LeadingKeys"]:
            assert f"`{prefix}`" in text, prefix


def test_protected_user_path_is_described_as_one_value_for_both_stacks() -> None:
    for name in TEMPLATE_NAMES:
        assert "ProtectedUserPath" in page(name)
    assert "same value" in page("central")
    assert "Give the central stack the same `ProtectedUserPath`" in page("member")


def test_central_page_says_how_the_sweep_may_list_the_accounts() -> None:
    # The sweep calls ListAccounts from the security account: only a delegated administrator may.
    statements = load("central")["Resources"]["SweepRole"]["Properties"]["Policies"][0]["PolicyDocument"][
        "Statement"
    ]
    assert {
        "Sid": "ListAccounts",
        "Effect": "Allow",
        "Action": "organizations:ListAccounts",
        "Resource": "*",
    } in (statements)
    section = page("central").split("## The sweep", 1)[1].split("\n## ", 1)[0]
    assert "delegated administrator" in section
    assert "register-delegated-administrator" in section
    assert "list_accounts.html" in section  # the AWS statement that delegated administrators may call it


def test_every_test_the_compatibility_table_names_exists() -> None:
    # docs/aws-compatibility.md says which test covers each moto gap: a renamed or removed test must not
    # leave a gap that looks covered. `path::name` and `::name` (the previous path's) both count.
    text = (REPO / "docs" / "aws-compatibility.md").read_text()
    missing, path = [], ""
    for found_path, name in re.findall(r"`((?:tests|org_bootstrap)/[\w/]+\.py)?::(\w+)`", text):
        path = found_path or path
        if not re.search(rf"^def {name}\(|^{name} = ", (REPO / path).read_text(), re.MULTILINE):
            missing.append(f"{path}::{name}")
    named = set(re.findall(r"`(tests/[\w/]+\.py|org_bootstrap/[\w/]+\.py)", text))
    missing += sorted(p for p in named if not (REPO / p).is_file())
    assert missing == []
