"""Cold start of the remediator Lambda against the seed's, side by side: init, then the first invocation.

seed:    the original single-account function (docs/performance.md): ``import boto3`` (and the standard
         modules it imports) at init; an IAM client, ListUsers, ListAccessKeys and DeleteAccessKey in the
         first invocation.
handler: ``import remediator.handler`` in a Lambda environment (the init phase builds settings, clients and
         adapters); ``lambda_handler`` on a compliance-change event in the first invocation: AssumeRole,
         the user's keys read and one deleted, exemptions, lifecycles, the journal, idempotency.

The AWS answers are recorded once in this process, against moto, and replayed in each fresh child at the
HTTP layer (``URLLib3Session.send``): the children sign, serialize and parse every call as in AWS, with no
network and no server time in the figures. A child fails if a call does not match the recording. Runs
alternate between the kinds. Exits 1 if a target is missed, 2 if a child fails.
Run: ``.venv/bin/python benchmarks/cold_start.py [--runs N] [--json]``.
"""

from __future__ import annotations

import argparse
import base64
import json
import math
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

MAX_RATIO = 1.3
MAX_RSS_RATIO = 1.2
REGION = "eu-west-1"
SEED_RULE = "access-keys-rotated"

# The seed's function, as deployed (shared/seed): the module, then its handler's body.
SEED_INIT = """\
import boto3
import datetime
import time
import logging
logger = logging.getLogger()
logger.setLevel(logging.INFO)
"""
SEED_HANDLER = """\
def lambda_handler(event, context):
    logger.info(str(event))
    if 'detail' in event:
        detail = event['detail']
        if 'configRuleName' in detail:
            if detail['configRuleName'] == 'access-keys-rotated':
                iam = boto3.client('iam')
                users = iam.list_users()
                for user in users['Users']:
                    if detail['resourceId'] == user['UserId']:
                        access_keys = iam.list_access_keys(UserName=user['UserName'])
                        for access_key in access_keys['AccessKeyMetadata']:
                            create_date = access_key['CreateDate'].timestamp()
                            now = time.time()
                            if now - create_date > 60*60*24*90:
                                iam.delete_access_key(
                                    UserName=user['UserName'], AccessKeyId=access_key['AccessKeyId']
                                )
"""

# In the child: the replay is installed after the timed init and before the timed invocation, so neither
# pays for it; a socket call of any kind fails the child.
CHILD = """\
import json, resource, sys, time
def _audit(event, args):
    if event in ("socket.connect", "socket.getaddrinfo"):
        raise RuntimeError(f"network call in a replayed run: {{args!r}}")
sys.addaudithook(_audit)
start = time.perf_counter()
{init}
init_seconds = time.perf_counter() - start
init_rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss

from botocore.awsrequest import AWSResponse
import botocore.httpsession, base64
recording = json.load(open({recording!r}))
answers = iter(recording)
class _Raw:
    def __init__(self, body): self._body = body
    def stream(self, **_): yield self._body
def _send(self, request):
    answer = next(answers)
    target = request.headers.get("X-Amz-Target", b"")
    target = target.decode() if isinstance(target, bytes) else target
    body = request.body.decode() if isinstance(request.body, bytes) else (request.body or "")
    if not (target.endswith("." + answer["op"]) or ("Action=" + answer["op"] + "&") in body + "&"):
        raise RuntimeError(f"replay out of step: {{answer['op']}} expected; {{target}} {{body!r}}")
    raw = _Raw(base64.b64decode(answer["body"]))
    return AWSResponse(request.url, answer["status"], answer["headers"], raw)
botocore.httpsession.URLLib3Session.send = _send
event = json.load(open({event!r}))
class Context:
    function_name = "akr-remediator"
    function_version = "$LATEST"
    invoked_function_arn = "arn:aws:lambda:{region}:111111111111:function:akr-remediator"
    memory_limit_in_mb = 256
    aws_request_id = "00000000-0000-0000-0000-000000000001"
    log_group_name = "/aws/lambda/akr-remediator"
    log_stream_name = "stream"
    def get_remaining_time_in_millis(self): return 120_000

start = time.perf_counter()
{invoke}
first_seconds = time.perf_counter() - start
left = sum(1 for _ in answers)
if left:
    raise RuntimeError(f"{{left}} recorded call(s) not made")
print(json.dumps({{"init": init_seconds, "first": first_seconds, "init_rss_kib": init_rss,
                  "rss_kib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss}}))
"""
BODIES = {
    "seed": (SEED_INIT + SEED_HANDLER, "lambda_handler(event, Context())"),
    "handler": ("import remediator.handler", "remediator.handler.lambda_handler(event, Context())"),
}

