"""Options shared by every command."""

from __future__ import annotations

from typing import Annotated

import typer

InstanceOption = Annotated[
    str | None,
    typer.Option("--instance", "-i", envvar="CLIENTELA_INSTANCE",
                 help="Instance to work on (default: the only one in $CLIENTELA_HOME)."),
]
JsonOption = Annotated[bool, typer.Option("--json", help="Print the result as JSON.")]
