"""moto's behaviour patched in place, for the demo's lifetime, where it differs from AWS in what the demo
goes through (org_bootstrap.demo.standins). Each patch undoes itself on exit."""

from __future__ import annotations

import contextlib
import copy
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

from moto.dynamodb import models as dynamodb_models
from moto.events import models as events_models
from moto.organizations import models as organizations_models
from moto.organizations.exceptions import OrganizationsClientError
from moto.sqs import models as sqs_models
from moto.utilities.arns import parse_arn

from org_bootstrap.demo.standins.runtime import LocalRuntime


def _envelope(event: dict[str, Any]) -> dict[str, Any]:
    """The event as AWS delivers it: moto keeps `time` as epoch seconds and adds an ingestion time."""
    delivered = {name: value for name, value in event.items() if name != "ingestion-time"}
    if isinstance(delivered.get("time"), int | float):
        delivered["time"] = datetime.fromtimestamp(delivered["time"], UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    return delivered


@contextlib.contextmanager
def faithful_delivery(runtime: LocalRuntime) -> Iterator[None]:
    """Delivery through a rule, as AWS does it, for two kinds of target moto gets wrong:

    - another account's bus: moto re-stamps the forwarded event (`account` becomes the receiving account,
      `resources` is lost). AWS keeps the sender's account, which is what rules on the receiving bus match
      on: https://docs.aws.amazon.com/eventbridge/latest/APIReference/API_PutPermission.html ("Rules with
      an account field do not match any events sent from other accounts"). Within an organization, the
      target must name a role (RoleArn) for EventBridge to send with, or nothing is sent:
      https://docs.aws.amazon.com/eventbridge/latest/userguide/eb-cross-account.html
    - a Lambda function: moto raises NotImplementedError; here the function is invoked asynchronously by
      the local runtime.

    A disabled rule delivers nothing (moto delivers anyway). Other targets stay moto's.
    """
    original = events_models.Rule.send_to_targets

    def send_to_targets(
        rule: events_models.Rule, event: Any, transform_input: bool = True
    ) -> None:  # moto's signature
        if rule.state != "ENABLED" or not rule.event_pattern.matches_event(event):
            return
        others = []
        for target in rule.targets:
            arn = parse_arn(target["Arn"])
            if arn.service == "lambda":
                runtime.enqueue(target["Arn"], rule.arn, _envelope(event))
            elif (
                arn.service == "events"
                and arn.resource_type == "event-bus"
                and arn.account != rule.account_id
            ):
                if not target.get("RoleArn"):
                    continue
                backend = events_models.events_backends[arn.account][arn.region]
                for receiving in list(backend.describe_event_bus(arn.resource_id).rules.values()):
                    receiving.send_to_targets(copy.deepcopy(event))
            else:
                others.append(target)
        if others:
            rest = copy.copy(rule)
            rest.targets = others
            original(rest, event, transform_input)

    events_models.Rule.send_to_targets = send_to_targets  # type: ignore[method-assign,assignment]
    try:
        yield
    finally:
        events_models.Rule.send_to_targets = original  # type: ignore[method-assign]


@contextlib.contextmanager
def local_event_sources() -> Iterator[None]:
    """Take the SQS and DynamoDB stream event source mappings that exist now away from moto, which would
    try to run the function in Docker on every message sent or item written (and drop the batch, or the
    stream's records, when it cannot); `LocalRuntime.poll_queues` and `poll_streams` serve them instead.
    moto's Lambda API still lists the mappings."""
    taken: list[tuple[Any, dict[str, Any]]] = []
    for queues in list(sqs_models.sqs_backends.values()):
        for sqs in list(queues.values()):
            taken += [(queue, queue.lambda_event_source_mappings) for queue in sqs.queues.values()]
    for tables in list(dynamodb_models.dynamodb_backends.values()):
        for dynamodb in list(tables.values()):
            taken += [(table, table.lambda_event_source_mappings) for table in dynamodb.tables.values()]
    for holder, _ in taken:
        holder.lambda_event_source_mappings = {}
    try:
        yield
    finally:
        for holder, mappings in taken:
            holder.lambda_event_source_mappings = mappings


@contextlib.contextmanager
def delegated_list_accounts() -> Iterator[None]:
    """ListAccounts in a delegated administrator's account: moto answers it in the management account
    only (an empty list elsewhere); AWS answers it in the management account and in delegated
    administrators, and refuses everyone else:
    https://docs.aws.amazon.com/organizations/latest/APIReference/API_ListAccounts.html"""
    backend_class = organizations_models.OrganizationsBackend
    original = backend_class.list_accounts

    def list_accounts(backend: organizations_models.OrganizationsBackend, *args: Any, **kwargs: Any) -> Any:
        caller = backend.account_id
        managed = organizations_models.organizations_backends.master_accounts.get(caller)
        if backend.org is None and managed is not None:
            management, partition = managed
            backend = organizations_models.organizations_backends[management][partition]
            if not any(admin.account.id == caller for admin in backend.admins):
                raise OrganizationsClientError(
                    "AccessDeniedException", "You don't have permissions to access this resource."
                )
        return original(backend, *args, **kwargs)

    backend_class.list_accounts = list_accounts  # type: ignore[method-assign,assignment]
    try:
        yield
    finally:
        backend_class.list_accounts = original  # type: ignore[method-assign]
