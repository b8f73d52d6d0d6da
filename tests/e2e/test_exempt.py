"""`akr exempt add|list|remove` end to end against a moto server, after a real `akr deploy`: the stored
exemptions in the central state table, the audit records of every change, and the refusals of bad input
(each a clear message, exit 1, nothing written).

One organization per module (per xdist worker), through the real `akr` app.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import pytest
from moto.cloudformation.models import CloudFormationBackend
from typer.testing import CliRunner, Result

from org_bootstrap.commands.app import app
from org_bootstrap.deploy.deployment import Deployment
from remediator.adapters.audit_table import DynamoDBAuditLog
from remediator.adapters.exemption_table import DynamoDBExemptions
from remediator.audit import AuditRecord
from remediator.errors import RemediatorError
from remediator.exemptions import Exemption
from tests.e2e.akr import akr, as_json, deploy
from tests.e2e.test_deploy_policy import _previous_values
from tests.moto_server import REGION, ServerOrganization

pytestmark = pytest.mark.slow

KEY = "AKIAEXEMPTKEY0000001"
GONE = "AKIAEXEMPTKEY0000002"
LISTED = {"*", "app", "ci", "old"}
"""The users of `added` and of the list test: other tests add more."""
UNKNOWN_ACCOUNT = "999999999999"


@dataclass(frozen=True)
class Deployed:
    organization: ServerOrganization
    audit_table: str
    state_table: str
    operator: str

    @property
    def member(self) -> str:
        return self.organization.members[0]

    def exempt(self, *args: str, answers: str | None = None) -> Result:
        return CliRunner().invoke(
            app,
            [
                "exempt",
                *args,
                "--security-account",
                self.organization.security,
                "--region",
                REGION,
                "--endpoint-url",
                self.organization.url,
            ],
            input=answers,
            catch_exceptions=False,
        )

    def add(self, *args: str, allow_missing: bool = True) -> Result:
        """Most users here do not exist in IAM: the lookup has tests of its own, at the end."""
        missing = ("--allow-missing",) if allow_missing else ()
        return self.exempt(
            "add",
            "--reason",
            "migration",
            "--owner",
            "platform",
            *args,
            *missing,
            "--yes",
            "--output",
            "json",
        )

    @property
    def exemptions(self) -> DynamoDBExemptions:
        client = self.organization.client("dynamodb", self.organization.security)
        return DynamoDBExemptions(client=client, table_name=self.state_table)

    def stored(self, account: str | None = None) -> list[Exemption]:
        return self.exemptions.for_account(account or self.member)

    def audit(self, account: str | None = None) -> list[AuditRecord]:
        client = self.organization.client("dynamodb", self.organization.security)
        return DynamoDBAuditLog(client=client, table_name=self.audit_table).for_account(
            account or self.member, newest_first=False
        )


@pytest.fixture(scope="module")
def deployed(organization: ServerOrganization) -> Deployed:
    result = akr(
        organization, "deploy", "--security-account", organization.security, "--targets",
        organization.workloads_ou, "--yes", "--output", "json",
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    name = Deployment(security_account_id=organization.security, home_region=REGION).central_stack_name
    (stack,) = organization.client("cloudformation", organization.security).describe_stacks(StackName=name)[
        "Stacks"
    ]
    outputs = {o["OutputKey"]: o["OutputValue"] for o in stack["Outputs"]}
    operator = organization.client("sts").get_caller_identity()["Arn"]
    return Deployed(organization, outputs["AuditTableName"], outputs["StateTableName"], operator)


@pytest.fixture(scope="module")
def added(deployed: Deployed) -> list[Result]:
    """Three exemptions in the first member: a user (who exists: looked up) for 30 days, one key of another
    user until a date, and every user of the account for 10 days."""
    until = f"{datetime.now(UTC) + timedelta(days=60):%Y-%m-%d}"
    deployed.organization.client("iam", deployed.member).create_user(UserName="ci")
    return [
        deployed.add("--account", deployed.member, "--user", "ci", "--expires", "30d", allow_missing=False),
        deployed.add(
            "--account", deployed.member, "--user", "app", "--access-key-id", KEY, "--expires", until
        ),
        deployed.add("--account", deployed.member, "--user", "*", "--expires", "10d"),
    ]


def test_add_writes_the_exemptions(deployed: Deployed, added: list[Result]) -> None:
    assert [r.exit_code for r in added] == [0, 0, 0], [r.output for r in added]
    now = datetime.now(UTC)
    stored = {(e.user_name, e.access_key_id): e for e in deployed.stored()}
    assert set(stored) == {("ci", None), ("app", KEY), ("*", None)}
    assert {(e.reason, e.owner) for e in stored.values()} == {("migration", "platform")}
    assert timedelta(days=29) < stored["ci", None].expires_at - now <= timedelta(days=30)
    assert stored["app", KEY].expires_at == datetime.combine(
        (now + timedelta(days=60)).date(), datetime.min.time(), tzinfo=UTC
    )
    assert deployed.stored(deployed.organization.members[1]) == []


def test_add_prints_the_plan_and_the_result(deployed: Deployed, added: list[Result]) -> None:
    payload = as_json(added[0])
    expires = deployed.stored()
    (ci,) = [e for e in expires if e.user_name == "ci"]
    assert payload["command"] == "exempt add"
    assert (payload["status"], payload["changed"]) == ("ok", True)
    assert payload["plan"] == [
        f"Would exempt user ci in {deployed.member} until {ci.expires_at:%Y-%m-%d %H:%M} UTC, "
        "owner platform, reason 'migration'"
    ]
    result = payload["result"]
    assert result["operator"] == deployed.operator
    assert result["exemption"] == {
        "account_id": deployed.member,
        "user_name": "ci",
        "access_key_id": None,
        "owner": "platform",
        "reason": "migration",
        "expires_at": ci.expires_at.isoformat().replace("+00:00", "Z"),
        "state": "active",
    }
    assert as_json(added[1])["plan"][0].startswith(f"Would exempt key {KEY} of user app in {deployed.member}")
    assert as_json(added[2])["plan"][0].startswith(f"Would exempt every user in {deployed.member}")


def test_every_addition_is_audited(deployed: Deployed, added: list[Result]) -> None:
    records = [
        r
        for r in deployed.audit()
        if r.decision == "exempt-add" and r.user_name in LISTED and r.access_key_id != GONE
    ]
    assert [(r.user_name, r.access_key_id) for r in records] == [("ci", None), ("app", KEY), ("*", None)]
    assert {(r.trigger, r.phase, r.outcome, r.operator, r.owner) for r in records} == {
        ("cli", "outcome", "done", deployed.operator, "platform")
    }
    assert [r.record_id for r in records] == [as_json(a)["result"]["audit_record_id"] for a in added]
    ci = records[0]
    assert ci.reason.startswith(f"exempted user ci in {deployed.member}: reason 'migration', owner platform")
    assert f"expires {ci.recorded_at + timedelta(days=30):%Y-%m-%d}" in ci.reason


def test_the_additions_are_found_by_akr_audit(deployed: Deployed, added: list[Result]) -> None:
    result = akr(
        deployed.organization, "audit", "--security-account", deployed.organization.security,
        "--account", deployed.member, "--decision", "exempt-add", "--since", "1h", "--oldest-first",
        "--output", "json",
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    found = [r["record_id"] for r in as_json(result)["result"]["records"]]
    assert found[:3] == [as_json(a)["result"]["audit_record_id"] for a in added]


def test_list_shows_the_exemptions_in_force(deployed: Deployed, added: list[Result]) -> None:
    lapsed = Exemption(
        account_id=deployed.member,
        user_name="old",
        reason="done",
        owner="platform",
        expires_at=datetime.now(UTC) - timedelta(days=1),
    )
    deployed.exemptions.put(lapsed)
    result = deployed.exempt("list", "--output", "json")
    assert result.exit_code == 0, result.output
    rows = [r for r in as_json(result)["result"]["exemptions"] if r["user_name"] in LISTED]
    assert [(r["account_id"], r["user_name"], r["access_key_id"], r["state"]) for r in rows] == [
        (deployed.member, "*", None, "active"),
        (deployed.member, "app", KEY, "active"),
        (deployed.member, "ci", None, "active"),
    ]
    every = deployed.exempt("list", "--account", deployed.member, "--include-expired", "--output", "json")
    assert [
        (r["user_name"], r["state"])
        for r in as_json(every)["result"]["exemptions"]
        if r["user_name"] in LISTED
    ] == [
        ("*", "active"),
        ("app", "active"),
        ("ci", "active"),
        ("old", "expired"),
    ]
    table = deployed.exempt("list", "--include-expired")
    assert table.exit_code == 0, table.output
    assert "exemption(s)." in table.stdout
    assert "expired" in table.stdout
    assert "migration" in table.stdout


def test_remove_deletes_and_audits(deployed: Deployed) -> None:
    added = deployed.add(
        "--account", deployed.member, "--user", "app", "--access-key-id", GONE, "--expires", "3d"
    )
    assert added.exit_code == 0, added.output
    result = deployed.exempt(
        "remove", "--account", deployed.member, "--user", "app", "--access-key-id", GONE, "--yes", "--output",
        "json",
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    payload = as_json(result)
    assert (payload["command"], payload["status"], payload["changed"]) == ("exempt remove", "ok", True)
    assert payload["plan"][0].startswith(
        f"Would remove the exemption of key {GONE} of user app in {deployed.member}"
    )
    assert ("app", GONE) not in {(e.user_name, e.access_key_id) for e in deployed.stored()}
    (record,) = [r for r in deployed.audit() if r.decision == "exempt-remove"]
    assert (record.user_name, record.access_key_id, record.outcome, record.operator) == (
        "app",
        GONE,
        "done",
        deployed.operator,
    )
    assert record.record_id == payload["result"]["audit_record_id"]
    made = as_json(added)["result"]["audit_record_id"]
    assert record.revokes == made, "the removal revokes the exempt-add record: putting the item back fails"

    again = deployed.exempt(
        "remove", "--account", deployed.member, "--user", "app", "--access-key-id", GONE, "--yes", "--output",
        "json",
    )  # fmt: skip
    assert again.exit_code == 1
    assert as_json(again) == {
        "command": "exempt remove",
        "status": "error",
        "error": f"no exemption in {deployed.member} for user app and key {GONE}",
    }


def remove_args(deployed: Deployed, key: str) -> tuple[str, ...]:
    return ("remove", "--account", deployed.member, "--user", "app", "--access-key-id", key, "--yes",
            "--output", "json")  # fmt: skip


def test_a_removal_is_recorded_before_the_exemption_is_deleted(
    deployed: Deployed, monkeypatch: pytest.MonkeyPatch
) -> None:
    key = "AKIAEXEMPTKEY0000003"
    made = as_json(deployed.add("--account", deployed.member, "--user", "app", "--access-key-id", key,
                                "--expires", "3d"))["result"]["audit_record_id"]  # fmt: skip

    def lost(*_args: object) -> bool:
        raise RemediatorError("dynamodb:DeleteItem: ProvisionedThroughputExceededException")

    with monkeypatch.context() as patched:
        patched.setattr(DynamoDBExemptions, "delete", lost)
        failed = deployed.exempt(*remove_args(deployed, key))
    assert failed.exit_code == 1
    (record,) = [r for r in deployed.audit() if r.decision == "exempt-remove" and r.access_key_id == key]
    assert as_json(failed)["error"] == (
        f"the exempt-remove audit record {record.record_id} was written, but the exemption of key {key} of "
        f"user app in {deployed.member} was not deleted: dynamodb:DeleteItem: "
        "ProvisionedThroughputExceededException. With exemption verification the remediator no longer "
        "honours it; run akr exempt remove again"
    )
    assert record.revokes == made, "the exemption the item still holds is revoked already"
    assert key in {e.access_key_id for e in deployed.stored()}

    again = deployed.exempt(*remove_args(deployed, key))
    assert again.exit_code == 0, again.output
    assert key not in {e.access_key_id for e in deployed.stored()}


def test_a_removal_whose_record_cannot_be_written_removes_nothing(
    deployed: Deployed, monkeypatch: pytest.MonkeyPatch
) -> None:
    key = "AKIAEXEMPTKEY0000004"
    assert deployed.add("--account", deployed.member, "--user", "app", "--access-key-id", key,
                        "--expires", "3d").exit_code == 0  # fmt: skip

    def refuse(_self: DynamoDBAuditLog, _record: AuditRecord) -> None:
        raise RemediatorError("dynamodb:PutItem: AccessDenied")

    with monkeypatch.context() as patched:
        patched.setattr(DynamoDBAuditLog, "append", refuse)
        result = deployed.exempt(*remove_args(deployed, key))
    assert result.exit_code == 1
    assert as_json(result)["error"] == (
        f"nothing was removed: the exempt-remove audit record could not be written to "
        f"{deployed.audit_table}: dynamodb:PutItem: AccessDenied"
    )
    assert key in {e.access_key_id for e in deployed.stored()}
    assert not [r for r in deployed.audit() if r.decision == "exempt-remove" and r.access_key_id == key]


def test_a_replaced_exemption_is_revoked_once_the_new_one_is_in_place(deployed: Deployed) -> None:
    # Without the revocation, the old item put back in the state table (by anyone who can write it) would
    # still be proven by its own exempt-add record.
    first = deployed.add("--account", deployed.member, "--user", "replaced", "--expires", "5d")
    second = deployed.add("--account", deployed.member, "--user", "replaced", "--expires", "9d")
    old, new = (as_json(r)["result"]["audit_record_id"] for r in (first, second))
    (stored,) = [e for e in deployed.stored() if e.user_name == "replaced"]
    assert stored.record_id == new
    (revocation,) = [
        r for r in deployed.audit() if r.decision == "exempt-remove" and r.user_name == "replaced"
    ]
    assert revocation.revokes == old
    assert revocation.operator == deployed.operator
    assert revocation.reason.startswith(
        f"exemption replaced (by exempt-add record {new}) for user replaced in {deployed.member}: "
    )


def test_a_replacement_whose_revocation_cannot_be_written_keeps_the_user_protected(
    deployed: Deployed, monkeypatch: pytest.MonkeyPatch
) -> None:
    first = deployed.add("--account", deployed.member, "--user", "kept", "--expires", "5d")
    old = as_json(first)["result"]["audit_record_id"]
    append = DynamoDBAuditLog.append

    def removals_refused(self: DynamoDBAuditLog, record: AuditRecord) -> None:
        if record.decision == "exempt-remove":
            raise RemediatorError("dynamodb:PutItem: AccessDenied")
        append(self, record)

    with monkeypatch.context() as patched:
        patched.setattr(DynamoDBAuditLog, "append", removals_refused)
        second = deployed.add("--account", deployed.member, "--user", "kept", "--expires", "9d")
    assert second.exit_code == 1
    assert as_json(second)["error"] == (
        f"NOT AUDITED: the exemption of user kept in {deployed.member} was replaced (exempt-add record {old} "
        f"is not revoked), but its audit record could not be written to {deployed.audit_table}: "
        "dynamodb:PutItem: AccessDenied. Record the change by hand, or undo it"
    )
    (stored,) = [e for e in deployed.stored() if e.user_name == "kept"]
    (made,) = [
        r
        for r in deployed.audit()
        if r.decision == "exempt-add" and r.user_name == "kept" and r.record_id != old
    ]
    assert stored.record_id == made.record_id, "the new exemption is in place: protection never lapsed"


def test_add_asks_first_and_no_writes_nothing(deployed: Deployed, added: list[Result]) -> None:
    result = deployed.exempt(
        "add", "--account", deployed.member, "--user", "asked", "--reason", "r", "--owner", "o", "--expires",
        "5d", "--allow-missing", answers="n\n",
    )  # fmt: skip
    assert result.exit_code == 1
    assert f"Would exempt user asked in {deployed.member} until" in result.stdout
    assert result.stdout.rstrip().endswith("Exempt? [y/N]: n\nAborted: nothing was changed.")
    assert "asked" not in {e.user_name for e in deployed.stored()}


def test_an_unwritable_audit_record_is_said_loudly(
    deployed: Deployed, added: list[Result], monkeypatch: pytest.MonkeyPatch
) -> None:
    def refuse(_self: DynamoDBAuditLog, _record: AuditRecord) -> None:
        raise RemediatorError("dynamodb:PutItem: AccessDenied")

    monkeypatch.setattr(DynamoDBAuditLog, "append", refuse)
    result = deployed.add("--account", deployed.member, "--user", "unaudited", "--expires", "5d")
    assert result.exit_code == 1
    error = as_json(result)["error"]
    assert error == (
        f"nothing was exempted: the exempt-add audit record could not be written to {deployed.audit_table}: "
        "dynamodb:PutItem: AccessDenied"
    )
    assert "unaudited" not in {e.user_name for e in deployed.stored()}


def test_an_exemption_carries_the_id_of_the_record_that_made_it(
    deployed: Deployed, added: list[Result]
) -> None:
    records = {r.record_id: r for r in deployed.audit() if r.decision == "exempt-add"}
    ours = {("ci", None), ("app", KEY), ("*", None)}
    made = [e for e in deployed.stored() if (e.user_name, e.access_key_id) in ours]
    assert len(made) == 3
    for exemption in made:
        assert exemption.record_id in records, exemption
        record = records[exemption.record_id]
        assert (record.user_name, record.access_key_id, record.owner, record.expires_at) == (
            exemption.user_name,
            exemption.access_key_id,
            exemption.owner,
            exemption.expires_at,
        )


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (
            ("--account", UNKNOWN_ACCOUNT, "--expires", "30d"),
            f"account {UNKNOWN_ACCOUNT} is not an account of the organization",
        ),
        (("--expires", "30x"), "malformed expiry '30x': give a number of days (30d), a date (2026-12-31)"),
        (("--expires", "2020-01-01"), "the expiry 2020-01-01 00:00 UTC is in the past"),
        (("--expires", "91d"), "is beyond the maximum horizon of 90 days"),
        (("--expires", "20d", "--max-days", "10"), "is beyond the maximum horizon of 10 days"),
    ],
    ids=["unknown-account", "malformed", "past", "beyond-horizon", "beyond-max-days"],
)
def test_bad_input_is_refused_and_writes_nothing(
    deployed: Deployed, added: list[Result], args: tuple[str, ...], message: str
) -> None:
    before = deployed.audit()
    account = () if "--account" in args else ("--account", deployed.member)
    result = deployed.add(*account, "--user", "bad", *args)
    assert result.exit_code == 1
    payload = as_json(result)
    assert (payload["command"], payload["status"]) == ("exempt add", "error")
    assert message in payload["error"]
    assert "bad" not in {e.user_name for e in deployed.stored()}
    assert deployed.audit() == before


def test_the_horizon_cannot_be_lifted_beyond_a_year(deployed: Deployed) -> None:
    result = deployed.add(
        "--account", deployed.member, "--user", "ci", "--expires", "400d", "--max-days", "400"
    )  # fmt: skip
    assert result.exit_code == 2  # refused by the option itself, before any AWS call
    words = " ".join(result.output.replace("│", " ").split())
    assert "Invalid value for '--max-days'" in words
    assert "must be at most 365" in words
    assert [e for e in deployed.stored() if e.expires_at > datetime.now(UTC) + timedelta(days=365)] == []


def test_list_of_an_unknown_account_is_refused(deployed: Deployed) -> None:
    result = deployed.exempt("list", "--account", UNKNOWN_ACCOUNT)
    assert result.exit_code == 1
    assert f"account {UNKNOWN_ACCOUNT} is not an account of the organization" in result.stderr


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("--user", "no-such-user"), "there is no user no-such-user in {member}"),
        (("--user", "ci", "--access-key-id", GONE), "user ci in {member} has no key " + GONE),
    ],
)
def test_a_user_or_key_that_does_not_exist_is_refused_before_any_write(
    deployed: Deployed, added: list[Result], args: tuple[str, ...], message: str
) -> None:
    before = (deployed.stored(), len(deployed.audit()))
    result = deployed.add("--account", deployed.member, *args, "--expires", "5d", allow_missing=False)
    assert result.exit_code == 1
    assert as_json(result)["error"] == (
        f"{message.format(member=deployed.member)}: check the name, or pass --allow-missing to exempt it "
        "before it exists"
    )
    assert (deployed.stored(), len(deployed.audit())) == before


def test_relink_links_each_exemption_made_without_its_record_and_audits_it(deployed: Deployed) -> None:
    now = datetime.now(UTC)
    legacy = Exemption(
        account_id=deployed.member,
        user_name="legacy",
        reason="break-glass, vaulted",
        owner="secops",
        expires_at=now + timedelta(days=100),
    )
    too_long = legacy.model_copy(update={"user_name": "too-long", "expires_at": now + timedelta(days=400)})
    for exemption in (legacy, too_long):
        deployed.exemptions.put(exemption)  # as a stack from before records were linked holds them
    try:
        result = deployed.exempt("relink", "--account", deployed.member, "--yes", "--output", "json")
        assert result.exit_code == 1, result.output
        payload = as_json(result)
        assert [e["exemption"]["user_name"] for e in payload["result"]["linked"]] == ["legacy"]
        [left] = payload["result"]["left"]
        assert left["error"] == (
            f"the exemption of user too-long in {deployed.member} expires {too_long.expires_at:%Y-%m-%d}, "
            "more than the deployed MaxExemptionDays of 365 from now: remove it and add a shorter one"
        )
        stored = {e.user_name: e for e in deployed.stored()}
        record_id = payload["result"]["linked"][0]["audit_record_id"]
        assert stored["legacy"].record_id == record_id
        assert stored["too-long"].record_id is None
        [record] = [r for r in deployed.audit() if r.record_id == record_id]
        assert (record.decision, record.operator, record.owner, record.expires_at) == (
            "exempt-add",
            deployed.operator,
            "secops",
            legacy.expires_at,
        )
        assert record.reason.startswith("relinked an exemption made without its record: exempted user legacy")
        again = deployed.exempt("relink", "--account", deployed.member, "--yes", "--output", "json")
        assert [e["exemption"]["user_name"] for e in as_json(again)["result"]["left"]] == ["too-long"]
        assert as_json(again)["result"]["linked"] == []
    finally:
        for name in ("legacy", "too-long"):
            deployed.exemptions.delete(deployed.member, name, None)


def test_relink_asks_for_each_exemption_and_a_no_links_nothing(deployed: Deployed) -> None:
    declined = Exemption(
        account_id=deployed.member,
        user_name="declined",
        reason="r",
        owner="o",
        expires_at=datetime.now(UTC) + timedelta(days=5),
    )
    deployed.exemptions.put(declined)
    try:
        before = deployed.audit()
        result = deployed.exempt("relink", "--account", deployed.member, answers="n\n")
        assert result.exit_code == 1
        assert f"Would link the exemption of user declined in {deployed.member} (owner o" in result.stdout
        assert "Link? [y/N]: n" in result.stdout
        assert result.stdout.rstrip().endswith("0 linked, 1 left.")
        assert {e.user_name: e.record_id for e in deployed.stored()}["declined"] is None
        assert deployed.audit() == before
    finally:
        deployed.exemptions.delete(deployed.member, "declined", None)


def _verify_parameter(deployed: Deployed) -> str:
    cloudformation = deployed.organization.client("cloudformation", deployed.organization.security)
    (stack,) = cloudformation.describe_stacks(StackName="access-key-remediation")["Stacks"]
    return str({p["ParameterKey"]: p["ParameterValue"] for p in stack["Parameters"]}["VerifyExemptions"])


def _as_before_verification(deployed: Deployed) -> None:
    """The central stack as an akr from before exemption verification left it: VerifyExemptions off."""
    cloudformation = deployed.organization.client("cloudformation", deployed.organization.security)
    (stack,) = cloudformation.describe_stacks(StackName="access-key-remediation")["Stacks"]
    # moto answers UsePreviousTemplate with an internal error: the deployed template, sent again.
    body = cloudformation.get_template(StackName="access-key-remediation")["TemplateBody"]
    cloudformation.update_stack(
        StackName="access-key-remediation",
        TemplateBody=body if isinstance(body, str) else "",
        Capabilities=["CAPABILITY_NAMED_IAM"],
        # Empty optional parameters are left out (their default is empty): moto takes a parameter its last
        # call did not pass as changed and updates the resources naming it, even one whose Condition is
        # false and that it never created (docs/aws-compatibility.md, parameter-only updates).
        Parameters=[
            {
                "ParameterKey": p["ParameterKey"],
                "ParameterValue": "false" if p["ParameterKey"] == "VerifyExemptions" else p["ParameterValue"],
            }
            for p in stack["Parameters"]
            if p["ParameterValue"] != ""
        ],
    )
    assert _verify_parameter(deployed) == "false"


def test_an_upgrade_keeps_verification_off_until_relink_has_linked_every_exemption(
    deployed: Deployed, added: list[Result], monkeypatch: pytest.MonkeyPatch
) -> None:
    # The deploys below keep the parameters they do not set (UsePreviousValue), as AWS does; moto's own
    # resolution would update resources it never created (tests/e2e/test_deploy_policy.py).
    monkeypatch.setattr(CloudFormationBackend, "_resolve_update_parameters", _previous_values)
    _as_before_verification(deployed)
    legacy = Exemption(
        account_id=deployed.member,
        user_name="break-glass",
        reason="vaulted",
        owner="secops",
        expires_at=datetime.now(UTC) + timedelta(days=30),
    )
    deployed.exemptions.put(legacy)
    try:
        kept_off = deploy(deployed.organization, "--dry-run", "--output", "json")
        assert kept_off.exit_code == 0, kept_off.output
        assert (
            f"Exemption verification stays off: 1 exemption(s) in force have no exempt-add audit record "
            f"({deployed.member} break-glass#*); link them with akr exempt relink, then deploy again"
        ) in as_json(kept_off)["plan"]
        relinked = deployed.exempt("relink", "--account", deployed.member, "--yes", "--output", "json")
        assert relinked.exit_code == 0, relinked.output
        turned_on = deploy(deployed.organization, "--yes", "--output", "json")
        assert turned_on.exit_code == 0, turned_on.output
        assert (
            "From now on the remediator honours an exemption only with its matching exempt-add audit record "
            "(every exemption in force has one)"
        ) in as_json(turned_on)["plan"]
        assert _verify_parameter(deployed) == "true"
    finally:
        deployed.exemptions.delete(deployed.member, "break-glass", None)
