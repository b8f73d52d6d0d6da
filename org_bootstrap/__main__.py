"""`python -m org_bootstrap`: the same as the `akr` command."""

from org_bootstrap.commands.app import app

app()