BASE_ENV = {
    "PATH": os.environ.get("PATH", ""),
    "HOME": str(Path.home()),
    "LANG": "C.UTF-8",
    "AWS_ACCESS_KEY_ID": "AKIAIOSFODNN7EXAMPLE",
    "AWS_SECRET_ACCESS_KEY": "fake-secret-for-benchmark",
    "AWS_SESSION_TOKEN": "fake-token",
    "AWS_DEFAULT_REGION": REGION,
    "AWS_REGION": REGION,
    "AWS_EC2_METADATA_DISABLED": "true",
    "AWS_CONFIG_FILE": os.devnull,
    "AWS_SHARED_CREDENTIALS_FILE": os.devnull,
    "AWS_LAMBDA_FUNCTION_NAME": "akr-remediator",
    "POWERTOOLS_METRICS_NAMESPACE": "AccessKeyRemediation",
}


@contextmanager
def recording_calls(
    recorded: list[dict[str, Any]], answer: Callable[[Any], Any] | None = None
) -> Iterator[None]:
    """Record every response botocore reads, in order; `answer` may supply a response before moto does."""
    import botocore.endpoint  # noqa: PLC0415
    from botocore.handlers import BUILTIN_HANDLERS  # noqa: PLC0415

    endpoint: Any = botocore.endpoint.Endpoint  # the private method the recording wraps is not typed
    original = endpoint._do_get_response

    def record(self: Any, request: Any, operation_model: Any, context: Any) -> Any:
        answer_ = original(self, request, operation_model, context)
        success, _ = answer_
        if success is not None:
            http_response = success[0]
            recorded.append(
                {
                    "op": operation_model.name,
                    "status": http_response.status_code,
                    "headers": dict(http_response.headers),
                    "body": base64.b64encode(http_response.content).decode(),
                }
            )
        return answer_

    handler = ("before-send.config-service.ListDiscoveredResources", answer)
    endpoint._do_get_response = record
    if answer is not None:
        BUILTIN_HANDLERS.insert(0, handler)
    try:
        yield
    finally:
        endpoint._do_get_response = original
        if answer is not None:
            BUILTIN_HANDLERS.remove(handler)


def record_handler(workdir: Path) -> dict[str, str]:
    """Run the handler once against moto; returns the child's extra environment."""
    from botocore.awsrequest import AWSResponse, HTTPHeaders  # noqa: PLC0415
    from moto import mock_aws  # noqa: PLC0415

    from org_bootstrap.demo.simulation import (  # noqa: PLC0415
        AUDIT_TABLE,
        STATE_TABLE,
        KeySpec,
        create_organization,
    )
    from tests.fixtures import load_event, retarget  # noqa: PLC0415

    recorded: list[dict[str, Any]] = []
    with mock_aws():
        org = create_organization(members=1)
        member = org.members[0]
        alice = org.add_user(member, "alice", KeySpec(age_days=120, used_days_ago=1), KeySpec(age_days=5))
        event = load_event("config_noncompliant_rotated")
        retarget(event, account_id=member, user_id=alice.user_id)
        credentials = org.session(org.security).get_credentials()
        if credentials is None:
            sys.exit("no credentials for the security account")
        child = {
            "AWS_ACCESS_KEY_ID": credentials.access_key,
            "AWS_SECRET_ACCESS_KEY": credentials.secret_key,
            "AWS_SESSION_TOKEN": credentials.token or "",
            "AKR_AUDIT_TABLE": AUDIT_TABLE,
            "AKR_STATE_TABLE": STATE_TABLE,
        }
        found = {
            "resourceIdentifiers": [
                {"resourceType": "AWS::IAM::User", "resourceId": alice.user_id, "resourceName": "alice"}
            ]
        }

        class _Raw:
            def stream(self, **_: Any) -> Iterator[bytes]:
                yield json.dumps(found).encode()

        def answer(request: Any, **_: Any) -> AWSResponse:
            # moto's Config knows no IAM users: answered as AWS does where the recorder records them.
            headers = HTTPHeaders()
            headers["Content-Type"] = "application/x-amz-json-1.1"
            return AWSResponse(request.url, 200, headers, _Raw())

        os.environ.update({**BASE_ENV, **child})
        with recording_calls(recorded, answer):
            import remediator.handler  # noqa: PLC0415

            remediator.handler.runtime.cache_clear()
            answer_ = remediator.handler.lambda_handler(event, _context())
        if answer_["summary"]["deleted"] != 1 or org.keys(member, "alice") != {alice.key_ids[1]: "Active"}:
            sys.exit(f"the recorded run did not delete exactly the expired key: {answer_}")
    (workdir / "handler.json").write_text(json.dumps(recorded))
    (workdir / "handler-event.json").write_text(json.dumps(event))
    return child


