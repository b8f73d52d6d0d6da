"""`akr`: the typer app. Each command family lives in a module of its own beside this one; the work
happens in org_bootstrap.deploy, org_bootstrap.review and org_bootstrap.demo."""

from __future__ import annotations

import typer

from org_bootstrap.commands.audit import audit
from org_bootstrap.commands.demo import demo
from org_bootstrap.commands.deploy import deploy, destroy, status
from org_bootstrap.commands.exempt import exempt_app
from org_bootstrap.commands.report import report
from org_bootstrap.commands.scan import scan
from org_bootstrap.commands.sweep import sweep, undo

app = typer.Typer(
    help="Organization-wide remediation of IAM access keys (CIS AWS Foundations Benchmark).",
    no_args_is_help=True,
)


@app.callback()
def main() -> None:
    """Organization-wide remediation of IAM access keys (CIS AWS Foundations Benchmark)."""


# The order of registration is the order of `akr --help`.
app.command()(deploy)
app.command()(status)
app.command()(destroy)
app.command()(demo)
app.command()(sweep)
app.command()(undo)
app.add_typer(exempt_app, name="exempt")
app.command()(audit)
app.command()(scan)
app.command()(report)
