"""Per-account sessions through the member role, with credentials cached until shortly before expiry.

One instance lives as long as the warm Lambda does; its cache is an instance attribute, never shared
between instances.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

import boto3
import botocore.loaders
import botocore.session
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError

from remediator.adapters.failures import translate
from remediator.adapters.member import Boto3MemberAccount
from remediator.deadline import Deadline

if TYPE_CHECKING:
    from mypy_boto3_sts import STSClient

# Throttling and 5xx are retried by botocore with backoff (standard mode) before anything reaches us;
# remediator.deadline stops the retries in time for the failure record. Not `adaptive`: its client-side
# rate limiter waits inside the call, where no deadline can stop it, and the few calls of an event or of
# an account's report gain nothing from a learned rate. Each client keeps its own retry quota, so one
# throttled service (or table) cannot use up another's: the composition gives each its own client.
RETRIES = Config(retries={"mode": "standard", "max_attempts": 8}, connect_timeout=5, read_timeout=20)
# Longer than the Lambda's longest run, so that credentials never expire halfway through one.
REFRESH_MARGIN = timedelta(minutes=15)
SESSION_SECONDS = 3600
_SESSION_NAME_CHARS = re.compile(r"[^\w+=,.@-]")


def role_session_name(label: str) -> str:
    """ "akr-<label>", cut to STS's 64 characters, so CloudTrail in the member account names the event."""
    return _SESSION_NAME_CHARS.sub("-", f"akr-{label}")[:64]


_LOADER = botocore.loaders.create_loader()


def load_member_models(region_name: str | None) -> None:
    """Parse into the shared loader what the member accounts' clients need (the IAM and Config models,
    their endpoint rules, the paginators Boto3MemberAccount uses), by making those clients once without
    using them: the first account's clients then find everything parsed. Makes no call."""
    never_sent = "unused"
    session = member_session(
        aws_access_key_id=never_sent,
        aws_secret_access_key=never_sent,
        aws_session_token=never_sent,
        region_name=region_name,
    )
    iam = session.client("iam", config=RETRIES)
    iam.get_paginator("list_users")
    iam.get_paginator("list_access_keys")
    session.client("config", config=RETRIES)


def member_session(
    *,
    aws_access_key_id: str,
    aws_secret_access_key: str,
    aws_session_token: str,
    region_name: str | None,
) -> boto3.Session:
    """A session with an assumed role's credentials. Its service models come from one loader shared by
    every such session: a plain boto3.Session parses them again, which costs about 70 ms of CPU per
    account (benchmarks/scan_org.py), and caps an organization-wide run at a few accounts a second.
    The loader's caches only ever add entries; a race loads a model twice, harmlessly."""
    return shared_models_session(
        aws_access_key_id=aws_access_key_id,
        aws_secret_access_key=aws_secret_access_key,
        aws_session_token=aws_session_token,
        region_name=region_name,
    )


def shared_models_session(**options: str | None) -> boto3.Session:
    """A boto3.Session (`options` as boto3.Session takes them) whose models, endpoints and defaults come
    from the shared loader: parsed once per process, not once per session. A `data_path` of the AWS
    configuration (custom models) is not searched by it: nothing here uses custom models."""
    core = botocore.session.get_session()
    core.register_component("data_loader", _LOADER)
    session = boto3.Session(botocore_session=core, **options)
    # boto3 appends its own data directory to the loader's search path on every session: once is enough,
    # or the shared list would grow by one entry per account for as long as the process lives.
    paths = _LOADER.search_paths
    paths[:] = list(dict.fromkeys(paths))
    return session


@dataclass
class _Assumed:
    session: boto3.Session
    role_session_name: str
    expires_at: datetime
    members: dict[str, Boto3MemberAccount] = field(default_factory=dict)