def record_seed(workdir: Path) -> None:
    from freezegun import freeze_time  # noqa: PLC0415
    from moto import mock_aws  # noqa: PLC0415

    recorded: list[dict[str, Any]] = []
    namespace: dict[str, Any] = {}
    with mock_aws():
        import boto3  # noqa: PLC0415

        iam = boto3.client("iam", region_name=REGION)
        user = iam.create_user(UserName="bob")["User"]
        with freeze_time("2026-01-01"):
            iam.create_access_key(UserName="bob")
        exec(SEED_INIT + SEED_HANDLER, namespace)  # noqa: S102  # the seed's own code, benchmarked as is
        event = {"detail": {"configRuleName": SEED_RULE, "resourceId": user["UserId"]}}
        with recording_calls(recorded):
            namespace["lambda_handler"](event, None)
        if iam.list_access_keys(UserName="bob")["AccessKeyMetadata"]:
            sys.exit("the seed's recorded run did not delete the expired key")
    (workdir / "seed.json").write_text(json.dumps(recorded))
    (workdir / "seed-event.json").write_text(json.dumps(event))


def _context() -> Any:
    class Context:
        function_name = "akr-remediator"
        function_version = "$LATEST"
        invoked_function_arn = f"arn:aws:lambda:{REGION}:111111111111:function:akr-remediator"
        memory_limit_in_mb = 256
        aws_request_id = "00000000-0000-0000-0000-000000000000"
        log_group_name = "/aws/lambda/akr-remediator"
        log_stream_name = "stream"

        def get_remaining_time_in_millis(self) -> int:
            return 120_000

    return Context()


