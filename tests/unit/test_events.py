"""The Config compliance-change event model against whole-envelope fixtures, real variants and forgeries."""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import ValidationError

from remediator.errors import EventRejectedError
from remediator.events import ComplianceType, parse_compliance_change, rule_matches
from tests.fixtures import load_event

PREFIXES = ("akr-",)


def parse(event: Any, prefixes: tuple[str, ...] = PREFIXES) -> Any:
    return parse_compliance_change(event, prefixes)


def rejection(event: Any, prefixes: tuple[str, ...] = PREFIXES) -> str:
    with pytest.raises(EventRejectedError) as caught:
        parse_compliance_change(event, prefixes)
    return str(caught.value)


@pytest.mark.parametrize(
    ("fixture", "compliance", "rule"),
    [
        ("config_noncompliant_rotated", ComplianceType.NON_COMPLIANT, "akr-access-keys-rotated"),
        (
            "config_noncompliant_unused_first_evaluation",
            ComplianceType.NON_COMPLIANT,
            "akr-iam-user-unused-credentials-check",
        ),
        ("config_compliant_rotated", ComplianceType.COMPLIANT, "akr-access-keys-rotated"),
        ("config_not_applicable_rotated", ComplianceType.NOT_APPLICABLE, "akr-access-keys-rotated"),
    ],
)
def test_fixtures_parse(fixture: str, compliance: ComplianceType, rule: str) -> None:
    event = parse(load_event(fixture))
    assert event.compliance is compliance
    assert event.detail.config_rule_name == rule
    assert event.detail.aws_account_id == "222222222222"
    assert event.detail.resource_type == "AWS::IAM::User"


def test_first_evaluation_has_no_old_result_and_null_annotation() -> None:
    event = parse(load_event("config_noncompliant_unused_first_evaluation"))
    assert event.detail.old_evaluation_result is None
    assert event.detail.new_evaluation_result.annotation is None
    assert event.detail.new_evaluation_result.result_token is None
    qualifier = event.detail.new_evaluation_result.evaluation_result_identifier.evaluation_result_qualifier
    assert qualifier.evaluation_mode is None


def test_annotation_and_result_token_may_be_missing_or_null() -> None:
    raw = load_event("config_noncompliant_rotated")
    raw["detail"]["newEvaluationResult"].pop("annotation")
    raw["detail"]["newEvaluationResult"]["resultToken"] = None
    assert parse(raw).detail.new_evaluation_result.annotation is None


def test_unknown_fields_are_ignored() -> None:
    raw = load_event("config_noncompliant_rotated")
    raw["detail"]["someFutureField"] = {"x": 1}
    raw["newTopLevel"] = "y"
    assert parse(raw).detail.resource_id == "AIDAEXAMPLEUSERID0001"


MISSING_ACCOUNT = (
    "event rejected: the envelope account is missing: EventBridge always sets it, so this event did not "
    "come through the bus"
)


@pytest.mark.parametrize("account", [None, "absent"])
def test_event_without_envelope_account_is_rejected(account: str | None) -> None:
    # moto drops `account` on delivery; AWS always sets it. Without it the detail could name any account.
    raw = load_event("config_noncompliant_rotated")
    if account == "absent":
        del raw["account"]
    else:
        raw["account"] = account
    assert rejection(raw) == MISSING_ACCOUNT


def test_an_empty_envelope_account_is_rejected() -> None:
    raw = load_event("config_noncompliant_rotated")
    raw["account"] = ""
    assert rejection(raw) == "event rejected: account: String should match pattern '^[0-9]{12}$'"


def test_moto_style_lowercase_resource_id_is_accepted() -> None:
    raw = load_event("config_noncompliant_rotated")
    user_id = "x2k9q7w1e5r3t8y6u4i0"
    raw["detail"]["resourceId"] = user_id
    qualifier = raw["detail"]["newEvaluationResult"]["evaluationResultIdentifier"]
    qualifier["evaluationResultQualifier"]["resourceId"] = user_id
    assert parse(raw).detail.resource_id == user_id


def test_conformance_pack_rule_name_is_accepted() -> None:
    raw = load_event("config_noncompliant_rotated")
    raw["detail"]["configRuleName"] = "akr-access-keys-rotated-conformance-pack-k3abcd9xy"
    assert parse(raw).detail.config_rule_name == "akr-access-keys-rotated-conformance-pack-k3abcd9xy"


