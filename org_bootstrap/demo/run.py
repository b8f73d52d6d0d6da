"""`akr demo`: the whole service on a simulated organization, with nothing to set up.

A moto server on 127.0.0.1 (org_bootstrap.demo.organization) holds an organization whose users' keys cover the
cases that matter. `akr deploy`'s own code deploys the real templates into it; the break-glass users are
exempted as `akr exempt add` does. The Config stand-in evaluates the rules in every account and puts the
NON_COMPLIANT changes onto the member buses, one of them lost on the way on purpose; the deployed forwarding
rules carry the rest to the central bus, whose rule hands them to the remediator, run by the local Lambda
runtime. Then the sweep's schedule fires: the sweep function queues every account and the worker reconciles
them, which catches the lost event. What moto lacks is in org_bootstrap.demo.standins.

--seed decides the random keys and the lost event, and seeds moto's own random ids: the same seed gives the
same account ids and access key ids, run after run.
"""

from __future__ import annotations

import os
import random
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

from org_bootstrap.aws import Aws
from org_bootstrap.demo.organization import (
    BREAK_GLASS,
    REGION,
    DemoOrganization,
    build_organization,
    moto_server,
    offline_credentials,
    populate,
)
from org_bootstrap.demo.readback import (
    Archive,
    DemoError,
    IamKey,
    archive_of,
    audit_log,
    exemptions_of,
    keys_now,
    physical_id,
    verification_of,
)
from org_bootstrap.demo.standins import (
    ConfigEvaluator,
    Invocation,
    LocalRuntime,
    delegated_list_accounts,
    faithful_delivery,
    local_event_sources,
    register_member_config,
)
from org_bootstrap.deploy.apply import carry_out, prepare
from org_bootstrap.deploy.deployment import Deployment
from org_bootstrap.deploy.stacks import failed_instances
from org_bootstrap.review.audit_verify import Verification, summary_line
from org_bootstrap.review.exemptions import ADD, REMOVE, add, new_exemption, open_store
from org_bootstrap.review.report.html import ReportData, write_report
from remediator.audit import AuditRecord, Phase
from remediator.decision import Action
from remediator.policy import Mode

if TYPE_CHECKING:
    from mypy_boto3_iam import IAMClient

WARN_DAYS_BEFORE = 7
EXEMPTION_DAYS = 10
"""Within the report's 14-day "expiring soon" window, so that the report shows them."""
GONE = "deleted"
REMEDIATOR_HANDLER = "remediator.handler.lambda_handler"
MUTATING = frozenset(action.value for action in Action if action.mutates)


@dataclass(frozen=True)
class KeyRow:
    """One access key: as it was before the run, what was decided, and how it ended."""

    account_id: str
    account_name: str
    user_name: str
    access_key_id: str
    age_days: int
    last_used_at: datetime | None
    status_before: str
    decision: str
    """The last decision of the run about this key; "none" when nothing was recorded."""
    trigger: str
    reason: str
    status_after: str
    """Active, Inactive or deleted."""


@dataclass(frozen=True)
class DemoResult:
    organization: DemoOrganization
    rows: tuple[KeyRow, ...]
    records: tuple[AuditRecord, ...]
    """Every record of the audit log, intents included."""
    events_published: int
    lost_event: tuple[str, str, str]
    """(account, user, rule) of the event that never reached the central bus."""
    invocations: tuple[Invocation, ...]
    report_path: Path | None
    """Where the HTML report was written; None: not written (the command writes report_data)."""
    mode: str
    report_data: ReportData
    seed: int
    archive: Archive
    """The audit archive the archiver wrote from the audit table's stream."""
    verification: Verification
    """The audit table against the archive, as `akr audit verify` compares them."""

    def counts(self) -> dict[str, int]:
        return dict(Counter(row.decision for row in self.rows))

    @property
    def events_forwarded(self) -> int:
        """The events that reached the remediator: the NON_COMPLIANT ones the rules let through."""
        return sum(1 for i in self.invocations if i.handler == REMEDIATOR_HANDLER)

    @property
    def lost_event_caught(self) -> bool:
        """The lost event's user had a key changed by the sweep."""
        account, user, _ = self.lost_event
        return any(
            r.account_id == account
            and r.user_name == user
            and r.trigger == "sweep"
            and r.decision in MUTATING
            and r.status_after != r.status_before
            for r in self.rows
        )

    @property
    def errors(self) -> int:
        failed_records = sum(1 for r in self.records if r.outcome == "failed")
        return failed_records + sum(1 for i in self.invocations if i.error)

    def summary(self) -> dict[str, object]:
        account, user, rule = self.lost_event
        return {
            "accounts": len(self.organization.everyone),
            "keys": len(self.rows),
            "events_published": self.events_published,
            "lost_event": {
                "account_id": account,
                "account_name": self.organization.account_names[account],
                "user_name": user,
                "rule": rule,
                "caught_by_the_sweep": self.lost_event_caught,
            },
            "events_forwarded": self.events_forwarded,
            "invocations": dict(Counter(i.handler.rpartition(".")[0] for i in self.invocations)),
            "counts": self.counts(),
            "final_status": dict(Counter(row.status_after for row in self.rows)),
            "audit_records": len(self.records),
            "errors": self.errors,
            "report": str(self.report_path) if self.report_path else None,
            "mode": self.mode,
            "seed": self.seed,
            "archive": {
                "bucket": self.archive.bucket,
                "prefix": self.archive.prefix,
                "objects": self.archive.objects,
                "records": len(self.archive.lines),
                "verification": summary_line(self.verification),
            },
            "account_ids": dict(self.organization.account_names),
        }


