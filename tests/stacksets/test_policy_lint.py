"""parliament (IAM policy lint, community auditors included) on every policy document of every template, in
every variant of tests/stacksets/variants.py: roles, inline and standalone policies, the key policy, the
bus policy, the queue and bucket policies. A finding passes only if ALLOWED names it with its reason."""

from __future__ import annotations

import json
import warnings
from typing import Any

import pytest

from tests.stacksets.cfn import Stack
from tests.stacksets.variants import VARIANTS

with warnings.catch_warnings():
    # parliament 1.6 imports pkg_resources and leaves its data files open.
    warnings.simplefilter("ignore")
    import parliament

# (where the document is, finding) -> why it is right here. `where` is template.LogicalId.Property[.Name].
ALLOWED: dict[tuple[str, str], str] = {
    ("member.ForwarderRole.AssumeRolePolicyDocument", "MALFORMED"): "trust policies have no Resource",
    ("member.MemberRole.AssumeRolePolicyDocument", "MALFORMED"): "trust policies have no Resource",
    ("member.ConfigRecorderRole.AssumeRolePolicyDocument", "MALFORMED"): "trust policies have no Resource",
    ("central.RemediatorRole.AssumeRolePolicyDocument", "MALFORMED"): "trust policies have no Resource",
    ("central.SweepRole.AssumeRolePolicyDocument", "MALFORMED"): "trust policies have no Resource",
    ("central.ArchiverRole.AssumeRolePolicyDocument", "MALFORMED"): "trust policies have no Resource",
    (
        "central.ReactivationWatchRole.AssumeRolePolicyDocument",
        "MALFORMED",
    ): "trust policies have no Resource",
    (
        "central.ArchiveReplicationRole.AssumeRolePolicyDocument",
        "MALFORMED",
    ): "trust policies have no Resource",
    ("member.DeactivateKeysPolicy.PolicyDocument", "CREDENTIALS_EXPOSURE"): (
        "iam:UpdateAccessKey on the account's users is the remediation itself (deactivate and staged modes)"
    ),
    ("member.DeactivateKeysPolicy.PolicyDocument", "PERMISSIONS_MANAGEMENT_ACTIONS"): (
        "the same action, classed as permissions management; the Deny policy protects break-glass users"
    ),
    ("member.DeleteKeysPolicy.PolicyDocument", "PERMISSIONS_MANAGEMENT_ACTIONS"): (
        "iam:DeleteAccessKey is the remediation itself (delete and staged modes); break-glass users denied"
    ),
    ("central.RemediatorRole.Policies.access-key-remediator", "CREDENTIALS_EXPOSURE"): (
        "sts:AssumeRole returns credentials: assuming the member roles, and only them, is the design"
    ),
    ("central.Key.KeyPolicy", "RESOURCE_STAR"): 'in a key policy "*" means this key',
    ("central.Key.KeyPolicy", "PERMISSIONS_MANAGEMENT_ACTIONS"): (
        "the default key statement: the account administers its key and IAM policies decide who uses it"
    ),
}

# The exact message parliament gives a trust policy, so that no other MALFORMED finding slips through.
TRUST_WITHOUT_RESOURCE = "Statement contains neither Resource nor NotResource"

CASES = [(name, values) for name, variants in VARIANTS.items() for values in variants]


def findings(document: dict[str, Any]) -> list[tuple[str, Any]]:
    policy = parliament.analyze_policy_string(json.dumps(document), include_community_auditors=True)
    return [(finding.issue, finding.detail) for finding in policy.findings]


@pytest.mark.parametrize(
    ("name", "values"), CASES, ids=[f"{n}-{i}" for n, v in VARIANTS.items() for i in range(len(v))]
)
def test_every_policy_document_passes_parliament(name: str, values: dict[str, str]) -> None:
    documents = dict(Stack(name, values).policy_documents())
    if name != "organization":
        assert documents, f"no policy documents found in {name}.yaml"
    unexpected = []
    for where, document in documents.items():
        for issue, detail in findings(document):
            if (where, issue) not in ALLOWED:
                unexpected.append((where, issue, detail))
            elif issue == "MALFORMED":
                assert detail == TRUST_WITHOUT_RESOURCE, (where, detail)
    assert unexpected == []


def test_every_allowance_is_still_needed() -> None:
    seen = {
        (where, issue)
        for name, values in CASES
        for where, document in Stack(name, values).policy_documents()
        for issue, _ in findings(document)
    }
    assert set(ALLOWED) <= seen, f"stale allowances: {set(ALLOWED) - seen}"


@pytest.mark.parametrize(
    ("action", "resource", "expected"),
    [
        # Evidence that remediator/permissions.py scopes agree with parliament's IAM definitions.
        ("iam:ListUsers", "arn:aws:iam::111111111111:user/*", "RESOURCE_MISMATCH"),
        ("config:ListDiscoveredResources", "arn:aws:iam::111111111111:user/*", "RESOURCE_MISMATCH"),
        ("iam:GetAccessKeyLastUsed", "*", "RESOURCE_STAR"),
        ("iam:ListAccessKeys", "*", "RESOURCE_STAR"),
    ],
)
def test_parliament_knows_which_member_actions_take_a_user_resource(
    action: str, resource: str, expected: str
) -> None:
    document = {
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Action": action, "Resource": resource}],
    }
    assert expected in {issue for issue, _ in findings(document)}
