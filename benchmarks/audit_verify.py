"""`akr audit verify` over 10,000 and 100,000 audit records: time and peak memory of its own work.

The records are made as tests/report_samples.py makes them (org_bootstrap.review.report's samples),
stored as the audit table stores them (remediator.adapters.audit_table.to_item) and archived as the
archiver archives a stream's INSERTs: JSON Lines objects of BATCH lines (the event source mapping's
default batch size). Timed, per size, in a fresh process each (so that peak RSS is the size's own):
- parse: every object's body read into archive lines (org_bootstrap.review.audit_evidence.parse_object);
- hash: every table item hashed (org_bootstrap.review.audit_verify.table_record);
- compare: org_bootstrap.review.audit_verify.verify.
Not timed: the reads from DynamoDB and S3, which are I/O: the script prints how many requests they take
(Query pages of 1 MB at most, one ListObjectVersions per 1,000 versions, one GetObject per object).
Run: ``.venv/bin/python benchmarks/audit_verify.py [--records 10000,100000] [--json]``.
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import time
from datetime import timedelta
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))  # tests.report_samples, when run as a script

from org_bootstrap.review.audit_evidence import parse_object  # noqa: E402
from org_bootstrap.review.audit_verify import table_record, verify  # noqa: E402
from remediator.adapters.audit_table import to_item  # noqa: E402
from remediator.archive_format import canonical_bytes, line_from_stream_record, to_json_lines  # noqa: E402
from tests.report_samples import NOW, record  # noqa: E402

BATCH = 100
ACCOUNTS = 50
ITEM_PAGE = 1024 * 1024
"""A Query page holds at most 1 MB of items."""


def measure(count: int) -> dict[str, float | int]:

    step = timedelta(days=30) / count
    items = []
    for n in range(count):
        account = f"{100000000000 + n % ACCOUNTS}"
        made = record(
            step * n, account, f"u{n % 500}", None, "delete", "outcome", "done", "older than 90 days"
        )
        items.append(to_item(made.model_copy(update={"record_id": f"{made.record_id[:24]}#{n:016x}"})))
    lines = [
        line_from_stream_record(
            {
                "eventID": f"e{n}",
                "eventName": "INSERT",
                "dynamodb": {
                    "Keys": {"account_id": item["account_id"], "record_id": item["record_id"]},
                    "NewImage": item,
                    "SequenceNumber": str(10**21 + n),
                    "ApproximateCreationDateTime": NOW.timestamp(),
                },
            }
        )
        for n, item in enumerate(items)
    ]
    bodies = [to_json_lines(lines[start : start + BATCH]) for start in range(0, count, BATCH)]
    item_bytes = sum(len(canonical_bytes(item)) for item in items)
    del lines
    began = time.perf_counter()
    parsed = [line for n, body in enumerate(bodies) for line in parse_object(body, f"object {n}")]
    parse = time.perf_counter() - began
    began = time.perf_counter()
    records = [table_record(item) for item in items]
    hashing = time.perf_counter() - began
    began = time.perf_counter()
    result = verify(records, parsed, since=NOW - timedelta(days=31), until=NOW, now=NOW)
    compare = time.perf_counter() - began
    if not result.clean or result.archived != count:
        raise SystemExit(f"the archive should match the table: {result.findings[:3]}")
    return {
        "records": count,
        "parse_s": round(parse, 2),
        "hash_s": round(hashing, 2),
        "compare_s": round(compare, 2),
        "total_s": round(parse + hashing + compare, 2),
        "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024),
        "get_object": len(bodies),
        "list_object_versions": -(-len(bodies) // 1000) * 31,
        "archive_mb": round(sum(map(len, bodies)) / 2**20, 1),
        "query_pages_at_least": -(-item_bytes // ITEM_PAGE),
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--records", default="10000,100000")
    parser.add_argument("--json", action="store_true")
    parser.add_argument("--one", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.one:
        print(json.dumps(measure(args.one)))
        return 0
    rows = []
    for count in (int(n) for n in args.records.split(",")):
        child = subprocess.run(
            [sys.executable, __file__, "--one", str(count)], capture_output=True, text=True, check=True
        )
        rows.append(json.loads(child.stdout))
    if not args.json:
        print(
            f"{'records':>8} {'parse s':>8} {'hash s':>7} {'compare s':>9} {'total s':>8} {'peak MB':>8} "
            f"{'GetObject':>9} {'archive MB':>10}"
        )
        for row in rows:
            print(
                f"{row['records']:>8} {row['parse_s']:>8} {row['hash_s']:>7} {row['compare_s']:>9} "
                f"{row['total_s']:>8} {row['peak_rss_mb']:>8} {row['get_object']:>9} {row['archive_mb']:>10}"
            )
    print(json.dumps(rows))
    return 0


if __name__ == "__main__":
    sys.exit(main())
