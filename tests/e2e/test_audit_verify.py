"""`akr audit verify` end to end against a moto server, after a real `akr deploy`.

The deployed central stack has its archive bucket (moto creates a plain bucket: its CloudFormation ignores
Object Lock, which the template tests cover); a deployment from before the archive is the same stack with
its `AuditArchiveBucketName` output taken away by UpdateStack, then put back. The archive's objects are
written with remediator.archive_format from the table's stored items, as the archiver writes a stream's
INSERTs (moto runs no stream consumer without Docker). Then, with the security account's administrator
credentials, records are rewritten (PutItem), deleted (DeleteItem) or left out of the archive.

Each test has a day of its own (and its own records), so that the tests of the module share one
deployment in any order.
"""

from __future__ import annotations

import csv
import io
import json
from collections import defaultdict
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from cfnlint.decode import cfn_yaml
from typer.testing import Result

from org_bootstrap.commands.audit_verify import CSV_COLUMNS
from org_bootstrap.review.archive_backfill import BACKFILL
from remediator.adapters.audit_table import DynamoDBAuditLog
from remediator.archive_format import (
    ARCHIVE_PREFIX,
    from_json_lines,
    line_from_stream_record,
    object_key,
    record_sha256,
    to_json_lines,
)
from remediator.audit import AuditRecord, Outcome, Phase, Trigger, new_record_id
from remediator.policy import Mode, Thresholds
from tests.e2e.akr import akr, as_json, deploy
from tests.moto_server import ServerOrganization

pytestmark = pytest.mark.slow

STACK = "access-key-remediation"
NO_ARCHIVE = (
    f"the central stack {STACK} has no output AuditArchiveBucketName: this deployment has no audit archive "
    "yet, so the audit log cannot be verified; run akr deploy with this version of akr"
)


def archive_output(organization: ServerOrganization, *, present: bool) -> str:
    """The deployed central stack with or without its `AuditArchiveBucketName` output (a deployment made
    before the archive had none), by UpdateStack of its own template; the bucket's name."""
    cloudformation = organization.client("cloudformation", organization.security)
    stack = cloudformation.describe_stacks(StackName=STACK)["Stacks"][0]
    body = cloudformation.get_template(StackName=STACK)["TemplateBody"]
    template = cfn_yaml.loads(body) if isinstance(body, str) else body
    if present:
        template["Outputs"]["AuditArchiveBucketName"] = {"Value": {"Ref": "AuditArchiveBucket"}}
    else:
        template["Outputs"].pop("AuditArchiveBucketName", None)
    cloudformation.update_stack(
        StackName=STACK,
        TemplateBody=json.dumps(template),
        # Empty optional parameters are left out (their default is empty): moto takes a parameter its last
        # call did not pass as changed and updates the resources naming it, even one whose Condition is
        # false and that it never created (docs/aws-compatibility.md, parameter-only updates).
        Parameters=[
            {"ParameterKey": p["ParameterKey"], "ParameterValue": p["ParameterValue"]}
            for p in stack["Parameters"]
            if p["ParameterValue"] != ""
        ],
        Capabilities=["CAPABILITY_IAM", "CAPABILITY_NAMED_IAM"],
    )
    pages = cloudformation.get_paginator("list_stack_resources").paginate(StackName=STACK)
    return next(
        str(r["PhysicalResourceId"])
        for page in pages
        for r in page["StackResourceSummaries"]
        if r["LogicalResourceId"] == "AuditArchiveBucket"
    )


