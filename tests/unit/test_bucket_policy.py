"""The code bucket's policy document and the words the plan gives its changes. moto does not evaluate a
bucket policy's conditions (it denies on any), so what the policy denies is asserted here, on the document:
its statements, their principal conditions, and parliament's lint."""

from __future__ import annotations

import json
import warnings

import pytest

from org_bootstrap.deploy.bucket_policy import (
    TLS_SID,
    WRITE_ACTIONS,
    WRITERS_SID,
    BucketPolicyError,
    bucket_repairs,
    check_writer,
    deployed_writers,
    desired_policy,
    policy_changes,
    same_principal,
)
from org_bootstrap.deploy.observed import BucketState

with warnings.catch_warnings():
    warnings.simplefilter("ignore")  # parliament 1.6 imports pkg_resources
    import parliament

BUCKET = "akr-code-222222222222-eu-west-1"
WRITER = "arn:aws:iam::222222222222:role/OrganizationAccountAccessRole"
PIPELINE = "arn:aws:iam::222222222222:role/ci/release-pipeline"


def statements(text: str) -> dict[str, dict[str, object]]:
    return {s["Sid"]: s for s in json.loads(text)["Statement"]}


def test_every_request_without_tls_is_denied_on_the_bucket_and_its_objects() -> None:
    tls = statements(desired_policy("", BUCKET, "aws", [WRITER]))[TLS_SID]
    assert tls == {
        "Sid": TLS_SID,
        "Effect": "Deny",
        "Principal": "*",
        "Action": "s3:*",
        "Resource": [f"arn:aws:s3:::{BUCKET}", f"arn:aws:s3:::{BUCKET}/*"],
        "Condition": {"Bool": {"aws:SecureTransport": "false"}},
    }


def test_object_writes_are_denied_to_every_principal_but_the_writers() -> None:
    writes = statements(desired_policy("", BUCKET, "aws-us-gov", [WRITER, PIPELINE]))[WRITERS_SID]
    assert writes["Effect"] == "Deny"
    assert writes["Principal"] == "*"
    assert writes["Resource"] == f"arn:aws-us-gov:s3:::{BUCKET}/*"
    # aws:PrincipalArn names a role session by its role: the role's ARN, path included.
    assert writes["Condition"] == {"ArnNotLike": {"aws:PrincipalArn": sorted([WRITER, PIPELINE])}}
    actions = set(writes["Action"])  # type: ignore[call-overload]
    assert actions == set(WRITE_ACTIONS)
    assert {"s3:PutObject", "s3:DeleteObject", "s3:DeleteObjectVersion", "s3:PutObjectAcl"} <= actions
    assert all(a.startswith(("s3:Put", "s3:Delete", "s3:Replicate", "s3:Restore")) for a in actions)


def test_no_statement_denies_changing_the_policy_so_a_wrong_list_never_locks_the_bucket() -> None:
    for statement in statements(desired_policy("", BUCKET, "aws", [WRITER])).values():
        actions = statement["Action"]
        named = [actions] if isinstance(actions, str) else actions
        # s3:* is denied only without TLS; nothing denies a policy change over TLS.
        assert "s3:PutBucketPolicy" not in named  # type: ignore[operator]
        assert statement["Sid"] == TLS_SID or "s3:*" not in named  # type: ignore[operator]


def test_the_policy_passes_parliament() -> None:
    policy = parliament.analyze_policy_string(
        desired_policy("", BUCKET, "aws", [WRITER]), include_community_auditors=True
    )
    assert [(f.issue, f.detail) for f in policy.findings] == []


def test_statements_the_bucket_had_are_kept_and_akrs_are_replaced_by_sid() -> None:
    own = {"Sid": "TeamRead", "Effect": "Allow", "Principal": {"AWS": WRITER}, "Action": "s3:GetObject",
           "Resource": f"arn:aws:s3:::{BUCKET}/*"}  # fmt: skip
    stale = {"Sid": WRITERS_SID, "Effect": "Deny", "Principal": "*", "Action": "s3:PutObject",
             "Resource": f"arn:aws:s3:::{BUCKET}/*"}  # fmt: skip
    deployed = json.dumps({"Version": "2012-10-17", "Id": "kept", "Statement": [stale, own]})
    document = json.loads(desired_policy(deployed, BUCKET, "aws", [WRITER]))
    assert document["Id"] == "kept"
    assert [s["Sid"] for s in document["Statement"]] == [TLS_SID, WRITERS_SID, "TeamRead"]
    assert document["Statement"][2] == own


def test_a_bucket_without_a_policy_gets_both_statements_in_words() -> None:
    assert policy_changes("", BUCKET, "aws", [WRITER]) == [
        "requests without TLS denied",
        f"object writes denied to every principal but {WRITER}",
    ]


