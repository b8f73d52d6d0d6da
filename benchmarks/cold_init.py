"""Cold init of the remediator Lambda against a bare boto3 baseline, each in a fresh interpreter.

baseline: ``import boto3`` + one STS client.
handler:  ``import remediator.handler`` + ``runtime()``, what the first invocation builds.

Both are timed inside the child (time.perf_counter, interpreter start-up excluded) and report the
child's peak RSS. Runs are interleaved to spread drift over both kinds. Exits 1 if the handler's median
exceeds MAX_RATIO x the baseline median or its peak RSS exceeds MAX_RSS_MIB, 2 if a child fails or
tries to open a socket. Run: ``.venv/bin/python benchmarks/cold_init.py [--runs N] [--json]``.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import statistics
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
MAX_RATIO = 1.3
MAX_RSS_MIB = 80.0
TOP_IMPORTS = 10

# Same environment for both kinds: fake credentials, no host AWS config, and an endpoint on the
# discard port, so that an accidental call during init would fail at once instead of leaving the box.
CHILD_ENV = {
    "PATH": os.environ.get("PATH", ""),
    "HOME": str(Path.home()),
    "LANG": "C.UTF-8",
    "AWS_ACCESS_KEY_ID": "AKIAIOSFODNN7EXAMPLE",
    "AWS_SECRET_ACCESS_KEY": "fake-secret-for-benchmark",
    "AWS_DEFAULT_REGION": "eu-west-1",
    "AWS_ENDPOINT_URL": "http://127.0.0.1:9",
    "AWS_EC2_METADATA_DISABLED": "true",
    "AWS_CONFIG_FILE": os.devnull,
    "AWS_SHARED_CREDENTIALS_FILE": os.devnull,
    "AKR_AUDIT_TABLE": "akr-audit",
    "AKR_STATE_TABLE": "akr-state",
}

# The audit hook records every socket call and refuses anything but loopback.
CHILD = """\
import json, resource, sys, time
sockets = []
def _audit(event, args):
    if event in ("socket.connect", "socket.getaddrinfo"):
        sockets.append(f"{event} {args!r}")
        address = args[1] if event == "socket.connect" else (args[0],)
        host = address[0] if isinstance(address, tuple) else address
        if host not in ("127.0.0.1", "::1", "localhost"):
            raise RuntimeError(f"non-loopback network call during init: {host!r}")