@dataclass(frozen=True)
class Verified:
    organization: ServerOrganization
    table: str
    bucket: str
    now: datetime
    before_archive: Result
    """`akr audit verify` on the deployment before it had an archive bucket."""
    report_before_archive: tuple[Result, Path]
    """`akr report --html` then."""

    @property
    def dynamodb(self) -> Any:
        return self.organization.client("dynamodb", self.organization.security)

    @property
    def s3(self) -> Any:
        return self.organization.client("s3", self.organization.security)

    def verify(self, day: str, *args: str, answers: str | None = None) -> Result:
        return akr(
            self.organization,
            "audit",
            "verify",
            "--security-account",
            self.organization.security,
            "--since",
            day,
            "--until",
            f"{day}T23:59:59Z",
            *args,
            answers=answers,
        )

    def day(self, days_ago: int) -> str:
        return (self.now - timedelta(days=days_ago)).date().isoformat()

    def write(self, day: str, *users: str, member: int = 0) -> list[AuditRecord]:
        """One decision record per user, an hour apart from 08:00 UTC of `day`."""
        log = DynamoDBAuditLog(client=self.dynamodb, table_name=self.table)
        written = []
        for n, user in enumerate(users):
            at = datetime.fromisoformat(f"{day}T08:00:00+00:00") + timedelta(hours=n)
            record = AuditRecord(
                record_id=new_record_id(at),
                account_id=self.organization.members[member],
                user_name=user,
                access_key_id=f"AKIA{user.upper():0<16}",
                rule="rotation",
                decision="delete",
                mode=Mode.DELETE,
                reason=f"record of {user}",
                thresholds=Thresholds(),
                trigger=Trigger.SWEEP,
                phase=Phase.DECISION,
                outcome=Outcome.DONE,
                recorded_at=at,
            )
            log.append(record)
            written.append(record)
        return written

    def item(self, record: AuditRecord) -> dict[str, Any]:
        items = self.dynamodb.query(
            TableName=self.table,
            KeyConditionExpression="account_id = :a AND record_id = :r",
            ExpressionAttributeValues={":a": {"S": record.account_id}, ":r": {"S": record.record_id}},
        )["Items"]
        stored: dict[str, Any] = items[0]
        return stored

    def archive(self, records: list[AuditRecord]) -> None:
        """As the archiver does: one object per (day, account) of a batch of INSERTs of the stored items."""
        batches: dict[tuple[str, str], list[Any]] = defaultdict(list)
        for n, record in enumerate(records):
            item = self.item(record)
            line = line_from_stream_record(
                {
                    "eventID": f"event-{record.record_id}",
                    "eventName": "INSERT",
                    "dynamodb": {
                        "Keys": {"account_id": item["account_id"], "record_id": item["record_id"]},
                        "NewImage": item,
                        "SequenceNumber": str(4_100_000_000_000_000_000_000 + n),
                        "ApproximateCreationDateTime": record.recorded_at.timestamp(),
                    },
                }
            )
            batches[(line.day, line.account_id)].append(line)
        for lines in batches.values():
            self.s3.put_object(
                Bucket=self.bucket, Key=object_key(ARCHIVE_PREFIX, lines[0]), Body=to_json_lines(lines)
            )

    def keys(self, day: str) -> list[str]:
        listed = self.s3.list_objects_v2(Bucket=self.bucket, Prefix=f"{ARCHIVE_PREFIX}{day}/")
        return sorted(o["Key"] for o in listed.get("Contents", []))


def report(organization: ServerOrganization, page: Path, *args: str) -> Result:
    return akr(
        organization, "report", "--security-account", organization.security, "--html", str(page), *args
    )


@pytest.fixture(scope="module")
def verified(organization: ServerOrganization, tmp_path_factory: pytest.TempPathFactory) -> Verified:
    result = deploy(organization, "--yes", "--output", "json")
    assert result.exit_code == 0, result.output
    table = as_json(result)["result"]["audit_table"]
    now = datetime.now(UTC)
    archive_output(organization, present=False)
    before = akr(
        organization, "audit", "verify", "--security-account", organization.security, "--output", "json"
    )
    page = tmp_path_factory.mktemp("report") / "before.html"
    report_before = report(organization, page, "--output", "json")
    bucket = archive_output(organization, present=True)
    return Verified(organization, table, bucket, now, before, (report_before, page))


def findings(result: Result) -> list[tuple[str, str]]:
    return [(f["kind"], f["record_id"]) for f in as_json(result)["result"]["findings"]]


def test_without_an_archive_bucket_it_cannot_verify(verified: Verified) -> None:
    assert verified.before_archive.exit_code == 2, verified.before_archive.output
    assert as_json(verified.before_archive) == {
        "command": "audit verify",
        "status": "error",
        "error": NO_ARCHIVE,
    }


def test_a_report_before_the_archive_says_it_is_not_verified(verified: Verified) -> None:
    result, page = verified.report_before_archive
    assert result.exit_code == 0, result.output
    line = f"Archive verification: not verified: {NO_ARCHIVE}."
    assert as_json(result)["result"]["verification"] == {"state": "not-verified", "line": line}
    assert f'<p class="warn not-verified" id="verification">{line}</p>' in page.read_text()


