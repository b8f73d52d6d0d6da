"""The audit archiver: every record of the audit table's stream, unchanged, into the Object-Locked archive.

A batch's records are grouped by the record's (day, account) and each group is one JSON Lines object
(remediator.archive_format). A group whose object cannot be written fails its own records only: the
handler reports exactly those as the batch's failures, and Lambda retries from the first of them. A retried
group whose first record is the same writes the same key again; the bucket keeps both versions (Object
Lock refuses nothing to a new version) and `akr audit verify` reads the lines by their event id, so a line
archived twice counts once.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from botocore.exceptions import BotoCoreError, ClientError
from pydantic import BaseModel, ConfigDict, Field

from remediator.archive_format import (
    ARCHIVE_PREFIX,
    ArchiveLine,
    line_from_stream_record,
    object_key,
    to_json_lines,
)
from remediator.errors import RemediatorError
from remediator.settings import load_environment

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client

CONTENT_TYPE = "application/x-ndjson"


class ArchiveWriteError(RemediatorError):
    """An archive object could not be written; its records are retried."""


class ArchiverSettings(BaseModel):
    """The archiver's environment (stacksets/central.yaml ArchiverFunction)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    archive_bucket: str = Field(pattern=r"^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$")
    archive_bucket_owner: str = Field(pattern=r"^\d{12}$")
    """The security account: every call names it (ExpectedBucketOwner), so a bucket of the same name in
    another account is never written to."""


def load_archiver_settings(environ: Mapping[str, str] | None = None) -> ArchiverSettings:
    return load_environment(ArchiverSettings, environ)


def group_lines(lines: Iterable[ArchiveLine]) -> dict[str, list[ArchiveLine]]:
    """Object key -> its lines, in stream order; one key per (day, account), named by its first line."""
    first: dict[tuple[str, str], str] = {}
    groups: dict[str, list[ArchiveLine]] = {}
    for line in lines:
        key = first.setdefault((line.day, line.account_id), object_key(ARCHIVE_PREFIX, line))
        groups.setdefault(key, []).append(line)
    return groups


@dataclass
class S3Archive:
    """The archive bucket. PutObject only: the archiver's role may do nothing else there."""

    client: S3Client
    bucket: str
    owner: str

    def put(self, key: str, body: bytes) -> None:
        try:
            # A checksum is required on a PutObject into a bucket with a default Object Lock retention.
            # https://docs.aws.amazon.com/AmazonS3/latest/userguide/object-lock-managing.html
            self.client.put_object(
                Bucket=self.bucket,
                Key=key,
                Body=body,
                ContentType=CONTENT_TYPE,
                ChecksumAlgorithm="SHA256",
                ExpectedBucketOwner=self.owner,
            )
        except (ClientError, BotoCoreError) as exc:
            raise ArchiveWriteError(f"s3://{self.bucket}/{key}: {exc}") from exc


@dataclass
class BatchOutcome:
    """What one batch did: the keys written, and the sequence numbers of the records whose object failed."""

    written: dict[str, int] = field(default_factory=dict)
    """Object key -> lines."""
    failed: dict[str, str] = field(default_factory=dict)
    """Sequence number -> why its object could not be written."""
    altered: list[ArchiveLine] = field(default_factory=list)


def archive_batch(
    records: Iterable[Mapping[str, Any]],
    put: Callable[[str, bytes], None],
) -> BatchOutcome:
    """Every raw stream record of a batch (as Lambda delivers it, images unchanged), archived by group."""
    lines = [line_from_stream_record(record) for record in records]
    outcome = BatchOutcome(altered=[line for line in lines if line.altered])
    for key, group in group_lines(lines).items():
        try:
            put(key, to_json_lines(group))
        except ArchiveWriteError as exc:
            outcome.failed.update((line.sequence_number, str(exc)) for line in group)
        else:
            outcome.written[key] = len(group)
    return outcome