def test_security_hub_rule_is_accepted_with_its_configured_prefix() -> None:
    raw = load_event("config_noncompliant_rotated")
    raw["detail"]["configRuleName"] = "securityhub-access-keys-rotated-1a2b3c4d"
    raw["detail"]["configRuleARN"] = (
        "arn:aws:config:eu-west-1:222222222222:config-rule/aws-service-rule/"
        "securityhub.amazonaws.com/config-rule-xyz789"
    )
    prefixes = ("akr-", "securityhub-access-keys-rotated-")
    assert parse(raw, prefixes).detail.config_rule_name == "securityhub-access-keys-rotated-1a2b3c4d"
    # Without that prefix configured, the buses do not route it, and neither is it accepted here.
    assert "matches none of the configured prefixes" in rejection(raw)


def test_dedupe_key_ignores_the_envelope_id() -> None:
    first = parse(load_event("config_noncompliant_rotated"))
    raw = load_event("config_noncompliant_rotated")
    raw["id"] = "another-id-after-a-bus-hop"
    assert parse(raw).dedupe_key == first.dedupe_key
    assert first.dedupe_key == {
        "account": "222222222222",
        "resource": "AIDAEXAMPLEUSERID0001",
        "rule": "akr-access-keys-rotated",
        "recorded": "2026-11-20T08:15:29.731000+00:00",
    }


# -- rejections: a clear reason, raised before any AWS call -----------------------------------------


def test_wrong_source() -> None:
    raw = load_event("config_noncompliant_rotated")
    raw["source"] = "my.config"
    assert rejection(raw) == "event rejected: source: Input should be 'aws.config'"


def test_wrong_detail_type() -> None:
    raw = load_event("config_noncompliant_rotated")
    raw["detail-type"] = "Config Configuration Item Change"
    assert rejection(raw) == "event rejected: detail-type: Input should be 'Config Rules Compliance Change'"


def test_wrong_message_type() -> None:
    raw = load_event("config_noncompliant_rotated")
    raw["detail"]["messageType"] = "ConfigurationItemChangeNotification"
    assert (
        rejection(raw) == "event rejected: detail.messageType: Input should be 'ComplianceChangeNotification'"
    )


def test_wrong_resource_type() -> None:
    raw = load_event("config_noncompliant_rotated")
    raw["detail"]["resourceType"] = "AWS::IAM::Role"
    assert rejection(raw) == "event rejected: detail.resourceType: Input should be 'AWS::IAM::User'"


@pytest.mark.parametrize("account", ["12345678901", "1234567890123", "abcdefghijkl", ""])
def test_account_id_must_be_12_digits(account: str) -> None:
    raw = load_event("config_noncompliant_rotated")
    raw["account"] = "222222222222"
    raw["detail"]["awsAccountId"] = account
    assert rejection(raw).startswith("event rejected: detail.awsAccountId: String should match pattern")


def test_forged_account_is_rejected() -> None:
    raw = load_event("config_noncompliant_rotated")
    raw["account"] = "999999999999"
    assert rejection(raw) == (
        "event rejected: envelope account 999999999999 differs from detail.awsAccountId 222222222222"
    )


def test_unknown_rule_is_rejected() -> None:
    raw = load_event("config_noncompliant_rotated")
    raw["detail"]["configRuleName"] = "team-x-access-keys-rotated"
    assert rejection(raw) == (
        "event rejected: Config rule 'team-x-access-keys-rotated' matches none of the configured "
        "prefixes akr-"
    )


def test_missing_detail_field_is_named() -> None:
    raw = load_event("config_noncompliant_rotated")
    del raw["detail"]["newEvaluationResult"]
    assert rejection(raw) == "event rejected: detail.newEvaluationResult: Field required"


@pytest.mark.parametrize("raw", [None, "text", 42, ["list"]])
def test_non_object_is_rejected(raw: Any) -> None:
    assert rejection(raw).startswith("event rejected: expected a JSON object")