def test_a_report_names_the_findings_of_its_window(verified: Verified, tmp_path: Path) -> None:
    day = verified.day(16)
    records = verified.write(day, "niaj", "olivia")
    verified.archive(records)
    verified.dynamodb.put_item(
        TableName=verified.table, Item={**verified.item(records[1]), "reason": {"S": "x"}}
    )
    page = tmp_path / "report.html"
    result = report(verified.organization, page, "--since", day, "--until", f"{day}T23:59:59Z")
    assert result.exit_code == 0, result.output
    line = (
        "Archive verification: 1 finding(s): 1 altered (2 record(s) in the table, 2 archive line(s)); "
        "akr audit verify over the same window lists them."
    )
    assert result.stdout.splitlines()[-1] == line
    assert f'<p class="warn findings" id="verification">{line}</p>' in page.read_text()


def test_a_window_archived_unchanged_is_clean_and_its_json_is_exact(verified: Verified) -> None:
    day = verified.day(2)
    records = verified.write(day, "alice", "bob")
    verified.archive(records)
    result = verified.verify(day, "--output", "json")
    assert result.exit_code == 0, result.output
    assert as_json(result) == {
        "command": "audit verify",
        "status": "ok",
        "changed": False,
        "query": {"since": f"{day}T00:00:00Z", "until": f"{day}T23:59:59Z", "account_ids": []},
        "result": {
            "audit_table": verified.table,
            "archive_bucket": verified.bucket,
            "clean": True,
            "records": 2,
            "archive_lines": 2,
            "archived": 2,
            "too_recent": 0,
            "lag_seconds": 900,
            "counts": {"altered": 0, "deleted": 0, "not-archived": 0},
            "findings": [],
            "backfill": None,
        },
    }
    table = verified.verify(day)
    assert table.exit_code == 0, table.output
    assert (
        "clean: 2 record(s) in the table, 2 archive line(s), every record archived unchanged." in table.stdout
    )


def test_a_record_rewritten_with_put_item_is_altered_and_named(verified: Verified) -> None:
    day = verified.day(4)
    records = verified.write(day, "carol", "dave")
    verified.archive(records)
    original = verified.item(records[0])
    rewritten = {**original, "decision": {"S": "none"}, "outcome": {"S": "skipped"}}
    verified.dynamodb.put_item(TableName=verified.table, Item=rewritten)  # the administrator, no condition
    result = verified.verify(day, "--output", "json")
    assert result.exit_code == 1, result.output
    (finding,) = as_json(result)["result"]["findings"]
    assert finding == {
        "kind": "altered",
        "account_id": records[0].account_id,
        "record_id": records[0].record_id,
        "detail": f"the table's hash {record_sha256(rewritten)[:12]} is not the archived "
        f"{record_sha256(original)[:12]}",
        "table_sha256": record_sha256(rewritten),
        "archive_sha256": record_sha256(original),
    }
    table = verified.verify(day)
    assert table.exit_code == 1
    assert records[0].record_id in table.stdout
    assert "1 finding(s): 1 altered (2 record(s) in the table, 2 archive line(s))" in table.stdout


def test_a_deleted_record_is_named_and_the_csv_is_exact(verified: Verified) -> None:
    day = verified.day(6)
    records = verified.write(day, "erin", "frank")
    verified.archive(records)
    original = verified.item(records[1])
    verified.dynamodb.delete_item(
        TableName=verified.table,
        Key={"account_id": original["account_id"], "record_id": original["record_id"]},
    )
    result = verified.verify(day, "--output", "csv")
    assert result.exit_code == 1, result.output
    assert result.stdout == (
        ",".join(CSV_COLUMNS)
        + "\n"
        + f"deleted,{records[1].account_id},{records[1].record_id},"
        + f'"archived, not in the table",,{record_sha256(original)}\n'
    )
    assert [row["kind"] for row in csv.DictReader(io.StringIO(result.stdout))] == ["deleted"]


