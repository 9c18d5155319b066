"""`clientela identity ...`, `clientela profile` and `clientela forget`."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated

import duckdb
import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from clientela.cli.errors import UserError
from clientela.cli.indicators_view import show_indicators
from clientela.cli.options import InstanceOption, JsonOption
from clientela.config import Instance, Settings, open_instance
from clientela.identity import operator
from clientela.identity.explain import ProfileExplanation, explain_pair, explain_profile
from clientela.identity.forget import forget as erase
from clientela.identity.lookup import (
    Identifier,
    find_identifier,
    find_profile,
    parse,
    resolve_client,
)
from clientela.identity.preview import preview as dry_run
from clientela.identity.profile import load_profile
from clientela.identity.quality import pairwise_quality
from clientela.identity.resolve import ResolveResult, run_resolution
from clientela.identity.rules import IdentityRules
from clientela.indicators.published import indicators_of
from clientela.serving.publish import unpublish
from clientela.stores import analytics, operational

console = Console(soft_wrap=True, highlight=False)

app = typer.Typer(no_args_is_help=True, help="Identity resolution: explain, review and undo.")

NoteOption = Annotated[str, typer.Option(
    "--note", help="Why: kept with the decision and in the history of the profiles it changes.")]
IdentifierArgument = Annotated[str, typer.Argument(
    help="TYPE:VALUE (email:ana@mail.com, user_id:S01:17, phone:+56955551234, "
         "custom:loyalty_card:7001) or a client id.")]
OnlyIdentifierArgument = Annotated[str, typer.Argument(
    help="TYPE:VALUE: email:ana@mail.com, user_id:S01:17, phone:+56955551234, "
         "custom:loyalty_card:7001.")]


@contextmanager
def _store(name: str | None, *, read_only: bool = False) -> Iterator[
        tuple[Instance, duckdb.DuckDBPyConnection]]:
    instance = open_instance(name)
    con = analytics.connect(instance, read_only=read_only)
    try:
        yield instance, con
    finally:
        con.close()


def summary(result: ResolveResult) -> str:
    """One line on what a resolution did."""
    text = (f"Identity: {result.profiles:,} profiles; {result.created:,} new, "
            f"{result.merged:,} merged, {result.split:,} split")
    if result.quarantined:
        text += (f"; {result.quarantined:,} shared identifier(s) quarantined "
                 "(`clientela identity review`)")
    if result.conflicts:
        text += f"; {result.conflicts:,} conflicting link(s) not applied"
    return text + f" ({result.seconds:.1f} s)."


def _echo_json(data: object) -> None:
    typer.echo(json.dumps(data, indent=2, default=str))


@app.command()
def explain(
    first: IdentifierArgument,
    second: Annotated[str | None, typer.Argument(
        help="A second identifier: say whether and why the two are one person.")] = None,
    instance: InstanceOption = None,
    as_json: JsonOption = False,
) -> None:
    """Why a profile holds its identifiers, or whether two identifiers are one person."""
    with _store(instance, read_only=True) as (target, con):
        rules = IdentityRules.of(target.settings)
        if second is None:
            explanation = explain_profile(con, find_profile(con, rules, first))
            if as_json:
                _echo_json(explanation.to_json())
            else:
                _print_explanation(explanation)
            return
        pair = explain_pair(con, find_identifier(con, rules, first),
                            find_identifier(con, rules, second))
    if as_json:
        _echo_json(pair.to_json())
        return
    verdict = "[green]one person[/green]" if pair.same_person else "[yellow]not joined[/yellow]"
    console.print(f"{escape(pair.first.label)} and {escape(pair.second.label)}: {verdict}: "
                  f"{escape(pair.reason)}")
    for link in pair.chain:
        console.print(f"  {escape(link.a)} - {escape(link.b)}  ({link.rule}, "
                      f"{escape(link.source)}:{link.source_line}, {link.observed_at:%Y-%m-%d})")


def _print_explanation(explanation: ProfileExplanation) -> None:
    state = "recognized" if explanation.recognized else "anonymous"
    console.print(f"Profile [bold]{explanation.client_id}[/bold] ({state}), "
                  f"{len(explanation.identifiers)} identifier(s):")
    for identifier in explanation.identifiers:
        console.print(f"  {escape(identifier.label)}  first seen "
                      f"{identifier.first_seen:%Y-%m-%d}")
    if explanation.links:
        console.print("Joined by:")
        for link in explanation.links:
            console.print(f"  {escape(link.a)} - {escape(link.b)}  ({link.rule}, "
                          f"{escape(link.source)}:{link.source_line}, "
                          f"{link.observed_at:%Y-%m-%d})")
    for identifier in explanation.not_linking:
        console.print(f"Not linking: {escape(identifier.label)} is {identifier.status} "
                      f"(on {identifier.fan_out} customer ids)")
    for conflict in explanation.conflicts:
        why = (f"an operator forbade {escape(conflict.existing)} and "
               f"{escape(conflict.incoming)} from joining" if conflict.limit_key == "forbidden"
               else f"it would hold two {escape(conflict.limit_key)} "
                    f"({escape(conflict.existing)} and {escape(conflict.incoming)})")
        console.print(f"Conflict: {escape(conflict.detached)} kept out of "
                      f"{escape(conflict.kept)}'s profile: {why}; {escape(conflict.source)}:"
                      f"{conflict.source_line}")
    for at, event, others, reason in explanation.history:
        joined = f" {', '.join(map(str, others))}" if others else ""
        console.print(f"History: {at:%Y-%m-%d %H:%M} {event}{joined}: {escape(reason)}")


@app.command()
def review(instance: InstanceOption = None, as_json: JsonOption = False) -> None:
    """Quarantined shared identifiers, the most shared first; release or block them."""
    with _store(instance, read_only=True) as (_, con):
        shared = operator.review(con)
    if as_json:
        _echo_json([{"identifier": s.identifier.label, "fan_out": s.identifier.fan_out,
                     "quarantined_at": s.quarantined_at, "reason": s.reason} for s in shared])
        return
    if not shared:
        console.print("No quarantined identifier.")
        return
    table = Table(caption="`clientela identity release|block TYPE:VALUE --note ...`")
    table.add_column("identifier", no_wrap=True)
    table.add_column("customer ids", justify="right", no_wrap=True)
    table.add_column("quarantined", no_wrap=True)
    table.add_column("why", overflow="fold")
    for item in shared:
        table.add_row(escape(item.identifier.label), f"{item.identifier.fan_out:,}",
                      f"{item.quarantined_at:%Y-%m-%d}" if item.quarantined_at else "",
                      escape(item.reason))
    console.print(table)


def _decide(action: Callable[[duckdb.DuckDBPyConnection, Settings, Identifier, str],
                             ResolveResult],
            identifier: str, note: str, instance: str | None) -> None:
    with _store(instance) as (target, con):
        found = find_identifier(con, IdentityRules.of(target.settings), identifier)
        result = action(con, target.settings, found, note)
    console.print(summary(result))


@app.command()
def release(identifier: OnlyIdentifierArgument, note: NoteOption = "",
            instance: InstanceOption = None) -> None:
    """Let a quarantined identifier link again; its profiles are recomputed."""
    _decide(operator.release, identifier, note, instance)


@app.command()
def block(identifier: OnlyIdentifierArgument, note: NoteOption = "",
          instance: InstanceOption = None) -> None:
    """Stop an identifier from ever linking; its profiles are recomputed."""
    _decide(operator.block, identifier, note, instance)


def _decide_pair(action: Callable[[duckdb.DuckDBPyConnection, Settings, Identifier, Identifier,
                                  str], ResolveResult],
                 first: str, second: str, note: str, instance: str | None) -> None:
    with _store(instance) as (target, con):
        rules = IdentityRules.of(target.settings)
        result = action(con, target.settings, find_identifier(con, rules, first),
                        find_identifier(con, rules, second), note)
    console.print(summary(result))


@app.command()
def split(first: OnlyIdentifierArgument, second: OnlyIdentifierArgument, note: NoteOption = "",
          instance: InstanceOption = None) -> None:
    """Retract the link between two identifiers; the profile is recomputed and split."""
    _decide_pair(operator.split, first, second, note, instance)


@app.command()
def forbid(first: OnlyIdentifierArgument, second: OnlyIdentifierArgument, note: NoteOption = "",
           instance: InstanceOption = None) -> None:
    """Keep two identifiers in different profiles, whatever links them, now and later."""
    _decide_pair(operator.forbid, first, second, note, instance)


@app.command()
def allow(first: OnlyIdentifierArgument, second: OnlyIdentifierArgument, note: NoteOption = "",
          instance: InstanceOption = None) -> None:
    """Undo `forbid`: let two identifiers join again when the evidence says so."""
    _decide_pair(operator.allow, first, second, note, instance)


@app.command()
def restore(first: OnlyIdentifierArgument, second: OnlyIdentifierArgument,
            note: NoteOption = "", instance: InstanceOption = None) -> None:
    """Undo `split`: the retracted link between two identifiers joins again."""
    _decide_pair(operator.restore, first, second, note, instance)


@app.command()
def rebuild(instance: InstanceOption = None, as_json: JsonOption = False) -> None:
    """Recompute every profile from the evidence and the current rules."""
    with _store(instance) as (target, con):
        result = run_resolution(con, target.settings, reason="full rebuild", full=True)
    if as_json:
        _echo_json(result.to_json())
    else:
        console.print(summary(result))


@app.command()
def preview(
    config: Annotated[Path, typer.Option("--config", exists=True, dir_okay=False,
                                         help="Another clientela.toml to try.")],
    instance: InstanceOption = None,
    as_json: JsonOption = False,
) -> None:
    """What other identity rules would do to today's profiles, without applying them."""
    other = Settings.load(config)
    with _store(instance) as (_, con):
        result = dry_run(con, other)
    if as_json:
        _echo_json(result.to_json())
        return
    console.print(f"Profiles: {result.profiles_before:,} now, {result.profiles_after:,} with "
                  f"{escape(str(config))}.")
    console.print(f"  {result.merged:,} would merge two or more of today's profiles; "
                  f"{result.split:,} of today's would split.")
    console.print(f"  {result.quarantined_after:,} identifiers would be quarantined.")
    console.print("Largest profiles:")
    for cluster in result.largest:
        console.print(f"  {cluster.size:,} identifiers: {escape(', '.join(cluster.identifiers))}")
    console.print("Nothing was changed.")


