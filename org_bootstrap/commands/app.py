"""`akr`: the typer app. Each command family lives in a module of its own beside this one; the work
happens in org_bootstrap.deploy, org_bootstrap.review and org_bootstrap.demo.

Every command is registered through `guarded` (one line for any error, exit code 1) and the
command-line classes of org_bootstrap.commands.usage (one line for a command line that does not parse,
exit code 2). Help is click's plain help: it wraps the docstrings to the terminal, whatever its width.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated

import typer

from org_bootstrap.commands.audit import audit
from org_bootstrap.commands.audit_verify import verify_command
from org_bootstrap.commands.demo import demo
from org_bootstrap.commands.deploy import deploy
from org_bootstrap.commands.destroy import destroy
from org_bootstrap.commands.errors import guarded
from org_bootstrap.commands.exempt import add, list_, remove
from org_bootstrap.commands.exempt_relink import relink
from org_bootstrap.commands.pause import pause, resume
from org_bootstrap.commands.report import report
from org_bootstrap.commands.scan import scan
from org_bootstrap.commands.status import status
from org_bootstrap.commands.sweep import sweep, undo
from org_bootstrap.commands.usage import OneLineCommand, OneLineGroup
from org_bootstrap.commands.version import version

app = typer.Typer(no_args_is_help=True, cls=OneLineGroup, rich_markup_mode=None)
exempt_app = typer.Typer(
    help="Central exemptions: a reason, an owner and a required expiry; every change is audited.",
    no_args_is_help=True,
    cls=OneLineGroup,
    rich_markup_mode=None,
)


def _show_version(asked: bool) -> None:
    if asked:
        typer.echo(f"akr {version()}")
        raise typer.Exit


@app.callback()
def main(
    _version_flag: Annotated[
        bool,
        typer.Option("--version", callback=_show_version, is_eager=True, help="Print the version and exit."),
    ] = False,
) -> None:
    """Organization-wide remediation of IAM access keys (CIS AWS Foundations Benchmark).

    The options every command shares can come from the environment: AKR_SECURITY_ACCOUNT,
    AKR_SECURITY_ROLE, AKR_ACCOUNT_ROLE and AKR_HOME_REGION, and the aws cli's AWS_PROFILE, AWS_REGION
    and AWS_ENDPOINT_URL. Exit codes: 0 done; 1 an error or bad input (one line on stderr, or the JSON
    envelope with --output json); 2 a command line that does not parse; 3 `akr scan --fail-on-findings`
    found a key that breaks a rule. `akr audit verify` has its own: 1 a finding, 2 could not verify.
    """


def _register(typer_app: typer.Typer, name: str, command: Callable[..., None], label: str) -> None:
    typer_app.command(name, cls=OneLineCommand)(guarded(label, command))


# The order of registration is the order of `akr --help`.
_register(app, "deploy", deploy, "deploy")
_register(app, "status", status, "status")
_register(app, "destroy", destroy, "destroy")
_register(app, "demo", demo, "demo")
_register(app, "sweep", sweep, "sweep")
_register(app, "undo", undo, "undo")
_register(app, "pause", pause, "pause")
_register(app, "resume", resume, "resume")
_register(exempt_app, "add", add, "exempt add")
_register(exempt_app, "list", list_, "exempt list")
_register(exempt_app, "remove", remove, "exempt remove")
_register(exempt_app, "relink", relink, "exempt relink")
app.add_typer(exempt_app, name="exempt")
# `akr audit` queries the log; `akr audit verify` checks it against its archive.
audit_app = typer.Typer(cls=OneLineGroup, rich_markup_mode=None)
audit_app.callback(invoke_without_command=True)(guarded("audit", audit))
_register(audit_app, "verify", verify_command, "audit verify")
app.add_typer(audit_app, name="audit")
_register(app, "scan", scan, "scan")
_register(app, "report", report, "report")
