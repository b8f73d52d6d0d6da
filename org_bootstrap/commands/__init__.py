"""The command line: the typer app (app.py) and one module per command family, with their options,
rendering and views. The only layer that prints; nothing imports it but org_bootstrap.__main__ and the
`akr` entry point."""