def test_a_record_missing_from_the_archive_is_backfilled_audited_and_then_clean(verified: Verified) -> None:
    day = verified.day(8)
    records = verified.write(day, "grace", "heidi")
    verified.archive(records[:1])
    missing = records[1]
    first = verified.verify(day, "--output", "json")
    assert first.exit_code == 1, first.output
    assert findings(first) == [("not-archived", missing.record_id)]
    objects_before = verified.keys(day)

    backfilled = verified.verify(day, "--backfill", "--yes", "--output", "json")
    assert backfilled.exit_code == 0, backfilled.output
    payload = as_json(backfilled)
    assert (payload["status"], payload["changed"]) == ("ok", True)
    assert findings(backfilled) == [("not-archived", missing.record_id)]
    done = payload["result"]["backfill"]
    safe_id = done["intent_id"].replace(":", "-").replace("#", "-")
    new_object = f"{ARCHIVE_PREFIX}{day}/{missing.account_id}/backfill-{safe_id}.jsonl"
    assert (done["archived"], done["objects"]) == (1, [new_object])
    assert verified.keys(day) == sorted([*objects_before, new_object])
    (line,) = from_json_lines(verified.s3.get_object(Bucket=verified.bucket, Key=new_object)["Body"].read())
    assert (line.event, line.record_id, line.event_id) == ("BACKFILL", missing.record_id, done["intent_id"])
    assert line.sha256 == record_sha256(verified.item(missing))

    # Audited like every operator action: an intent before, an outcome after, the operator named.
    log = DynamoDBAuditLog(client=verified.dynamodb, table_name=verified.table)
    audit = {r.record_id: r for r in log.for_account(verified.organization.security)}
    intent, outcome = audit[done["intent_id"]], audit[done["outcome_id"]]
    window = f"{day}T00:00:00Z to {day}T23:59:59Z"
    assert (intent.decision, intent.phase, intent.outcome, intent.trigger) == (
        BACKFILL,
        Phase.INTENT,
        Outcome.PENDING,
        Trigger.CLI,
    )
    assert intent.reason == (
        f"archive 1 record(s) missing from the archive, {window}: {missing.account_id}/{missing.record_id}"
    )
    assert (outcome.phase, outcome.outcome, outcome.intent_id) == (
        Phase.OUTCOME,
        Outcome.DONE,
        intent.record_id,
    )
    assert outcome.reason == f"archived 1 record(s) missing from the archive, {window} in 1 object(s)"
    assert intent.operator == outcome.operator
    assert intent.operator is not None and intent.operator.startswith("arn:aws:")

    again = verified.verify(day, "--output", "json")
    assert again.exit_code == 0, again.output
    assert as_json(again)["result"]["archived"] == 2


def test_a_backfill_is_refused_over_tampering_and_writes_nothing(verified: Verified) -> None:
    day = verified.day(10)
    records = verified.write(day, "ivan", "judy")
    verified.archive(records[:1])
    verified.dynamodb.put_item(
        TableName=verified.table, Item={**verified.item(records[0]), "reason": {"S": "x"}}
    )
    objects_before = verified.keys(day)
    audit_before = len(
        DynamoDBAuditLog(client=verified.dynamodb, table_name=verified.table).for_account(
            verified.organization.security
        )
    )
    result = verified.verify(day, "--backfill", "--yes")
    assert result.exit_code == 1, result.output
    assert "refused: the window has 1 altered or deleted record(s)" in result.stderr
    assert verified.keys(day) == objects_before
    after = DynamoDBAuditLog(client=verified.dynamodb, table_name=verified.table).for_account(
        verified.organization.security
    )
    assert len(after) == audit_before


def test_an_account_window_reads_only_that_accounts_records(verified: Verified) -> None:
    day = verified.day(12)
    mine = verified.write(day, "kim", member=0)
    theirs = verified.write(day, "lee", member=1)
    verified.archive(mine)
    first = verified.organization.members[0]
    result = verified.verify(day, "--account", first, "--output", "json")
    assert result.exit_code == 0, result.output
    assert as_json(result)["query"]["account_ids"] == [first]
    everyone = verified.verify(day, "--output", "json")
    assert findings(everyone) == [("not-archived", theirs[0].record_id)]


def test_a_malformed_archive_line_means_it_cannot_verify(verified: Verified) -> None:
    day = verified.day(14)
    verified.archive(verified.write(day, "mallory"))
    key = f"{ARCHIVE_PREFIX}{day}/{verified.organization.members[0]}/9.jsonl"
    verified.s3.put_object(Bucket=verified.bucket, Key=key, Body=b'{"event": "INSERT"}\n')
    result = verified.verify(day)
    assert result.exit_code == 2, result.output
    assert result.stderr.startswith(
        f"error: s3://{verified.bucket}/{key} (version null) holds a malformed archive line"
    )
