"""`clientela`: the command-line entry point."""

from __future__ import annotations

from typing import Annotated

import typer

from clientela.cli import export, generate, identity, imports, instances, run, serve, sftp
from clientela.cli.errors import GuardedGroup

app = typer.Typer(
    cls=GuardedGroup,
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
    help="Clientela: an omnichannel customer data platform for retailers.",
)


@app.callback()
def root(
    debug: Annotated[bool, typer.Option("--debug", help="Show full tracebacks on errors.")] = False,
) -> None:
    """Data lives under $CLIENTELA_HOME (default ./clientela-data), one folder per instance."""


app.command("init")(instances.init)
app.command("import")(imports.import_files)
app.command("status")(imports.status)
app.command("skip-day")(imports.skip_day)
app.command("run")(run.run_command)
app.command("generate")(generate.generate)
app.add_typer(identity.app, name="identity")
app.add_typer(export.app, name="export")
app.command("profile")(identity.profile)
app.command("forget")(identity.forget)
app.command("sftp")(sftp.sftp)
app.add_typer(sftp.users, name="sftp-user")
app.command("serve")(serve.serve)
app.add_typer(serve.app, name="apikey")
