"""The code bucket's protections: versioning, no public access, and a policy that allows TLS only and object
writes only by the code writers. Pure.

Whoever can write an object of the code bucket chooses the code the remediator runs as in every account, so
the bucket policy denies every object write to every principal but the listed code writers (by
aws:PrincipalArn, which for a role session is the role's ARN, path included). Reads are left to IAM:
CloudFormation and Lambda read the package with the deploying principal's rights.
https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_condition-keys.html#condition-keys-principalarn
https://repost.aws/knowledge-center/s3-bucket-policy-for-config-rule (the TLS-only statement)

The policy never denies s3:PutBucketPolicy: an operator whose role is not listed can still correct the list,
so that a wrong list never locks the deployment out of its own bucket. Statements of the bucket's policy
that akr did not write (another Sid) are kept as they are.
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from typing import Any

from org_bootstrap.deploy.observed import BucketState

TLS_SID = "AkrDenyInsecureTransport"
WRITERS_SID = "AkrObjectWritesOnlyByCodeWriters"
WRITE_ACTIONS = (
    "s3:DeleteObject",
    "s3:DeleteObjectTagging",
    "s3:DeleteObjectVersion",
    "s3:DeleteObjectVersionTagging",
    "s3:PutObject",
    "s3:PutObjectAcl",
    "s3:PutObjectLegalHold",
    "s3:PutObjectRetention",
    "s3:PutObjectTagging",
    "s3:PutObjectVersionAcl",
    "s3:PutObjectVersionTagging",
    "s3:ReplicateDelete",
    "s3:ReplicateObject",
    "s3:RestoreObject",
)
"""Every action that creates, replaces, deletes or re-labels an object or an object version (PutObject also
covers CopyObject into the bucket and multipart uploads)."""

# A principal aws:PrincipalArn can name: the account's root, an IAM role or user (path included), a
# federated user. An assumed-role session ARN is not one: aws:PrincipalArn carries its role's ARN.
_NAME = r"[\w+=,.@-]+"
_PRINCIPAL = re.compile(
    rf"arn:aws[a-z-]*:(iam::\d{{12}}:(root|(role|user)/({_NAME}/)*{_NAME})|sts::\d{{12}}:federated-user/{_NAME})"
)


VERSIONING = "versioning turned on"
BLOCK_PUBLIC = "all public access blocked"


def bucket_repairs(state: BucketState) -> tuple[str, ...]:
    """What an existing bucket lacks of the protections akr gives the bucket it creates, in words."""
    missing = ((VERSIONING, not state.versioned), (BLOCK_PUBLIC, not state.public_access_blocked))
    return tuple(repair for repair, lacking in missing if lacking)


class BucketPolicyError(ValueError):
    """A code writer akr cannot put in the policy, or a policy akr cannot read."""


def check_writer(arn: str) -> str:
    """The ARN itself when aws:PrincipalArn can carry it; a BucketPolicyError naming what to give instead."""
    if _PRINCIPAL.fullmatch(arn) is None:
        hint = (
            " (an assumed-role session: give its role's ARN, arn:<partition>:iam::<account>:role/<name>)"
            if ":assumed-role/" in arn
            else ""
        )
        raise BucketPolicyError(f"{arn!r} is not the ARN of a role, a user or an account root{hint}")
    return arn


def same_principal(listed: str, writer: str, *, exact: bool) -> bool:
    """Whether the listed ARN names the writer. `exact`: the writer's path is known; otherwise a role or
    user is matched by account and name (names are unique in an account whatever the path)."""
    if exact:
        return listed == writer
    return _unpathed(listed) == _unpathed(writer)


def _unpathed(arn: str) -> str:
    for kind in (":role/", ":user/"):
        head, found, rest = arn.partition(kind)
        if found:
            return f"{head}{kind}{rest.rsplit('/', 1)[-1]}"
    return arn


def akr_statements(bucket: str, partition: str, writers: Sequence[str]) -> list[dict[str, Any]]:
    """The two statements akr owns in the policy."""
    resources = [f"arn:{partition}:s3:::{bucket}", f"arn:{partition}:s3:::{bucket}/*"]
    return [
        {
            "Sid": TLS_SID,
            "Effect": "Deny",
            "Principal": "*",
            "Action": "s3:*",
            "Resource": resources,
            "Condition": {"Bool": {"aws:SecureTransport": "false"}},
        },
        {
            "Sid": WRITERS_SID,
            "Effect": "Deny",
            "Principal": "*",
            "Action": list(WRITE_ACTIONS),
            "Resource": resources[1],
            # A negated operator also matches a request without the key (a service principal): denied too.
            "Condition": {"ArnNotLike": {"aws:PrincipalArn": sorted(writers)}},
        },
    ]


def parse(text: str) -> dict[str, Any]:
    """The deployed policy ("" when the bucket has none) as a document."""
    if not text:
        return {"Version": "2012-10-17", "Statement": []}
    try:
        document = json.loads(text)
    except ValueError as exc:
        raise BucketPolicyError(f"the code bucket's policy is not JSON: {exc}") from exc
    statements = document.get("Statement", []) if isinstance(document, dict) else None
    if not isinstance(statements, list):
        statements = [statements] if isinstance(statements, dict) else None
    if statements is None:
        raise BucketPolicyError("the code bucket's policy has no list of statements")
    return {**document, "Statement": statements}


def deployed_writers(text: str) -> tuple[str, ...]:
    """The code writers of the deployed policy's akr statement; () without one."""
    statement = _by_sid(parse(text)).get(WRITERS_SID)
    if statement is None:
        return ()
    values = statement.get("Condition", {}).get("ArnNotLike", {}).get("aws:PrincipalArn", [])
    return tuple(sorted([values] if isinstance(values, str) else values))


