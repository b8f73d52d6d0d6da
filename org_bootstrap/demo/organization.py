"""The demo's organization: a moto server on 127.0.0.1 in this process, and an AWS Organization on it laid
out as a real one is (a management account; a security account and member accounts in OUs), with users
whose keys cover the cases that matter.

The server runs in this process so that freezegun's clock reaches it: keys are created and used in the
past (backdated) by freezing the clock around the calls. moto tells the accounts apart by the credentials;
each account is entered through OrganizationAccountAccessRole, as an operator would.
"""

from __future__ import annotations

import json
import os
import random
import socket
import urllib.request
from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

import boto3
from moto.cloudformation import models as cloudformation_models
from moto.dynamodb.models import table as dynamodb_table
from moto.iam.access_control import IAMPolicy, PermissionResult
from moto.s3 import models as s3_models
from moto.server import ThreadedMotoServer

from org_bootstrap.demo.simulation import KeySpec, MotoOrganization

if TYPE_CHECKING:
    from mypy_boto3_config import ConfigServiceClient

REGION = "eu-west-1"
STACKSETS_PRINCIPAL = "member.org.stacksets.cloudformation.amazonaws.com"
# OU -> how many of the member accounts go there, in turn. moto's StackSets reach one OU level deep only
# (docs: shared AWS facts), so the OUs hang off the root.
MEMBER_OUS = ("Production", "Development", "Sandbox")
SECURITY_OU = "Security"

# (user name, keys): the cases a reviewer wants to see, in every member account.
CASES: tuple[tuple[str, tuple[KeySpec, ...]], ...] = (
    ("dev-fresh", (KeySpec(age_days=10, used_days_ago=1),)),
    ("ci-89-days", (KeySpec(age_days=89, used_days_ago=1),)),
    ("ci-91-days", (KeySpec(age_days=91, used_days_ago=1),)),
    ("batch-never-used", (KeySpec(age_days=100),)),
    ("two-keys", (KeySpec(age_days=120, used_days_ago=2), KeySpec(age_days=20, used_days_ago=1))),
    ("inactive-old", (KeySpec(age_days=200, used_days_ago=150, active=False),)),
    ("idle-60-days", (KeySpec(age_days=70, used_days_ago=60),)),
    ("breakglass", (KeySpec(age_days=300),)),
)
EXTRA_USERS = 3
"""Per member: service users with randomly aged keys (from --seed)."""
MANAGEMENT_USER = ("mgmt-admin", KeySpec(age_days=150, used_days_ago=40))
BREAK_GLASS = "breakglass"