def test_sns_shape_without_envelope_is_rejected() -> None:
    # Config also delivers the detail alone over SNS; that shape is not ours.
    detail = load_event("config_noncompliant_rotated")["detail"]
    assert "source: Field required" in rejection(detail)


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("akr-access-keys-rotated", True),
        ("akr-iam-user-unused-credentials-check-conformance-pack-abc", True),
        ("securityhub-akr-access-keys-rotated-0a1b2c3d", False),
        ("access-keys-rotated", False),
        ("securityhub-access-keys-rotated-0a1b2c3d", False),
        ("xakr-access-keys-rotated", False),
    ],
)
def test_rule_matches(name: str, expected: bool) -> None:
    assert rule_matches(name, ["akr-"]) is expected


# -- configRuleARN: absent, or a Config rule ARN of the detail's own account ---------------------------------


@pytest.mark.parametrize(
    "arn",
    [
        "not-an-arn",
        "arn:aws:iam::222222222222:user/alice",
        "arn:aws:config:eu-west-1:22222222222:config-rule/config-rule-a1b2c3",
        "arn:aws:config:eu-west-1:222222222222:config-rule",
        "arn:aws:config::222222222222:config-rule/config-rule-a1b2c3",
        " arn:aws:config:eu-west-1:222222222222:config-rule/config-rule-a1b2c3",
    ],
    ids=["not-an-arn", "iam-arn", "11-digit-account", "no-rule", "no-region", "leading-space"],
)
def test_malformed_rule_arn_is_rejected(arn: str) -> None:
    raw = load_event("config_noncompliant_rotated")
    raw["detail"]["configRuleARN"] = arn
    assert rejection(raw) == f"event rejected: detail: configRuleARN {arn!r} is not a Config rule ARN"


@pytest.mark.parametrize(
    "arn",
    [
        "arn:aws:config:eu-west-1:222222222222:config-rule/config-rule-a1b2c3",
        "arn:aws-cn:config:cn-north-1:222222222222:config-rule/config-rule-a1b2c3",
        "arn:aws-us-gov:config:us-gov-west-1:222222222222:config-rule/config-rule-a1b2c3",
        None,
    ],
    ids=["aws", "aws-cn", "aws-us-gov", "absent"],
)
def test_rule_arn_of_the_detail_account_is_accepted(arn: str | None) -> None:
    raw = load_event("config_noncompliant_rotated")
    if arn is None:
        del raw["detail"]["configRuleARN"]
    else:
        raw["detail"]["configRuleARN"] = arn
    assert parse(raw).detail.config_rule_arn == arn


def test_rule_arn_of_another_account_names_both() -> None:
    raw = load_event("config_noncompliant_rotated")
    raw["detail"]["configRuleARN"] = "arn:aws:config:eu-west-1:999999999999:config-rule/config-rule-a1b2c3"
    assert rejection(raw) == (
        "event rejected: detail: configRuleARN belongs to account 999999999999, "
        "detail.awsAccountId is 222222222222"
    )


def test_evaluation_for_another_resource_names_both() -> None:
    raw = load_event("config_noncompliant_rotated")
    raw["detail"]["resourceId"] = "AIDASOMEONEELSE00000"
    assert rejection(raw) == (
        "event rejected: detail: newEvaluationResult names resource AIDAEXAMPLEUSERID0001, "
        "detail names AIDASOMEONEELSE00000"
    )


# -- the bounds of the detail's names, at N-1, N and N+1 ----------------------------------------------------


@pytest.mark.parametrize(
    ("field", "length", "accepted"),
    [
        ("configRuleName", 0, False),
        ("configRuleName", 1, True),
        ("configRuleName", 127, True),
        ("configRuleName", 128, True),
        ("configRuleName", 129, False),
        ("resourceId", 0, False),
        ("resourceId", 1, True),
        ("resourceId", 128, True),
        ("resourceId", 129, False),
    ],
)
def test_names_are_bounded(field: str, length: int, accepted: bool) -> None:
    raw = load_event("config_noncompliant_rotated")
    value = "a" * length
    raw["detail"][field] = value
    qualifier = raw["detail"]["newEvaluationResult"]["evaluationResultIdentifier"][
        "evaluationResultQualifier"
    ]
    qualifier[field] = value  # the evaluation names the same resource and rule
    if accepted:
        assert parse(raw, ("",)).detail.model_dump(by_alias=True)[field] == value
    else:
        assert rejection(raw, ("",)).startswith(f"event rejected: detail.{field}: String should have at")


