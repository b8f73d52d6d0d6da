"""SnapStart in stacksets/central.yaml: off by default, and then the stack is what it was; on, each function
gets a published version named by the package's hash and the settings' digest, and an alias "live" that the
rules and the queue mapping invoke.

moto's CloudFormation ignores SnapStart and skips AWS::Lambda::Alias (docs/aws-compatibility.md): these
template tests are what covers them."""

from __future__ import annotations

from typing import Final

import pytest

from org_bootstrap.deploy.code_check import lambda_sha256
from tests.stacksets.cfn import SECURITY_ACCOUNT_ID, Stack, check_parameter, load

CODE_SHA256: Final = lambda_sha256("ab" * 32)
DIGEST = "cd" * 32
# function -> (its version, its alias)
WIRING = {
    "RemediatorFunction": ("RemediatorVersion", "RemediatorAlias"),
    "SweepFunction": ("SweepVersion", "SweepAlias"),
    "WorkerFunction": ("WorkerVersion", "WorkerAlias"),
}


def central(**values: str) -> Stack:
    return Stack("central", values, account_id=SECURITY_ACCOUNT_ID)


def invoked(stack: Stack) -> dict[str, str]:
    """What each rule target, invoke permission and the queue mapping names."""
    resources = stack.resources
    return {
        "RemediationRule": resources["RemediationRule"]["Properties"]["Targets"][0]["Arn"],
        "RemediatorInvokePermission": resources["RemediatorInvokePermission"]["Properties"]["FunctionName"],
        "SweepRule": resources["SweepRule"]["Properties"]["Targets"][0]["Arn"],
        "SweepInvokePermission": resources["SweepInvokePermission"]["Properties"]["FunctionName"],
        "WorkerEventSourceMapping": resources["WorkerEventSourceMapping"]["Properties"]["FunctionName"],
    }


def test_snapstart_is_off_by_default_and_the_functions_are_invoked_as_before() -> None:
    stack = central()
    assert load("central")["Parameters"]["SnapStart"]["Default"] == "false"
    assert not stack.of_type("AWS::Lambda::Version")
    assert not stack.of_type("AWS::Lambda::Alias")
    for function in WIRING:
        assert stack.resources[function]["Properties"]["SnapStart"] == {"ApplyOn": "None"}

    def arn(function: str) -> str:
        return str(stack.resolve({"Fn::GetAtt": [function, "Arn"]}))

    def name(function: str) -> str:
        return str(stack.resolve({"Ref": function}))

    assert invoked(stack) == {
        "RemediationRule": arn("RemediatorFunction"),
        "RemediatorInvokePermission": name("RemediatorFunction"),
        "SweepRule": arn("SweepFunction"),
        "SweepInvokePermission": name("SweepFunction"),
        "WorkerEventSourceMapping": name("WorkerFunction"),
    }


def test_with_snapstart_on_the_rules_and_the_mapping_invoke_the_alias_of_a_published_version() -> None:
    stack = central(SnapStart="true", CodeSha256=CODE_SHA256, SettingsDigest=DIGEST)
    aliases = {}
    for function, (version, alias) in WIRING.items():
        name = stack.resolve({"Ref": function})
        assert stack.resources[function]["Properties"]["SnapStart"] == {"ApplyOn": "PublishedVersions"}
        # Lambda publishes the version only if $LATEST runs exactly CodeSha256.
        assert stack.resources[version]["Properties"] == {
            "FunctionName": name,
            "CodeSha256": CODE_SHA256,
            "Description": f"code {CODE_SHA256} settings {DIGEST}",
        }
        assert stack.resources[alias]["Properties"] == {
            "FunctionName": name,
            "FunctionVersion": "1",
            "Name": "live",
        }
        aliases[function] = stack.resolve({"Ref": alias})
        assert aliases[function].endswith(f":function:{name}:live")
    assert invoked(stack) == {
        "RemediationRule": aliases["RemediatorFunction"],
        "RemediatorInvokePermission": aliases["RemediatorFunction"],
        "SweepRule": aliases["SweepFunction"],
        "SweepInvokePermission": aliases["SweepFunction"],
        "WorkerEventSourceMapping": aliases["WorkerFunction"],
    }


@pytest.mark.parametrize(
    "changed",
    [{"CodeSha256": lambda_sha256("ef" * 32)}, {"SettingsDigest": "01" * 32}],
    ids=["new code", "new settings"],
)
def test_new_code_or_new_settings_change_every_versions_properties(changed: dict[str, str]) -> None:
    # CloudFormation publishes a new version (replaces AWS::Lambda::Version) only when one of its
    # properties changes: a change of settings alone must reach the alias too.
    before = central(SnapStart="true", CodeSha256=CODE_SHA256, SettingsDigest=DIGEST)
    after = central(**{"SnapStart": "true", "CodeSha256": CODE_SHA256, "SettingsDigest": DIGEST, **changed})
    for version, _ in WIRING.values():
        assert before.resources[version]["Properties"] != after.resources[version]["Properties"]


def test_code_sha256_takes_lambdas_form_of_the_hash_only() -> None:
    spec = load("central")["Parameters"]["CodeSha256"]
    check_parameter("CodeSha256", spec, CODE_SHA256)
    check_parameter("CodeSha256", spec, "")
    with pytest.raises(ValueError, match="does not match"):
        check_parameter("CodeSha256", spec, "ab" * 32)  # hex is not what Lambda reports