def run_child(kind: str, workdir: Path, env: dict[str, str]) -> dict[str, float]:
    init, invoke = BODIES[kind]
    code = CHILD.format(
        init=init,
        invoke=invoke,
        recording=str(workdir / f"{kind}.json"),
        event=str(workdir / f"{kind}-event.json"),
        region=REGION,
    )
    started = time.perf_counter()
    done = subprocess.run(
        [sys.executable, "-c", code],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    process = time.perf_counter() - started
    if done.returncode != 0:
        sys.exit(f"{kind} child failed ({done.returncode}):\n{done.stderr[-3000:]}")
    return {**json.loads(done.stdout.strip().splitlines()[-1]), "process": process}


def p90(values: list[float]) -> float:
    ordered = sorted(values)
    return ordered[math.ceil(0.9 * len(ordered)) - 1]  # nearest rank


def summarise(samples: list[dict[str, float]]) -> dict[str, float]:
    def ms(key: str) -> list[float]:
        return [s[key] * 1000 for s in samples]

    total = [s["init"] * 1000 + s["first"] * 1000 for s in samples]
    return {
        "init_ms": round(statistics.median(ms("init")), 1),
        "first_ms": round(statistics.median(ms("first")), 1),
        "total_ms": round(statistics.median(total), 1),
        "total_p90_ms": round(p90(total), 1),
        "process_ms": round(statistics.median(ms("process")), 1),
        "init_rss_mib": round(max(s["init_rss_kib"] for s in samples) / 1024, 1),
        "rss_mib": round(max(s["rss_kib"] for s in samples) / 1024, 1),
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=15, help="runs of each kind (default 15)")
    parser.add_argument("--json", action="store_true", help="print only the JSON line")
    parser.add_argument("--record", type=Path, help=argparse.SUPPRESS)  # the recording process
    args = parser.parse_args()
    if args.record:
        (args.record / "handler-env.json").write_text(json.dumps(record_handler(args.record)))
        record_seed(args.record)
        return 0
    if args.runs < 1:
        parser.error("--runs must be at least 1")

    with tempfile.TemporaryDirectory() as tmp:
        workdir = Path(tmp)
        # Recorded in a process of its own: a child forked from a parent that holds moto would count the
        # parent's pages in its peak RSS.
        subprocess.run(
            [sys.executable, __file__, "--record", str(workdir)],
            cwd=REPO,
            capture_output=True,
            check=True,
            timeout=300,
        )
        handler_env = json.loads((workdir / "handler-env.json").read_text())
        envs = {"seed": BASE_ENV, "handler": {**BASE_ENV, **handler_env}}
        for kind in BODIES:  # warm-up, discarded: byte-compiles and fills the page cache
            run_child(kind, workdir, envs[kind])
        samples: dict[str, list[dict[str, float]]] = {kind: [] for kind in BODIES}
        for i in range(args.runs):
            for kind in list(BODIES)[:: 1 if i % 2 == 0 else -1]:
                samples[kind].append(run_child(kind, workdir, envs[kind]))
        calls = {kind: len(json.loads((workdir / f"{kind}.json").read_text())) for kind in BODIES}

    stats = {kind: summarise(runs) for kind, runs in samples.items()}
    ratios = {
        part: round(stats["handler"][f"{part}_ms"] / stats["seed"][f"{part}_ms"], 2)
        for part in ("init", "first", "total", "process")
    }
    rss_ratio = round(stats["handler"]["init_rss_mib"] / stats["seed"]["init_rss_mib"], 2)
    result: dict[str, Any] = {
        "runs": args.runs,
        "calls": calls,
        **stats,
        "ratios": ratios,
        "init_rss_ratio": rss_ratio,
        "targets": {"max_ratio": MAX_RATIO, "max_rss_ratio": MAX_RSS_RATIO},
        "init_ok": ratios["init"] <= MAX_RATIO,
        "total_ok": ratios["total"] <= MAX_RATIO,
        "rss_ok": rss_ratio <= MAX_RSS_RATIO,
    }
    if not args.json:
        print(
            f"{'':9}{'calls':>6}{'init ms':>9}{'first ms':>10}{'total ms':>10}{'p90':>8}{'process ms':>12}"
            f"{'RSS init':>10}{'RSS end':>9}"
        )
        for kind, row in stats.items():
            print(
                f"{kind:9}{calls[kind]:>6}{row['init_ms']:>9.1f}{row['first_ms']:>10.1f}{row['total_ms']:>10.1f}"
                f"{row['total_p90_ms']:>8.1f}{row['process_ms']:>12.1f}{row['init_rss_mib']:>10.1f}"
                f"{row['rss_mib']:>9.1f}"
            )
        verdict = {True: "ok", False: "MISSED"}
        print(
            f"\nhandler/seed: init {ratios['init']:.2f}x {verdict[result['init_ok']]}, "
            f"first invocation {ratios['first']:.2f}x, init + first {ratios['total']:.2f}x "
            f"{verdict[result['total_ok']]} (target <= {MAX_RATIO}x), "
            f"whole process {ratios['process']:.2f}x; "
            f"peak RSS at init {rss_ratio:.2f}x {verdict[result['rss_ok']]} (target <= {MAX_RSS_RATIO}x)\n"
        )
    print(json.dumps(result))
    return 0 if result["init_ok"] and result["total_ok"] and result["rss_ok"] else 1


if __name__ == "__main__":
    sys.exit(main())