@pytest.mark.parametrize(
    ("region", "accepted"),
    [
        ("eu-west-1", True),
        ("us-gov-west-1", True),
        ("eu-west", False),
        ("EU-WEST-1", False),
        ("eu-west-1x", False),
        ("xeu-west-1", False),
        ("eu-west-\u0661", False),  # an Arabic-Indic digit, which a Unicode \d takes
    ],
)
def test_region_must_look_like_one(region: str, accepted: bool) -> None:
    raw = load_event("config_noncompliant_rotated")
    raw["detail"]["awsRegion"] = region
    if accepted:
        assert parse(raw).detail.aws_region == region
    else:
        assert rejection(raw).startswith("event rejected: detail.awsRegion: String should match pattern")


def test_every_problem_is_named() -> None:
    raw = load_event("config_noncompliant_rotated")
    raw["source"] = "my.config"
    raw["detail-type"] = "Config Configuration Item Change"
    assert rejection(raw) == (
        "event rejected: source: Input should be 'aws.config'; "
        "detail-type: Input should be 'Config Rules Compliance Change'"
    )


def test_dedupe_key_falls_back_to_the_event_time() -> None:
    # A result without its recorded time: the envelope's time tells two deliveries of it apart.
    raw = load_event("config_noncompliant_rotated")
    del raw["detail"]["newEvaluationResult"]["resultRecordedTime"]
    assert parse(raw).dedupe_key["recorded"] == "2026-11-20T08:15:30+00:00"


@pytest.mark.parametrize(
    ("name", "expected"),
    [("team-b-access-keys-rotated", True), ("akr-access-keys-rotated", True), ("team-c-rotated", False)],
)
def test_rule_matches_any_of_several_prefixes(name: str, expected: bool) -> None:
    assert rule_matches(name, ["akr-", "team-b-"]) is expected


@pytest.mark.parametrize("compliance", list(ComplianceType), ids=lambda c: c.value)
def test_every_compliance_type_config_sends_is_read(compliance: ComplianceType) -> None:
    raw = load_event("config_noncompliant_rotated")
    raw["detail"]["newEvaluationResult"]["complianceType"] = compliance.value
    assert parse(raw).compliance is compliance


def test_the_compliance_types_are_configs_names() -> None:
    assert [c.value for c in ComplianceType] == [
        "COMPLIANT",
        "NON_COMPLIANT",
        "NOT_APPLICABLE",
        "INSUFFICIENT_DATA",
    ]


def test_optional_fields_absent_are_none() -> None:
    raw = load_event("config_noncompliant_rotated")
    detail = raw["detail"]
    for name in ("recordVersion", "configRuleARN", "oldEvaluationResult", "notificationCreationTime"):
        del detail[name]
    new = detail["newEvaluationResult"]
    for name in ("resultRecordedTime", "configRuleInvokedTime", "annotation"):
        del new[name]
    del new["evaluationResultIdentifier"]["orderingTimestamp"]
    del raw["resources"]

    event = parse(raw)

    assert event.resources == []
    assert event.detail.model_dump(
        include={"record_version", "config_rule_arn", "notification_creation_time"}
    ) == {
        "record_version": None,
        "config_rule_arn": None,
        "notification_creation_time": None,
    }
    result = event.detail.new_evaluation_result
    assert (result.result_recorded_time, result.config_rule_invoked_time, result.annotation) == (
        None,
        None,
        None,
    )
    assert result.evaluation_result_identifier.ordering_timestamp is None


def test_a_parsed_event_reads_back_from_its_field_names() -> None:
    # The models take field names as well as the event's own (camelCase, detail-type) names.
    event = parse(load_event("config_noncompliant_rotated"))

    assert type(event).model_validate(event.model_dump()) == event


def test_a_parsed_event_is_frozen() -> None:
    event = parse(load_event("config_noncompliant_rotated"))

    with pytest.raises(ValidationError):
        event.account = "999999999999"
    with pytest.raises(ValidationError):
        event.detail.aws_account_id = "999999999999"


def test_an_unknown_rule_names_every_configured_prefix() -> None:
    raw = load_event("config_noncompliant_rotated")
    raw["detail"]["configRuleName"] = "team-x-access-keys-rotated"
    assert rejection(raw, ("akr-", "securityhub-access-keys-rotated-")) == (
        "event rejected: Config rule 'team-x-access-keys-rotated' matches none of the configured "
        "prefixes akr-, securityhub-access-keys-rotated-"
    )
