"""Bad input, command by command: one line on stderr that names the option (or what failed) and what to
try, the exit code, and never a traceback. Nothing here reaches AWS: the failures come before any call,
from an endpoint on 127.0.0.1 that nothing listens on, or from a loopback server that answers something
that is not AWS."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from typer.testing import CliRunner

from org_bootstrap.commands.app import app

SECURITY = "111111111111"
KEY = "AKIAIOSFODNN7EXAMPLE"
NOBODY = "http://127.0.0.1:1"
"""Port 1 on loopback: the connection is refused at once."""
REGION = ("--region", "eu-west-1")
UNREACHABLE = (
    f"error: cannot reach {NOBODY}/ (sts:GetCallerIdentity): check --endpoint-url, --region and the network"
)


def usage(command: str, message: str) -> str:
    return f"error: {message} (see akr {command} --help)"


NOT_AN_ACCOUNT = "Invalid value for '{option}': '12' is not an account id (12 digits)"
FROM_ENV = {
    "--security-account": "--security-account' (env var: 'AKR_SECURITY_ACCOUNT')",
    "--endpoint-url": "--endpoint-url' (env var: 'AWS_ENDPOINT_URL')",
}
"""click names the environment variable an option can come from too."""
NOT_A_KEY = "Invalid value for '--access-key-id': 'notakey' is not an access key id (AKIA and 12 or more upper-case letters or digits)"  # noqa: E501
NOT_A_URL = (
    f"Invalid value for '{FROM_ENV['--endpoint-url']}: '{{url}}' is not a URL: give http(s)://host[:port]"
)
EXEMPT = ("--account", "222222222222", "--user", "ci", "--reason", "r", "--owner", "o")

CASES: list[tuple[tuple[str, ...], int, str]] = [
    # Command lines that do not parse: exit code 2, before anything runs.
    (("scan", "--bogus"), 2, usage("scan", "No such option: --bogus")),
    (("nosuch",), 2, usage("", "No such command 'nosuch'.").replace("akr  ", "akr ")),
    (("audit",), 2, usage("audit", "Missing option '--security-account' (env var: 'AKR_SECURITY_ACCOUNT').")),
    (
        ("audit", "--security-account", "12"),
        2,
        usage(
            "audit",
            NOT_AN_ACCOUNT.format(option="--security-account").replace(
                "--security-account'", FROM_ENV["--security-account"]
            ),
        ),
    ),
    (
        ("audit", "--security-account", SECURITY, "--endpoint-url", "notaurl"),
        2,
        usage("audit", NOT_A_URL.format(url="notaurl")),
    ),
    (
        ("status", "--security-account", SECURITY, "--endpoint-url", "127.0.0.1:4566"),
        2,
        usage("status", NOT_A_URL.format(url="127.0.0.1:4566")),
    ),
    (
        ("undo", "--security-account", SECURITY, "--account", "12", "--access-key-id", KEY),
        2,
        usage("undo", NOT_AN_ACCOUNT.format(option="--account")),
    ),
    (
        ("undo", "--security-account", SECURITY, "--account", "222222222222", "--access-key-id", "notakey"),
        2,
        usage("undo", NOT_A_KEY),
    ),
    (
        (
            "exempt",
            "add",
            "--security-account",
            SECURITY,
            *EXEMPT,
            "--expires",
            "30d",
            "--access-key-id",
            "notakey",
        ),
        2,
        usage("exempt add", NOT_A_KEY),
    ),
    (
        ("scan", "--security-account", SECURITY, "--account", "12"),
        2,
        usage("scan", NOT_AN_ACCOUNT.format(option="--account")),
    ),
    (
        ("report", "--security-account", SECURITY, "--html", "r.html", "--account", "12"),
        2,
        usage("report", NOT_AN_ACCOUNT.format(option="--account")),
    ),
    (
        ("exempt", "list", "--security-account", SECURITY, "--account", "12"),
        2,
        usage("exempt list", NOT_AN_ACCOUNT.format(option="--account")),
    ),
    # typer checks types and ranges with pydantic: the message is in the operator's words, not pydantic's.
    (
        ("audit", "--security-account", SECURITY, "--limit", "x"),
        2,
        usage("audit", "Invalid value for '--limit': not a whole number"),
    ),
    (
        ("scan", "--security-account", SECURITY, "--concurrency", "0"),
        2,
        usage("scan", "Invalid value for '--concurrency': must be at least 1"),
    ),
    (
        ("scan", "--security-account", SECURITY, "--mode", "bogus"),
        2,
        usage(
            "scan",
            "Invalid value for '--mode': 'bogus' is not one of 'report', 'deactivate', 'delete', 'staged'.",
        ),
    ),
    # Values the commands check before any AWS call: exit code 1.
    (
        ("audit", "--security-account", SECURITY, "--since", "100000d"),
        1,
        "error: --since 100000d spans 100001 days: without --account or --access-key-id the audit log is "
        "read one day at a time, 366 days at most; narrow the window, or name the account or the key (one "
        "query, whatever the window)",
    ),
    (
        ("scan", "--security-account", SECURITY, "--within", "soon", *REGION),
        1,
        "error: --within 'soon' is not a duration (like 30d, 2w, 12h)",
    ),
    (
        ("scan", "--security-account", SECURITY, "--cis", "1.4", "--max-unused-days", "30", *REGION),
        1,
        "error: give either --cis or --max-key-age-days/--max-unused-days, not both",
    ),
    (
        ("deploy", "--security-account", SECURITY, "--cis", "1.4", "--max-unused-days", "30"),
        1,
        "error: give either --cis or --max-key-age-days/--max-unused-days, not both",
    ),
    (
        ("destroy", "--security-account", SECURITY, "--yes-delete-audit-log", "t"),
        1,
        "error: --yes-delete-audit-log needs --delete-audit-log",
    ),
    (
        ("sweep", "--security-account", SECURITY, "--dry-run"),
        1,
        "error: --mode and --dry-run go with --local: the deployed sweep has its mode",
    ),
    (
        ("exempt", "add", "--security-account", SECURITY, *EXEMPT, "--expires", "someday"),
        1,
        "error: malformed expiry 'someday': give a number of days (30d), a date (2026-12-31) or an ISO time "
        "with a zone (2026-12-31T12:00:00+00:00)",
    ),
    (
        ("report", "--security-account", SECURITY, "--html", "/nonexistent/dir/r.html"),
        1,
        "error: --html /nonexistent/dir/r.html: the directory /nonexistent/dir does not exist",
    ),
    (
        ("demo", "--html", "/nonexistent/dir/r.html"),
        1,
        "error: --html /nonexistent/dir/r.html: the directory /nonexistent/dir does not exist",
    ),
    (
        ("demo", "--html", "-", "--output", "csv"),
        1,
        "error: --html - and --output csv both want stdout: name a file, or drop one",
    ),
    # An endpoint nobody listens on: the first call fails within seconds, the same line everywhere.
    *(
        ((*command, "--security-account", SECURITY, "--endpoint-url", NOBODY, *REGION), 1, UNREACHABLE)
        for command in (
            ("audit",),
            ("status",),
            ("scan",),
            ("sweep",),
            ("deploy",),
            ("destroy",),
            ("exempt", "list"),
            ("exempt", "remove", "--account", "222222222222", "--user", "ci"),
            ("undo", "--account", "222222222222", "--access-key-id", KEY),
            ("report", "--html", "r.html"),
        )
    ),
]


def run(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(app, list(args), prog_name="akr")
    return result.exit_code, result.stdout, result.stderr


@pytest.mark.parametrize(("args", "code", "first_line"), CASES, ids=[" ".join(c[0][:4]) for c in CASES])
def test_bad_input_is_one_line_naming_what_to_fix(
    args: tuple[str, ...], code: int, first_line: str, tmp_path_factory: pytest.TempPathFactory
) -> None:
    exit_code, stdout, stderr = run(*args)
    assert "Traceback" not in stdout + stderr
    assert stderr.splitlines()[:1] == [first_line]
    assert exit_code == code


def test_with_output_json_the_error_is_the_envelope() -> None:
    exit_code, stdout, _ = run(
        "audit", "--security-account", SECURITY, "--endpoint-url", NOBODY, *REGION, "--output", "json"
    )
    assert exit_code == 1
    assert json.loads(stdout) == {
        "command": "audit",
        "status": "error",
        "error": UNREACHABLE[len("error: ") :],
    }


class NotAws(BaseHTTPRequestHandler):
    """Answers every request with a body no AWS parser reads: a web server, a proxy, another service."""

    def do_POST(self) -> None:
        body = b"this is not an AWS answer"
        self.send_response(400)
        self.send_header("Content-Type", "text/plain")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:  # noqa: A002  # the base class's name
        pass


@pytest.fixture
def not_aws() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), NotAws)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


def test_an_answer_that_is_not_aws_is_one_line(not_aws: str) -> None:
    exit_code, stdout, stderr = run(
        "status", "--security-account", SECURITY, "--endpoint-url", not_aws, *REGION
    )
    assert "Traceback" not in stdout + stderr
    assert stderr.splitlines()[:1] == [
        "error: the endpoint answered with something that is not an AWS response: check --endpoint-url and "
        "--region (a service that is not there, or in another region)"
    ]
    assert exit_code == 1