sys.addaudithook(_audit)
start = time.perf_counter()
%s
seconds = time.perf_counter() - start
rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
print(json.dumps({"seconds": seconds, "rss_kib": rss, "sockets": sockets}))
"""
BODIES = {
    "baseline": 'import boto3\nboto3.client("sts", region_name="eu-west-1")',
    "handler": "import remediator.handler\nremediator.handler.runtime()",
}


@dataclass(frozen=True)
class Sample:
    seconds: float
    rss_kib: int
    sockets: list[str]


def run_child(kind: str) -> Sample:
    done = subprocess.run(
        [sys.executable, "-c", CHILD % BODIES[kind]],
        cwd=REPO,
        env=CHILD_ENV,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    if done.returncode != 0:
        sys.exit(f"{kind} child failed ({done.returncode}):\n{done.stderr}")
    data = json.loads(done.stdout.strip().splitlines()[-1])
    return Sample(seconds=data["seconds"], rss_kib=data["rss_kib"], sockets=data["sockets"])


def p90(values: list[float]) -> float:
    ordered = sorted(values)
    return ordered[math.ceil(0.9 * len(ordered)) - 1]  # nearest rank


def summarise(samples: list[Sample]) -> dict[str, Any]:
    ms = [s.seconds * 1000 for s in samples]
    rss = [s.rss_kib / 1024 for s in samples]
    return {
        "median_ms": round(statistics.median(ms), 1),
        "p90_ms": round(p90(ms), 1),
        "rss_mib_median": round(statistics.median(rss), 1),
        "rss_mib_max": round(max(rss), 1),
        "socket_calls": sorted({call for s in samples for call in s.sockets}),
    }


def import_breakdown() -> list[dict[str, Any]]:
    """-X importtime once, grouped by top-level package: self = own code, cumulative = time spent
    from entering the package until it returned (includes whatever it pulled in first)."""
    done = subprocess.run(
        [sys.executable, "-X", "importtime", "-c", "import remediator.handler"],
        cwd=REPO,
        env=CHILD_ENV,
        capture_output=True,
        text=True,
        check=True,
    )
    rows: list[tuple[int, str, int, int]] = []  # level, package, self us, cumulative us
    for line in done.stderr.splitlines():
        parts = line.removeprefix("import time:").split("|")
        if len(parts) != 3 or not parts[0].strip().isdigit():
            continue  # header or unrelated output
        name = parts[2].rstrip()
        level = (len(name) - len(name.lstrip())) // 2
        rows.append((level, name.strip().split(".")[0], int(parts[0]), int(parts[1])))
    totals: dict[str, list[int]] = {}
    parents: list[tuple[int, str]] = []  # output is post-order: walk it backwards to find parents
    for level, package, self_us, cumulative_us in reversed(rows):
        while parents and parents[-1][0] >= level:
            parents.pop()
        entry = totals.setdefault(package, [0, 0])
        entry[0] += self_us
        if not parents or parents[-1][1] != package:  # entered from outside the package
            entry[1] += cumulative_us
        parents.append((level, package))
    ranked = sorted(totals.items(), key=lambda item: item[1][1], reverse=True)[:TOP_IMPORTS]
    return [
        {"package": name, "cumulative_ms": round(cum / 1000, 1), "self_ms": round(own / 1000, 1)}
        for name, (own, cum) in ranked
    ]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=15, help="runs of each kind (default 15)")
    parser.add_argument("--json", action="store_true", help="print only the JSON line")
    args = parser.parse_args()
    if args.runs < 1:
        parser.error("--runs must be at least 1")

    for kind in BODIES:  # warm-up, discarded: byte-compiles and fills the page cache
        run_child(kind)
    samples: dict[str, list[Sample]] = {kind: [] for kind in BODIES}
    for i in range(args.runs):
        for kind in list(BODIES)[:: 1 if i % 2 == 0 else -1]:
            samples[kind].append(run_child(kind))

    stats = {kind: summarise(runs) for kind, runs in samples.items()}
    ratio = round(stats["handler"]["median_ms"] / stats["baseline"]["median_ms"], 2)
    peak = stats["handler"]["rss_mib_max"]
    sockets = stats["handler"]["socket_calls"] + stats["baseline"]["socket_calls"]
    result: dict[str, Any] = {
        "runs": args.runs,
        **stats,
        "ratio": ratio,
        "targets": {"max_ratio": MAX_RATIO, "max_rss_mib": MAX_RSS_MIB},
        "ratio_ok": ratio <= MAX_RATIO,
        "rss_ok": peak <= MAX_RSS_MIB,
        "no_network": not sockets,
        "imports": import_breakdown(),
    }

    if not args.json:
        print(f"{'':10}{'median ms':>11}{'p90 ms':>9}{'RSS MiB med':>13}{'RSS MiB max':>13}")
        for kind, row in stats.items():
            print(
                f"{kind:10}{row['median_ms']:>11.1f}{row['p90_ms']:>9.1f}"
                f"{row['rss_mib_median']:>13.1f}{row['rss_mib_max']:>13.1f}"
            )
        verdict = {True: "ok", False: "MISSED"}
        print(
            f"\nhandler/baseline median: {ratio:.2f}x (target <= {MAX_RATIO}x) {verdict[ratio <= MAX_RATIO]}"
        )
        print(
            f"handler peak RSS: {peak:.1f} MiB (target <= {MAX_RSS_MIB:.0f} MiB) {verdict[result['rss_ok']]}"
        )
        print(f"socket calls during init: {len(sockets)}")
        print("\nheaviest top-level packages, import remediator.handler (-X importtime, 1 run):")
        print(f"  {'package':28}{'cumulative ms':>14}{'self ms':>9}")
        for row in result["imports"]:
            print(f"  {row['package']:28}{row['cumulative_ms']:>14.1f}{row['self_ms']:>9.1f}")
        print()
    print(json.dumps(result))
    if sockets:
        return 2
    return 0 if result["ratio_ok"] and result["rss_ok"] else 1


if __name__ == "__main__":
    sys.exit(main())