@contextmanager
def moto_server(seed: int | None = None) -> Iterator[str]:
    """Start a server on a free loopback port; yield its URL. Every backend is reset at start and end:
    servers in one process share moto's state. A `seed` makes moto's random ids (account ids, access key
    ids) the same from run to run, as long as the calls come in the same order."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    url = f"http://127.0.0.1:{port}"
    _post(f"{url}/moto-api/reset")
    if seed is not None:
        _post(f"{url}/moto-api/seed?a={seed}")
    try:
        with conditional_bucket_policies(), previous_defaults(), streams_kept_for_their_readers():
            yield url
    finally:
        _post(f"{url}/moto-api/reset")
        server.stop()


@contextmanager
def streams_kept_for_their_readers() -> Iterator[None]:
    """A DynamoDB stream's records kept for its readers, never sent to a mapped function by moto, which
    invokes a stream mapping's function on every write, in Docker, and prints to the process's stdout when
    there is none (into a command's JSON output). Lambda reads a stream asynchronously; the demo's
    LocalRuntime.poll_streams stands in for it (org_bootstrap/demo/standins/streams.py)."""
    shard = dynamodb_table.StreamShard
    original = shard.add

    def add(self: dynamodb_table.StreamShard, old: Any, new: Any) -> None:
        mappings = self.table.lambda_event_source_mappings
        self.table.lambda_event_source_mappings = {}
        try:
            original(self, old, new)
        finally:
            self.table.lambda_event_source_mappings = mappings

    shard.add = add  # type: ignore[method-assign]
    try:
        yield
    finally:
        shard.add = original  # type: ignore[method-assign]


@contextmanager
def conditional_bucket_policies() -> Iterator[None]:
    """A bucket policy's conditional statements left out of moto's object checks. moto evaluates a statement
    whose Condition it cannot match as denying, a Deny statement too (moto.iam.access_control,
    IAMPolicyStatement.is_action_permitted), so the code bucket's policy (org_bootstrap.deploy.bucket_policy:
    deny without TLS, deny writes to all but the code writers) would refuse every object request. In AWS
    neither statement applies to what the demo does: every call goes over HTTPS (here: to the loopback
    server) and the deploy writes as a code writer. The policy document itself is tested without moto."""
    original = s3_models.FakeBucket.get_permission

    def get_permission(bucket: s3_models.FakeBucket, action: str, resource: str) -> Any:
        if bucket.policy is None:
            return original(bucket, action, resource)
        document = json.loads(bucket.policy.decode())
        statements = document.get("Statement", [])
        unconditional = [s for s in statements if isinstance(s, dict) and "Condition" not in s]
        if not unconditional:
            return PermissionResult.NEUTRAL
        return IAMPolicy(json.dumps({**document, "Statement": unconditional})).is_action_permitted(
            action, resource
        )

    s3_models.FakeBucket.get_permission = get_permission  # type: ignore[method-assign,assignment]
    try:
        yield
    finally:
        s3_models.FakeBucket.get_permission = original  # type: ignore[method-assign]


@contextmanager
def previous_defaults() -> Iterator[None]:
    """UsePreviousValue for a parameter the stack holds at its default: moto lists the default in
    DescribeStacks (so akr keeps the parameter on an update) but keeps only the values it was given, and
    fails the update with a KeyError. Leaving such a parameter out lets moto take the template's default:
    its previous value. (AWS keeps every parameter's value.)"""
    backend = cloudformation_models.CloudFormationBackend
    original = backend._resolve_update_parameters

    def resolve(
        self: cloudformation_models.CloudFormationBackend,
        instance: Any,
        incoming_params: list[dict[str, str]],
    ) -> dict[str, str]:
        known = [
            p
            for p in incoming_params
            if not p.get("UsePreviousValue") or p["ParameterKey"] in instance.parameters
        ]
        return original(self, instance, known)

    backend._resolve_update_parameters = resolve  # type: ignore[method-assign]
    try:
        yield
    finally:
        backend._resolve_update_parameters = original  # type: ignore[method-assign]


def _post(url: str) -> None:
    urllib.request.urlopen(urllib.request.Request(url, method="POST"), timeout=10).close()  # noqa: S310  # loopback


@contextmanager
def environment(values: dict[str, str], drop: tuple[str, ...] = ()) -> Iterator[None]:
    """Set (and drop) environment variables for a while; put back exactly what was there. Only the names
    given are touched: the server thread reads the environment too."""
    saved = {name: os.environ.get(name) for name in (*values, *drop)}
    for name in drop:
        os.environ.pop(name, None)
    os.environ.update(values)
    try:
        yield
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


def offline_credentials(url: str) -> AbstractContextManager[None]:
    """Send every boto3 call of this process to the server, with moto's fake credentials: nothing can
    reach AWS, whatever the caller's environment holds (no profile, no config file)."""
    values = {
        "AWS_ENDPOINT_URL": url,
        "AWS_ACCESS_KEY_ID": "demo",
        "AWS_SECRET_ACCESS_KEY": "demo",
        "AWS_DEFAULT_REGION": REGION,
        "AWS_REGION": REGION,
        "AWS_CONFIG_FILE": os.devnull,
        "AWS_SHARED_CREDENTIALS_FILE": os.devnull,
    }
    return environment(values, drop=("AWS_PROFILE", "AWS_SESSION_TOKEN"))


@dataclass(frozen=True)
class DemoOrganization:
    url: str
    organization_id: str
    management: str
    security: str
    members: tuple[str, ...]
    ous: dict[str, str]
    """OU name -> id."""
    account_names: dict[str, str]
    accounts: MotoOrganization
    """Sessions into each account, and the users."""

    @property
    def targets(self) -> tuple[str, ...]:
        """Where the StackSet goes: every OU (the security account is covered too)."""
        return tuple(self.ous.values())

    @property
    def everyone(self) -> tuple[str, ...]:
        return (self.management, self.security, *self.members)


def build_organization(url: str, *, members: int, now: datetime) -> DemoOrganization:
    """Call with offline_credentials(url) in force; the default credentials are the management account's."""
    organizations = boto3.client("organizations")
    organization = organizations.create_organization(FeatureSet="ALL")["Organization"]
    root = organizations.list_roots()["Roots"][0]["Id"]
    ous = {
        name: organizations.create_organizational_unit(ParentId=root, Name=name)["OrganizationalUnit"]["Id"]
        for name in (SECURITY_OU, *MEMBER_OUS[: max(1, min(members, len(MEMBER_OUS)))])
    }
    names = {organization["MasterAccountId"]: "management"}

    def account(name: str, ou: str) -> str:
        status = organizations.create_account(Email=f"{name}@example.com", AccountName=name)
        account_id = status["CreateAccountStatus"]["AccountId"]
        organizations.move_account(AccountId=account_id, SourceParentId=root, DestinationParentId=ous[ou])
        names[account_id] = name
        return account_id

    security = account("security", SECURITY_OU)
    member_ous = [name for name in ous if name != SECURITY_OU]
    member_ids = tuple(
        account(f"{member_ous[i % len(member_ous)].lower()}-{i + 1}", member_ous[i % len(member_ous)])
        for i in range(members)
    )
    # As security accounts usually are (for GuardDuty here): what lets the sweep list the accounts
    # (docs/deploying.md, prerequisites).
    organizations.register_delegated_administrator(
        AccountId=security, ServicePrincipal="guardduty.amazonaws.com"
    )
    # moto has no cloudformation:ActivateOrganizationsAccess; deploy's call to it is covered by a Stubber
    # test, and the Organizations API stands in for it here.
    organizations.enable_aws_service_access(ServicePrincipal=STACKSETS_PRINCIPAL)
    return DemoOrganization(
        url=url,
        organization_id=organization["Id"],
        management=organization["MasterAccountId"],
        security=security,
        members=member_ids,
        ous=ous,
        account_names=names,
        accounts=MotoOrganization(
            management=organization["MasterAccountId"], security=security, members=member_ids, now=now
        ),
    )


def populate(org: DemoOrganization, seed: int) -> None:
    """The users: every case in every member, a few randomly aged service users (reproducible from the
    seed) and one user in the management account."""
    rng = random.Random(seed)  # noqa: S311  # reproducible demo data, not secrets
    for account in org.members:
        for name, keys in CASES:
            org.accounts.add_user(account, name, *keys, tags={"owner": f"{name}@example.com"})
        for i in range(EXTRA_USERS):
            age = rng.randint(1, 200)
            used = rng.choice([None, rng.randint(0, age)])
            org.accounts.add_user(account, f"svc-{i + 1}", KeySpec(age_days=age, used_days_ago=used))
    name, key = MANAGEMENT_USER
    org.accounts.add_user(org.management, name, key, tags={"owner": "cloud-admins@example.com"})
    for account in org.everyone:
        # A running organization has recent credential reports (IAM keeps one for four hours): the sweep
        # then reads it at once instead of waiting for IAM to generate one.
        org.accounts.client(account, "iam").generate_credential_report()
        # And a Config recorder that records IAM users, as akr deploy's pre-flight asks.
        record_iam_users(org.accounts.client(account, "config"))


def record_iam_users(config: ConfigServiceClient) -> None:
    """A configuration recorder named "default" that records AWS::IAM::User, started, as an account that
    meets docs/deploying.md's prerequisites has (moto's CloudFormation makes no Config resources)."""
    config.put_configuration_recorder(
        ConfigurationRecorder={
            "name": "default",
            "roleARN": "arn:aws:iam::123456789012:role/config-recorder",
            "recordingGroup": {
                "allSupported": False,
                "includeGlobalResourceTypes": False,
                "resourceTypes": ["AWS::IAM::User"],
            },
        }
    )
    config.put_delivery_channel(DeliveryChannel={"name": "default", "s3BucketName": "config-bucket"})
    config.start_configuration_recorder(ConfigurationRecorderName="default")