@app.command()
def evaluate(
    truth: Annotated[Path, typer.Argument(exists=True, dir_okay=False,
                                          help="store_code,user_id,person_id per record "
                                               "(`clientela generate --truth`).")],
    instance: InstanceOption = None,
    as_json: JsonOption = False,
) -> None:
    """Pairwise precision and recall of the profiles against a truth file."""
    with _store(instance, read_only=True) as (target, con):
        quality = pairwise_quality(con, truth,
                                   store_scoped=target.settings.files.store_scoped_customer_ids)
    if as_json:
        _echo_json(vars(quality) | {"precision": quality.precision, "recall": quality.recall,
                                    "linkable_recall": quality.linkable_recall})
        return
    console.print(f"{quality.records:,} records: precision {quality.precision:.4f}, recall "
                  f"{quality.recall:.4f} of all true pairs, {quality.linkable_recall:.4f} of "
                  f"the {quality.linkable_pairs:,} pairs the evidence can link "
                  f"({quality.true_pairs:,} true pairs).")


def profile(identifier: IdentifierArgument, instance: InstanceOption = None,
            as_json: JsonOption = False) -> None:
    """The resolved profile: identifiers, attributes, tags, consents, recognized or not, and its
    indicators as the last run computed them."""
    with _store(instance, read_only=True) as (target, con):
        rules = IdentityRules.of(target.settings)
        client_id = find_profile(con, rules, identifier)
        parsed = parse(identifier, rules)
        asked = parsed if isinstance(parsed, int) and parsed != client_id else None
        found = load_profile(con, rules, client_id, asked)
        indicators = indicators_of(con, client_id)
    if as_json:
        _echo_json(found.to_json() | {"indicators": None if indicators is None else {
            "run_id": indicators.run_id, "as_of": indicators.as_of,
            "values": indicators.values}})
        return
    state = "recognized" if found.recognized else "anonymous"
    alias = f" (client id {found.asked_for} was merged into it)" if found.asked_for else ""
    console.print(f"Profile [bold]{found.client_id}[/bold]{alias}: {state}"
                  + (f", email {escape(found.email)}" if found.email else ""))
    console.print("Identifiers: " + ", ".join(escape(i.label) for i in found.identifiers))
    if found.shared:
        console.print("Shared with others: " + ", ".join(
            f"{escape(i.label)} ({i.status})" for i in found.shared))
    for attribute in found.attributes:
        console.print(f"  {escape(attribute.name)}: {escape(attribute.value)}  "
                      f"({attribute.day}, {escape(attribute.source)})")
    if found.tags:
        console.print("Tags: " + ", ".join(escape(t) for t in found.tags))
    for consent in found.consents:
        verb = "granted" if consent.granted else "withdrawn"
        console.print(f"Consent {escape(consent.channel)}: {verb} {consent.stated_at:%Y-%m-%d} "
                      f"({escape(consent.source)}: {escape(consent.proof)})")
    show_indicators(console, indicators)


def forget(
    identifier: IdentifierArgument,
    yes: Annotated[bool, typer.Option("--yes", help="Do not ask for confirmation.")] = False,
    instance: InstanceOption = None,
) -> None:
    """Erase a person everywhere; hashed tombstones keep late files from bringing them back."""
    with _store(instance) as (target, con):
        rules = IdentityRules.of(target.settings)
        client_id = find_profile(con, rules, identifier)
        if not yes and not typer.confirm(f"Erase profile {client_id} and all its data?"):
            raise UserError("nothing erased")
        erasure = erase(con, target.settings, resolve_client(con, client_id))
    ops = operational.connect(target)
    try:
        unpublish(ops, erasure.client_id)
    finally:
        ops.close()
    console.print(f"Erased profile {erasure.client_id}: {erasure.identifiers} identifier(s), "
                  f"{erasure.customer_rows} customer row(s), {erasure.orders} order(s).")