@contextmanager
def running_demo(
    *, members: int, seed: int, mode: Mode, report_path: Path | None, progress: Callable[[str], None]
) -> Iterator[DemoResult]:
    """Build, deploy and run; yield the result while the server is still up (for --keep-running). The
    HTML report is written to `report_path` unless it is None."""
    now = datetime.now(UTC)
    with moto_server(seed=seed) as url, offline_credentials(url), delegated_list_accounts():
        progress("building the organization")
        org = build_organization(url, members=members, now=now)
        populate(org, seed)
        before = keys_now(org)
        aws = Aws(region=REGION, endpoint_url=url)
        deployment = Deployment(
            security_account_id=org.security,
            targets=org.targets,
            home_region=REGION,
            mode=mode,
            warn_days_before=WARN_DAYS_BEFORE,
        )
        _deploy(aws, deployment, progress)
        parameters = _stackset_parameters(aws, deployment)
        for account in org.everyone:  # what the member stacks hold that moto's CloudFormation skips
            register_member_config(org.accounts.client(account, "config"), account, parameters)
        runtime = LocalRuntime(security=org.accounts.session(org.security), region=REGION)
        # From here on the functions run in this process; after each step the archiver takes the audit
        # table's stream, as its mapping would.
        with faithful_delivery(runtime), local_event_sources():
            progress("exempting the break-glass users")
            _exempt_break_glass(aws, deployment, org, now)
            runtime.poll_streams()
            progress("evaluating the Config rules and delivering their events")
            published, lost = _evaluate(org, parameters, random.Random(seed), now)  # noqa: S311  # not secrets
            runtime.drain()
            runtime.poll_streams()
            progress("running the scheduled sweep")
            runtime.fire_schedule(physical_id(org, deployment, "SweepRule"), now)
            runtime.poll_queues()
            runtime.drain()
            runtime.poll_streams()
        progress("reading the audit log")
        records = audit_log(org, deployment)
        exemptions = exemptions_of(org, deployment)
        after = keys_now(org)
        rows = _rows(org, before, after, records, now)
        report = ReportData(
            title="akr demo: the central audit log of a simulated organization",
            generated_at=datetime.now(UTC),
            since=now - timedelta(days=1),
            until=datetime.now(UTC),
            records=tuple(records),
            exemptions=tuple(exemptions),
            account_names=dict(org.account_names),
        )
        if report_path is not None:
            write_report(report_path, report)
        archive = archive_of(org, deployment)
        yield DemoResult(
            organization=org,
            rows=rows,
            records=tuple(records),
            events_published=published,
            lost_event=lost,
            invocations=tuple(runtime.invocations),
            report_path=report_path,
            mode=mode.value,
            report_data=report,
            seed=seed,
            archive=archive,
            verification=verification_of(org, deployment, archive),
        )


def package_cache() -> Path:
    """Where the demo keeps the packages it built, by their inputs: a second demo skips pip. Only the demo:
    a real deploy packages afresh. XDG's cache directory, as most command-line tools use."""
    return Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "akr" / "packages"


def _deploy(aws: Aws, deployment: Deployment, progress: Callable[[str], None]) -> None:
    prepared = prepare(aws, deployment, progress, look_elsewhere=False, package_cache=package_cache())
    outcome = carry_out(aws, prepared, progress, poll_seconds=0.05)
    failed = failed_instances(outcome.instances)
    if failed:
        raise DemoError("deploy failed in " + ", ".join(f"{i.account_id}: {i.reason}" for i in failed))


