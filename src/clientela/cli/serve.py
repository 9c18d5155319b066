"""`clientela serve` and `clientela apikey ...`."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from clientela.api.keys import Scope, create_key, list_keys, revoke_key
from clientela.api.server import Server, Service, served_instances
from clientela.cli.errors import UserError
from clientela.cli.options import InstanceOption, JsonOption
from clientela.config import open_instance
from clientela.stores import operational

console = Console(soft_wrap=True, highlight=False)
app = typer.Typer(no_args_is_help=True, help="API keys: create, list and revoke.")


def serve(
    instance: Annotated[list[str] | None, typer.Option(
        "--instance", "-i", help="Instance to serve (repeat for several; default: every "
                                 "instance in $CLIENTELA_HOME).")] = None,
    host: Annotated[str | None, typer.Option(help="Address to listen on (default: [api] host)."
                                             )] = None,
    port: Annotated[int | None, typer.Option(help="Port (default: [api] port).")] = None,
    api_workers: Annotated[int, typer.Option(
        min=1, help="API processes; they open only the operational stores, the analytics "
                    "stores stay with this process.")] = 1,
    daily: Annotated[bool, typer.Option(
        "--daily/--no-daily", help="Also run the daily service: drop-folder watchers, the "
                                   "daily runs and alerts of every instance (as `clientela "
                                   "sftp`).")] = True,
    sftp: Annotated[bool, typer.Option(
        "--sftp/--no-sftp", help="With the daily service, the built-in SFTP server; "
                                 "--no-sftp when OpenSSH serves the accounts.")] = True,
    sftp_host: Annotated[str, typer.Option(envvar="CLIENTELA_SFTP_HOST",
                                           help="SFTP address to listen on.")] = "0.0.0.0",
    sftp_port: Annotated[int, typer.Option(envvar="CLIENTELA_SFTP_PORT", min=0, max=65535,
                                           help="SFTP port to listen on.")] = 2222,
) -> None:
    """Serve the REST API and apply what it receives; SIGTERM drains before stopping."""
    instances = served_instances(instance or [])
    if not instances:
        raise UserError("no instance to serve: create one with `clientela init NAME`")
    first = instances[0].settings.api
    services: list[Service] = []
    if daily:
        from clientela.daily.hosted import HostedDailyService
        services.append(HostedDailyService(instances[0].root.parent, sftp=sftp,
                                           sftp_host=sftp_host, sftp_port=sftp_port))
    server = Server(instances, host or first.host, port or first.port, api_workers, services)
    names = ", ".join(i.name for i in instances)
    console.print(f"Serving {escape(names)} on http://{server.host}:{server.port} "
                  f"(OpenAPI at /docs); Ctrl-C or SIGTERM stops after applying every "
                  "acknowledged call.")
    if daily:
        console.print("Daily service: drop folders watched, daily runs scheduled"
                      + (f", SFTP on {sftp_host}:{sftp_port}" if sftp else "") + ".")
    server.run()
    console.print("Stopped; every acknowledged call is applied.")


def create(
    scope: Annotated[Scope, typer.Option(help="read: profiles and orders; write: orders, "
                                              "customers, events; admin: both and erasure.")],
    name: Annotated[str, typer.Option(help="What the key is for (shown in lists).")] = "",
    instance: InstanceOption = None,
) -> None:
    """Create a key; it is shown once, only its hash is kept."""
    target = open_instance(instance)
    ops = operational.connect(target)
    try:
        key, secret = create_key(ops, target.name, scope, name)
    finally:
        ops.close()
    console.print(f"Key {key.id} ({key.scope.value}) for instance {escape(target.name)}; "
                  "it is not shown again:")
    typer.echo(secret)


def list_command(instance: InstanceOption = None, as_json: JsonOption = False) -> None:
    """The instance's keys (never the keys themselves)."""
    target = open_instance(instance)
    ops = operational.connect(target)
    try:
        keys = list_keys(ops)
    finally:
        ops.close()
    if as_json:
        import json
        typer.echo(json.dumps([vars(k) for k in keys], indent=2, default=str))
        return
    table = Table("id", "scope", "name", "starts with", "created", "revoked")
    for key in keys:
        table.add_row(str(key.id), key.scope.value, escape(key.name), escape(key.hint) + "…",
                      key.created_at[:19], (key.revoked_at or "")[:19])
    console.print(table)


def revoke(key_id: Annotated[int, typer.Argument(help="The key's id (see `apikey list`).")],
           instance: InstanceOption = None) -> None:
    """Revoke a key: refused from the next request on."""
    target = open_instance(instance)
    ops = operational.connect(target)
    try:
        key = revoke_key(ops, key_id)
    finally:
        ops.close()
    if key is None:
        raise UserError(f"no key {key_id} in instance {target.name}")
    console.print(f"Key {key.id} ({key.scope.value}) revoked.")


app.command("create")(create)
app.command("list")(list_command)
app.command("revoke")(revoke)
