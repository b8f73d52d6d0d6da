"""A small AWS Organization in moto: management, security and member accounts, users with backdated keys,
and the central tables. moto takes the account from the credentials, so each account is reached by
assuming a role into it (moto does not check trust policies; the templates' tests cover those)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

import boto3
import freezegun
from freezegun import freeze_time

from remediator.adapters.sessions import member_session

if TYPE_CHECKING:
    from mypy_boto3_iam import IAMClient
    from mypy_boto3_sts import STSClient

# freezegun walks every loaded module's attributes when it starts, which makes Powertools' lazily loaded
# parser package define its pydantic models while datetime is replaced (pydantic then refuses them).
# Those modules never need a frozen clock.
freezegun.configure(extend_ignore_list=["aws_lambda_powertools"])

REGION = "eu-west-1"
MEMBER_ROLE = "AccessKeyRemediationRole"
AUDIT_TABLE = "akr-audit"
STATE_TABLE = "akr-state"


@dataclass(frozen=True)
class KeySpec:
    age_days: float
    used_days_ago: float | None = None
    """None: never used."""
    active: bool = True


@dataclass(frozen=True)
class UserHandle:
    account_id: str
    user_name: str
    user_id: str
    key_ids: tuple[str, ...]


def session_in(account_id: str, sts: STSClient, *, region: str = REGION) -> boto3.Session:
    """A session in `account_id` through OrganizationAccountAccessRole, as an operator would have one. Its
    clients share the loaded service models with every other assumed session (member_session)."""
    credentials = sts.assume_role(
        RoleArn=f"arn:aws:iam::{account_id}:role/OrganizationAccountAccessRole", RoleSessionName="setup"
    )["Credentials"]
    return member_session(
        aws_access_key_id=credentials["AccessKeyId"],
        aws_secret_access_key=credentials["SecretAccessKey"],
        aws_session_token=credentials["SessionToken"],
        region_name=region,
    )


@dataclass
class MotoOrganization:
    management: str
    security: str
    members: tuple[str, ...]
    now: datetime = field(default_factory=lambda: datetime.now(UTC))
    _sessions: dict[str, boto3.Session] = field(default_factory=dict)
    _clients: dict[tuple[str, str], Any] = field(default_factory=dict)
    _sts: STSClient | None = None
    """The default credentials' (the management account's), which assume the role into each account."""

    def session(self, account_id: str) -> boto3.Session:
        if account_id not in self._sessions:
            if self._sts is None:
                self._sts = boto3.client("sts", region_name=REGION)
            self._sessions[account_id] = session_in(account_id, self._sts)
        return self._sessions[account_id]

    def client(self, account_id: str, service: str) -> Any:
        """One client per account and service for the organization's life. Making a client builds its
        model and resolves its endpoint rules again, even from loaded models: about 40 ms of CPU each, and
        the demo made 466 of them, one per published event, Lambda invocation and user. boto3 clients
        are safe to share between threads."""
        key = (account_id, service)
        if key not in self._clients:
            self._clients[key] = self.session(account_id).client(service)  # type: ignore[call-overload]
        return self._clients[key]

    def add_user(
        self,
        account_id: str,
        user_name: str,
        *keys: KeySpec,
        tags: dict[str, str] | None = None,
        path: str = "/",
    ) -> UserHandle:
        iam: IAMClient = self.client(account_id, "iam")
        user = iam.create_user(
            UserName=user_name, Path=path, Tags=[{"Key": k, "Value": v} for k, v in (tags or {}).items()]
        )["User"]
        key_ids = []
        for spec in keys:
            with freeze_time(self.now - timedelta(days=spec.age_days)):
                key = iam.create_access_key(UserName=user_name)["AccessKey"]
            if spec.used_days_ago is not None:
                # moto records the use of a key when a call is signed with it.
                with freeze_time(self.now - timedelta(days=spec.used_days_ago)):
                    boto3.client(
                        "sts",
                        region_name=REGION,
                        aws_access_key_id=key["AccessKeyId"],
                        aws_secret_access_key=key["SecretAccessKey"],
                    ).get_caller_identity()
            if not spec.active:
                iam.update_access_key(UserName=user_name, AccessKeyId=key["AccessKeyId"], Status="Inactive")
            key_ids.append(key["AccessKeyId"])
        return UserHandle(account_id, user_name, user["UserId"], tuple(key_ids))

    def keys(self, account_id: str, user_name: str) -> dict[str, str]:
        """AccessKeyId -> Status, as IAM has it now."""
        iam: IAMClient = self.client(account_id, "iam")
        listed = iam.list_access_keys(UserName=user_name)
        return {k["AccessKeyId"]: k["Status"] for k in listed["AccessKeyMetadata"]}


def create_organization(members: int = 2, clock: Callable[[], datetime] | None = None) -> MotoOrganization:
    """Call inside mock_aws, with the default credentials standing for the management account."""
    orgs = boto3.client("organizations", region_name=REGION)
    orgs.create_organization(FeatureSet="ALL")
    management = boto3.client("sts", region_name=REGION).get_caller_identity()["Account"]

    def account(name: str) -> str:
        status = orgs.create_account(Email=f"{name}@example.com", AccountName=name)["CreateAccountStatus"]
        return status["AccountId"]

    org = MotoOrganization(
        management=management,
        security=account("security"),
        members=tuple(account(f"member-{i}") for i in range(1, members + 1)),
    )
    if clock is not None:
        org.now = clock()
    create_tables(org.session(org.security))
    return org


def create_tables(session: boto3.Session) -> None:
    """The central tables, keyed as stacksets/central.yaml declares them."""
    dynamodb = session.client("dynamodb")
    dynamodb.create_table(
        TableName=AUDIT_TABLE,
        BillingMode="PAY_PER_REQUEST",
        AttributeDefinitions=[
            {"AttributeName": name, "AttributeType": "S"}
            for name in ("account_id", "record_id", "access_key_id", "day", "revokes")
        ],
        KeySchema=[
            {"AttributeName": "account_id", "KeyType": "HASH"},
            {"AttributeName": "record_id", "KeyType": "RANGE"},
        ],
        GlobalSecondaryIndexes=[
            {
                "IndexName": index,
                "KeySchema": [
                    {"AttributeName": hash_key, "KeyType": "HASH"},
                    {"AttributeName": "record_id", "KeyType": "RANGE"},
                ],
                "Projection": {"ProjectionType": "KEYS_ONLY" if index == "by_revoked" else "ALL"},
            }
            for index, hash_key in (
                ("by_access_key", "access_key_id"),
                ("by_day", "day"),
                ("by_revoked", "revokes"),
            )
        ],
        StreamSpecification={"StreamEnabled": True, "StreamViewType": "NEW_AND_OLD_IMAGES"},
    )
    dynamodb.create_table(
        TableName=STATE_TABLE,
        BillingMode="PAY_PER_REQUEST",
        AttributeDefinitions=[
            {"AttributeName": "pk", "AttributeType": "S"},
            {"AttributeName": "sk", "AttributeType": "S"},
        ],
        KeySchema=[
            {"AttributeName": "pk", "KeyType": "HASH"},
            {"AttributeName": "sk", "KeyType": "RANGE"},
        ],
    )