def _exempt_break_glass(aws: Aws, deployment: Deployment, org: DemoOrganization, now: datetime) -> None:
    store = open_store(aws, deployment)
    for account in org.members:
        exemption = new_exemption(
            account_id=account,
            user_name=BREAK_GLASS,
            access_key_id=None,
            reason="break-glass user, key kept in the vault",
            owner="secops@example.com",
            expires_at=now + timedelta(days=EXEMPTION_DAYS),
            created_at=now,
        )
        add(store, exemption, now=now)


def _evaluate(
    org: DemoOrganization, parameters: dict[str, str], rng: random.Random, now: datetime
) -> tuple[int, tuple[str, str, str]]:
    """Every account's evaluation; every NON_COMPLIANT change published but one, lost on purpose: the
    only failing rule of a user picked by the seed, so that nothing else fixes that user's key."""
    pending: list[tuple[str, dict[str, Any]]] = []
    for account in org.everyone:
        evaluator = ConfigEvaluator(
            account_id=account,
            region=REGION,
            rule_name_prefix=parameters["RuleNamePrefix"],
            max_key_age_days=int(parameters["MaxAccessKeyAge"]),
            max_unused_days=int(parameters["MaxCredentialUsageAge"]),
        )
        iam: IAMClient = org.accounts.client(account, "iam")
        pending += [(account, event) for event in evaluator.evaluate(iam, now)]
    names = {account: _user_names(org, account) for account in org.members}
    failing = Counter(
        (account, event["detail"]["resourceId"])
        for account, event in pending
        if event["detail"]["newEvaluationResult"]["complianceType"] == "NON_COMPLIANT"
    )
    # By names, not ids: moto's account and user ids are random, the names come from the seed.
    loseable = sorted(
        (org.account_names[account], names[account][user_id], account, user_id)
        for (account, user_id), n in failing.items()
        if n == 1 and account in org.members
    )
    _, lost_user, lost_account, lost_user_id = rng.choice(loseable)
    lost: tuple[str, str, str] = ("", "", "")
    published = 0
    for account, event in pending:
        detail = event["detail"]
        if (account, detail["resourceId"]) == (lost_account, lost_user_id) and (
            detail["newEvaluationResult"]["complianceType"] == "NON_COMPLIANT"
        ):
            lost = (account, lost_user, str(detail["configRuleName"]))
            continue
        ConfigEvaluator.publish(org.accounts.client(account, "events"), event)
        published += 1
    return published, lost


def _user_names(org: DemoOrganization, account: str) -> dict[str, str]:
    """User id -> name."""
    iam: IAMClient = org.accounts.client(account, "iam")
    return {
        user["UserId"]: user["UserName"]
        for page in iam.get_paginator("list_users").paginate()
        for user in page["Users"]
    }


def _stackset_parameters(aws: Aws, deployment: Deployment) -> dict[str, str]:
    """What the member stacks (and so the Config rules) were deployed with."""
    stackset = aws.cloudformation(aws.base, REGION).describe_stack_set(StackSetName=deployment.stackset_name)
    return {p["ParameterKey"]: p["ParameterValue"] for p in stackset["StackSet"]["Parameters"]}


def _changed(record: AuditRecord) -> bool:
    """The outcome of a change to the key: what a row shows even when later runs (the sweep, seeing an
    inactive key in staged mode) decided nothing more about it."""
    return record.phase is Phase.OUTCOME and record.decision in MUTATING


def _rows(
    org: DemoOrganization,
    before: dict[str, IamKey],
    after: dict[str, IamKey],
    records: list[AuditRecord],
    now: datetime,
) -> tuple[KeyRow, ...]:
    last: dict[str, AuditRecord] = {}
    for record in records:  # oldest first: the last decision about each key wins, but never over a change
        if record.access_key_id and record.phase is not Phase.INTENT and record.decision not in (ADD, REMOVE):
            kept = last.get(record.access_key_id)
            if kept is None or not _changed(kept) or _changed(record):
                last[record.access_key_id] = record
    rows = []
    for key in before.values():
        decided = last.get(key.access_key_id)
        current = after.get(key.access_key_id)
        rows.append(
            KeyRow(
                account_id=key.account_id,
                account_name=org.account_names.get(key.account_id, ""),
                user_name=key.user_name,
                access_key_id=key.access_key_id,
                age_days=(now - key.created_at).days,
                last_used_at=key.last_used_at,
                status_before=key.status,
                decision=decided.decision if decided else "none",
                trigger=decided.trigger if decided else "-",
                reason=decided.reason if decided else "no event: within policy, or inactive",
                status_after=current.status if current else GONE,
            )
        )
    return tuple(sorted(rows, key=lambda r: (r.account_name, r.user_name, -r.age_days)))