def test_the_deployed_policy_reformatted_by_s3_changes_nothing() -> None:
    deployed = json.loads(desired_policy("", BUCKET, "aws", [WRITER]))
    # S3 may give a single value back as a list, or a list of one as the value, in another order.
    deployed["Statement"][1]["Condition"]["ArnNotLike"]["aws:PrincipalArn"] = WRITER
    deployed["Statement"][0]["Resource"].reverse()
    assert policy_changes(json.dumps(deployed), BUCKET, "aws", [WRITER]) == []


def test_a_changed_writer_list_is_said_before_and_after() -> None:
    deployed = desired_policy("", BUCKET, "aws", [WRITER])
    assert deployed_writers(deployed) == (WRITER,)
    assert policy_changes(deployed, BUCKET, "aws", [WRITER, PIPELINE]) == [
        f"object writers {WRITER} -> {', '.join(sorted([WRITER, PIPELINE]))}"
    ]


def test_a_statement_edited_by_hand_is_restored_and_said_so() -> None:
    deployed = json.loads(desired_policy("", BUCKET, "aws", [WRITER]))
    deployed["Statement"][0]["Condition"] = {"Bool": {"aws:SecureTransport": "true"}}
    deployed["Statement"][1]["Action"] = ["s3:PutObject"]
    assert policy_changes(json.dumps(deployed), BUCKET, "aws", [WRITER]) == [
        "requests without TLS denied (its statement restored)",
        f"object writes denied to every principal but {WRITER} (its statement restored)",
    ]


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("{not json", "the code bucket's policy is not JSON"),
        ('{"Statement": "x"}', "the code bucket's policy has no list of statements"),
    ],
)
def test_a_policy_akr_cannot_read_is_an_error(text: str, message: str) -> None:
    with pytest.raises(BucketPolicyError, match=message):
        policy_changes(text, BUCKET, "aws", [WRITER])


@pytest.mark.parametrize(
    "arn",
    [
        WRITER,
        PIPELINE,
        "arn:aws:iam::222222222222:role/aws-reserved/sso.amazonaws.com/eu-west-1/AWSReservedSSO_Admin_0a1b",
        "arn:aws:iam::222222222222:user/ops/jane",
        "arn:aws:iam::222222222222:root",
        "arn:aws-cn:iam::222222222222:role/Deployer",
        "arn:aws:sts::222222222222:federated-user/jane",
    ],
)
def test_roles_users_roots_and_federated_users_can_be_writers(arn: str) -> None:
    assert check_writer(arn) == arn


@pytest.mark.parametrize(
    ("arn", "hint"),
    [
        ("arn:aws:sts::222222222222:assumed-role/Admin/jane", True),
        ("arn:aws:iam::2222:role/Admin", False),
        ("arn:aws:iam::222222222222:role/", False),
        ("arn:aws:iam::222222222222:group/admins", False),
        ("*", False),
    ],
)
def test_anything_else_is_refused(arn: str, hint: bool) -> None:
    with pytest.raises(BucketPolicyError) as raised:
        check_writer(arn)
    message = f"{arn!r} is not the ARN of a role, a user or an account root"
    if hint:
        message += (
            " (an assumed-role session: give its role's ARN, arn:<partition>:iam::<account>:role/<name>)"
        )
    assert str(raised.value) == message


def test_a_writer_is_matched_exactly_when_its_path_is_known_and_by_name_otherwise() -> None:
    pathed = "arn:aws:iam::222222222222:role/aws-reserved/sso.amazonaws.com/AWSReservedSSO_Admin_0a1b"
    unpathed = "arn:aws:iam::222222222222:role/AWSReservedSSO_Admin_0a1b"
    assert same_principal(pathed, pathed, exact=True)
    assert not same_principal(pathed, unpathed, exact=True)
    assert same_principal(pathed, unpathed, exact=False)
    assert not same_principal(pathed, "arn:aws:iam::333333333333:role/AWSReservedSSO_Admin_0a1b", exact=False)
    assert not same_principal(
        WRITER, "arn:aws:iam::222222222222:user/OrganizationAccountAccessRole", exact=False
    )


@pytest.mark.parametrize(
    ("state", "repairs"),
    [
        (BucketState(versioned=True, public_access_blocked=True), ()),
        (BucketState(versioned=False, public_access_blocked=True), ("versioning turned on",)),
        (BucketState(versioned=True, public_access_blocked=False), ("all public access blocked",)),
        (BucketState(), ("versioning turned on", "all public access blocked")),
    ],
)
def test_an_existing_bucket_gets_what_it_lacks(state: BucketState, repairs: tuple[str, ...]) -> None:
    assert bucket_repairs(state) == repairs