class AssumedRoleAccess:
    def __init__(
        self,
        *,
        session: boto3.Session,
        role_name: str,
        clock: Callable[[], datetime],
        partition: str | None = None,
        config: Config = RETRIES,
        sts: STSClient | None = None,
        session_factory: Callable[..., boto3.Session] = member_session,
        sleep: Callable[[float], None] = time.sleep,
        endpoint_url: str | None = None,
        session_policy: str | None = None,
        deadline: Deadline | None = None,
    ) -> None:
        """`partition`: of the member roles' ARNs; None is the partition of the session's region (aws-cn in
        a China region, aws-us-gov in GovCloud), as the security account and its members share one.

        `endpoint_url`: where the member accounts' clients send their calls (the command line's
        --endpoint-url); None is AWS, or AWS_ENDPOINT_URL.

        `session_policy`: an inline session policy (JSON) sent with every AssumeRole. AWS grants the
        session only what both the role's policies and this one allow, so a caller that only reads can
        make the sessions read-only whatever the role grants. None (the remediator) sends none.
        https://docs.aws.amazon.com/IAM/latest/UserGuide/id_credentials_temp_control-access_assumerole.html
        """
        self._session = session
        self._role_name = role_name
        self._clock = clock
        self._partition = partition
        self._config = config
        self._sts = sts
        self._session_factory = session_factory
        self._sleep = sleep
        self._endpoint_url = endpoint_url
        self._session_policy = session_policy
        self._deadline = deadline or Deadline()
        self._cache: dict[str, _Assumed] = {}

    def open(self, account_id: str, *, region: str, label: str) -> Boto3MemberAccount:
        assumed = self._cache.get(account_id)
        if assumed is None or assumed.expires_at - self._clock() <= REFRESH_MARGIN:
            assumed = self._assume(account_id, label)
            self._cache[account_id] = assumed
        member = assumed.members.get(region)
        if member is None:
            bound = self._deadline.bound
            member = Boto3MemberAccount(
                account_id=account_id,
                role_session_name=assumed.role_session_name,
                iam=bound(
                    assumed.session.client("iam", config=self._config, endpoint_url=self._endpoint_url)
                ),
                config=bound(
                    assumed.session.client(
                        "config", region_name=region, config=self._config, endpoint_url=self._endpoint_url
                    )
                ),
                sleep=self._sleep,
                deadline=self._deadline,
                clock=self._clock,
            )
            assumed.members[region] = member
        return member

    def forget(self, account_id: str) -> None:
        """Drop the account's credentials, session and clients (memory is freed once the caller lets go of
        what open returned)."""
        self._cache.pop(account_id, None)

    def _assume(self, account_id: str, label: str) -> _Assumed:
        if self._sts is None:
            self._sts = self._deadline.bound(
                self._session.client("sts", config=self._config, endpoint_url=self._endpoint_url)
            )
        partition = self._partition or self._session.get_partition_for_region(
            self._session.region_name or "us-east-1"
        )
        role_arn = f"arn:{partition}:iam::{account_id}:role/{self._role_name}"
        name = role_session_name(label)
        try:
            if self._session_policy is None:
                response = self._sts.assume_role(
                    RoleArn=role_arn, RoleSessionName=name, DurationSeconds=SESSION_SECONDS
                )
            else:
                response = self._sts.assume_role(
                    RoleArn=role_arn,
                    RoleSessionName=name,
                    DurationSeconds=SESSION_SECONDS,
                    Policy=self._session_policy,
                )
            credentials = response["Credentials"]
        except (ClientError, BotoCoreError) as exc:
            raise translate(exc, f"sts:AssumeRole {role_arn}") from exc
        session = self._session_factory(
            aws_access_key_id=credentials["AccessKeyId"],
            aws_secret_access_key=credentials["SecretAccessKey"],
            aws_session_token=credentials["SessionToken"],
            region_name=self._session.region_name,
        )
        return _Assumed(session=session, role_session_name=name, expires_at=credentials["Expiration"])