def desired_policy(text: str, bucket: str, partition: str, writers: Sequence[str]) -> str:
    """The deployed policy with akr's statements put in (added, or replaced by Sid), others kept."""
    document = parse(text)
    ours = akr_statements(bucket, partition, writers)
    sids = {s["Sid"] for s in ours}
    kept = [s for s in document["Statement"] if not (isinstance(s, dict) and s.get("Sid") in sids)]
    return json.dumps({"Version": "2012-10-17", **document, "Statement": ours + kept}, sort_keys=True)


def policy_changes(text: str, bucket: str, partition: str, writers: Sequence[str]) -> list[str]:
    """What applying the desired policy changes, in words; [] when the deployed one already says it."""
    deployed = _by_sid(parse(text))
    changes = []
    for statement in akr_statements(bucket, partition, writers):
        current = deployed.get(statement["Sid"])
        if current is not None and _normal(current) == _normal(statement):
            continue
        if statement["Sid"] == TLS_SID:
            changes.append(
                "requests without TLS denied" + ("" if current is None else " (its statement restored)")
            )
        else:
            before = deployed_writers(text)
            named = ", ".join(sorted(writers))
            changes.append(
                f"object writes denied to every principal but {named}"
                if current is None or not before
                else f"object writers {', '.join(before)} -> {named}"
                if tuple(sorted(writers)) != before
                else f"object writes denied to every principal but {named} (its statement restored)"
            )
    return changes


def _by_sid(document: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {s["Sid"]: s for s in document["Statement"] if isinstance(s, dict) and "Sid" in s}


def _normal(value: Any) -> Any:
    """A policy value compared as IAM reads it: a single string and a list of it are the same, order of a
    list does not matter."""
    if isinstance(value, dict):
        return {k: _normal(v) for k, v in value.items()}
    if isinstance(value, list):
        items = [_normal(v) for v in value]
        return sorted(items, key=json.dumps) if len(items) != 1 else items[0]
    return value
