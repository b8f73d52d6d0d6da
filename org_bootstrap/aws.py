"""Sessions and clients for the command line, following the aws-cli conventions (profile, region,
endpoint URL), and role assumption into the accounts the commands work in."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

import boto3
from botocore.config import Config
from botocore.exceptions import (
    BotoCoreError,
    ClientError,
    ConnectTimeoutError,
    EndpointConnectionError,
    NoCredentialsError,
    ProfileNotFound,
)

from remediator.adapters.sessions import member_session, shared_models_session

if TYPE_CHECKING:
    from mypy_boto3_cloudformation import CloudFormationClient
    from mypy_boto3_config import ConfigServiceClient
    from mypy_boto3_dynamodb import DynamoDBClient
    from mypy_boto3_events import EventBridgeClient
    from mypy_boto3_iam import IAMClient
    from mypy_boto3_lambda import LambdaClient
    from mypy_boto3_organizations import OrganizationsClient
    from mypy_boto3_s3 import S3Client
    from mypy_boto3_signer import SignerClient
    from mypy_boto3_sts import STSClient

RETRIES = Config(
    retries={"mode": "adaptive", "max_attempts": 10},
    connect_timeout=2,
    read_timeout=30,
    user_agent_extra="akr-cli",
)
PROBE = Config(
    retries={"mode": "standard", "max_attempts": 2},
    connect_timeout=2,
    read_timeout=10,
    user_agent_extra="akr-cli",
)
"""The first call of a command (who is calling): an endpoint that cannot be reached fails it in seconds,
where the adaptive retries of every later call would keep trying for half a minute."""


class CliError(Exception):
    """A failure the command reports in one clear line and exits non-zero on."""


def describe(exc: ClientError | BotoCoreError) -> str:
    if isinstance(exc, ClientError):
        error = exc.response.get("Error", {})
        return f"{error.get('Code', 'Error')}: {error.get('Message', '')}".rstrip(": ")
    return str(exc)


def check_endpoint_url(url: str) -> str:
    """An http(s) URL with a host, as botocore needs it; a CliError that names the option otherwise."""
    parts = urlsplit(url)
    try:
        parts.port  # noqa: B018  # raises on a port that is not a number
    except ValueError:
        parts = parts._replace(netloc="")
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise CliError(f"--endpoint-url {url!r} is not a URL: give http(s)://host[:port]")
    return url


@dataclass
class Aws:
    profile: str | None = None
    region: str | None = None
    endpoint_url: str | None = None
    session_policy: str | None = None
    """An inline session policy (JSON) sent with every AssumeRole of `assume`: AWS grants the session only
    what both the role and this policy allow. Set before the first `assume` (the sessions are cached)."""
    _base: boto3.Session | None = None
    _assumed: dict[tuple[str, str], boto3.Session] = field(default_factory=dict)
    _clients: dict[tuple[boto3.Session, str, str], Any] = field(default_factory=dict)
    """One client per session, service and region for the life of the command: making one parses its
    models and endpoint rules again (the demo made 430). Keyed by the session itself, which the key keeps
    alive, so that a client is never handed to another session's caller."""
    _identity: tuple[str, str] | None = None
    """The caller's account and ARN, read once (sts:GetCallerIdentity)."""

    def __post_init__(self) -> None:
        if self.endpoint_url is not None:
            check_endpoint_url(self.endpoint_url)

    @property
    def base(self) -> boto3.Session:
        if self._base is None:
            try:
                # The models are parsed once per process: `reader()` makes a base session per thread.
                self._base = shared_models_session(profile_name=self.profile, region_name=self.region)
            except ProfileNotFound as exc:
                raise CliError(str(exc)) from exc
            if self._base.region_name is None:
                raise CliError("no region: pass --region or set AWS_REGION / AWS_DEFAULT_REGION")
        return self._base

    @property
    def region_name(self) -> str:
        return str(self.base.region_name)

    def _client(self, service: str, session: boto3.Session | None, region: str | None = None) -> Any:
        session = session or self.base
        key = (session, service, region or self.region_name)
        client = self._clients.get(key)
        if client is None:
            # boto3 clients are safe to share between threads; two threads making the same one at once
            # only make one too many.
            client = session.client(
                service,  # type: ignore[call-overload]
                region_name=key[2],
                endpoint_url=self.endpoint_url,
                config=RETRIES,
            )
            self._clients[key] = client
        return client

    def sts(self, session: boto3.Session | None = None) -> STSClient:
        client: STSClient = self._client("sts", session)
        return client

    def organizations(self, session: boto3.Session | None = None) -> OrganizationsClient:
        client: OrganizationsClient = self._client("organizations", session)
        return client

    def cloudformation(
        self, session: boto3.Session | None = None, region: str | None = None
    ) -> CloudFormationClient:
        client: CloudFormationClient = self._client("cloudformation", session, region)
        return client

    def s3(self, session: boto3.Session | None = None, region: str | None = None) -> S3Client:
        client: S3Client = self._client("s3", session, region)
        return client

    def config(self, session: boto3.Session | None = None, region: str | None = None) -> ConfigServiceClient:
        client: ConfigServiceClient = self._client("config", session, region)
        return client

    def events(self, session: boto3.Session | None = None, region: str | None = None) -> EventBridgeClient:
        client: EventBridgeClient = self._client("events", session, region)
        return client

    def lambda_(self, session: boto3.Session | None = None, region: str | None = None) -> LambdaClient:
        client: LambdaClient = self._client("lambda", session, region)
        return client

    def signer(self, session: boto3.Session | None = None, region: str | None = None) -> SignerClient:
        client: SignerClient = self._client("signer", session, region)
        return client

    def iam(self, session: boto3.Session | None = None) -> IAMClient:
        client: IAMClient = self._client("iam", session)
        return client

    def dynamodb(self, session: boto3.Session | None = None, region: str | None = None) -> DynamoDBClient:
        client: DynamoDBClient = self._client("dynamodb", session, region)
        return client

    def probe_sts(self) -> STSClient:
        """STS with few retries and short timeouts, for the first call of a command."""
        client: STSClient = self.base.client(
            "sts", region_name=self.region_name, endpoint_url=self.endpoint_url, config=PROBE
        )
        return client

    def reader(self, session_policy: str) -> Aws:
        """Another Aws for the same caller, whose assumed sessions get `session_policy`: AWS grants them
        what both the role and the policy allow. Its sessions are its own (one per thread)."""
        return Aws(
            profile=self.profile,
            region=self.region,
            endpoint_url=self.endpoint_url,
            session_policy=session_policy,
            _identity=self.identify(),
        )

    def identify(self) -> tuple[str, str]:
        """(account id, ARN) of the caller, read once: the first call of most commands, made with PROBE so
        that an endpoint that cannot be reached fails in seconds."""
        if self._identity is None:
            try:
                identity = self.probe_sts().get_caller_identity()
            except NoCredentialsError as exc:
                raise CliError("no AWS credentials: pass --profile or configure the environment") from exc
            except (EndpointConnectionError, ConnectTimeoutError) as exc:
                url = exc.kwargs.get("endpoint_url", "the STS endpoint")
                raise CliError(
                    f"cannot reach {url} (sts:GetCallerIdentity): check --endpoint-url, --region and the "
                    "network"
                ) from exc
            except (ClientError, BotoCoreError) as exc:
                raise CliError(f"cannot identify the caller: {describe(exc)}") from exc
            self._identity = (identity["Account"], identity["Arn"])
        return self._identity

    def caller_account(self) -> str:
        return self.identify()[0]

    def caller_arn(self) -> str:
        return self.identify()[1]

    def partition(self) -> str:
        """The caller's partition (aws, aws-cn, aws-us-gov), from its ARN: the one every ARN akr builds
        is in."""
        return self.identify()[1].split(":")[1]

    def assume(
        self, account_id: str, role_name: str, *, from_session: boto3.Session | None = None
    ) -> boto3.Session:
        """A session in `account_id` through `role_name`, cached for the life of the command."""
        key = (account_id, role_name)
        if key not in self._assumed:
            arn = f"arn:{self.partition()}:iam::{account_id}:role/{role_name}"
            try:
                sts = self.sts(from_session)
                if self.session_policy is None:
                    response = sts.assume_role(RoleArn=arn, RoleSessionName="akr-cli")
                else:
                    response = sts.assume_role(
                        RoleArn=arn, RoleSessionName="akr-cli", Policy=self.session_policy
                    )
                credentials = response["Credentials"]
            except (ClientError, BotoCoreError) as exc:
                raise CliError(f"cannot assume {arn}: {describe(exc)}") from exc
            # The models come from the loader every assumed session shares: parsed once, not per account.
            self._assumed[key] = member_session(
                aws_access_key_id=credentials["AccessKeyId"],
                aws_secret_access_key=credentials["SecretAccessKey"],
                aws_session_token=credentials["SessionToken"],
                region_name=self.region_name,
            )
        return self._assumed[key]
