"""An operator's decisions: release or block a shared identifier, retract a link, forbid a pair.

Each decision is kept (reviews, retracted links, forbidden pairs) and the profiles it touches are
recomputed in the same transaction, with the history saying why.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

import duckdb

from clientela.config.settings import Settings
from clientela.identity.lookup import Identifier, IdentityError
from clientela.identity.resolve import ResolveResult, resolve
from clientela.identity.rules import IdentityRules
from clientela.stores.analytics import transaction


@dataclass(frozen=True)
class Shared:
    identifier: Identifier
    quarantined_at: datetime
    reason: str


def review(con: duckdb.DuckDBPyConnection) -> list[Shared]:
    """Quarantined identifiers, the most shared first."""
    rows = con.execute("""
        SELECT i.id, i.type, i.scope, i.value, i.status, i.fan_out, i.first_seen, NULL,
               max(r.decided_at), arg_max(r.note, r.decided_at)
        FROM identifiers i LEFT JOIN identity_reviews r
          ON r.identifier = i.id AND r.action = 'quarantined'
        WHERE i.status = 'quarantined' AND NOT EXISTS (
            -- An address's hash follows its address; a hash sent alone is listed.
            SELECT 1 FROM identity_links l WHERE l.b = i.id AND l.rule = 'email_hash')
        GROUP BY ALL ORDER BY i.fan_out DESC, i.id
    """).fetchall()
    return [Shared(Identifier(*row[:8]), row[8], row[9] or "") for row in rows]


def _decide(con: duckdb.DuckDBPyConnection, settings: Settings, identifier: Identifier,
            status: str, note: str) -> ResolveResult:
    now = datetime.now(UTC)
    with transaction(con):
        # An email and its hash are one decision.
        ids = [identifier.id] + [row[0] for row in con.execute(
            "SELECT b FROM identity_links WHERE a = ? AND rule = 'email_hash'",
            [identifier.id]).fetchall()]
        con.execute("UPDATE identifiers SET status = ? WHERE id IN (SELECT unnest(?::BIGINT[]))",
                    [status, ids])
        con.execute("INSERT INTO identity_reviews SELECT id, ?, fan_out, ?, ? FROM identifiers "
                    "WHERE id IN (SELECT unnest(?::BIGINT[]))", [status, now, note, ids])
        return resolve(con, IdentityRules.of(settings), touched=ids, take=False, now=now,
                       reason=f"{identifier.label} {status} by an operator: {note}")


def release(con: duckdb.DuckDBPyConnection, settings: Settings, identifier: Identifier,
            note: str) -> ResolveResult:
    """Let a quarantined identifier link again (it is not quarantined again)."""
    if identifier.status not in ("quarantined", "blocked", "excluded"):
        raise IdentityError(f"{identifier.label} is {identifier.status}: nothing to release")
    return _decide(con, settings, identifier, "released", note)


def block(con: duckdb.DuckDBPyConnection, settings: Settings, identifier: Identifier,
          note: str) -> ResolveResult:
    """Stop an identifier from ever linking."""
    if identifier.status == "blocked":
        raise IdentityError(f"{identifier.label} is already blocked")
    return _decide(con, settings, identifier, "blocked", note)


_EITHER_WAY = "((a = ? AND b = ?) OR (a = ? AND b = ?))"
"""A link or a forbidden pair of two identifiers, whichever one it names first."""


def _decide_pair(con: duckdb.DuckDBPyConnection, settings: Settings, first: Identifier,
                 second: Identifier, change: str, params: list[object], nothing: str,
                 reason: str, note: str) -> ResolveResult:
    """Apply `change` (SQL with RETURNING, its last parameters the pair's) and recompute the
    two identifiers' profiles in the same transaction; `nothing` when it changed nothing."""
    now = datetime.now(UTC)
    with transaction(con):
        changed = con.execute(change, [*params, first.id, second.id, second.id,
                                       first.id]).fetchall()
        if not changed:
            raise IdentityError(nothing)
        return resolve(con, IdentityRules.of(settings), touched=[first.id, second.id],
                       take=False, now=now, reason=f"{reason} by an operator: {note}")


def split(con: duckdb.DuckDBPyConnection, settings: Settings, first: Identifier,
          second: Identifier, note: str) -> ResolveResult:
    """Retract the links that name both identifiers; their profile is recomputed."""
    return _decide_pair(
        con, settings, first, second,
        "UPDATE identity_links SET retracted_at = now(), retracted_note = ? "
        f"WHERE retracted_at IS NULL AND {_EITHER_WAY} RETURNING seq", [note],
        f"no link joins {first.label} and {second.label} directly; `clientela identity "
        f"explain {first.label} {second.label}` shows the chain, and `identity forbid` keeps "
        "them apart whatever links them",
        f"link {first.label} - {second.label} retracted", note)


def restore(con: duckdb.DuckDBPyConnection, settings: Settings, first: Identifier,
            second: Identifier, note: str) -> ResolveResult:
    """Undo `split`: the retracted links between the two identifiers join again."""
    return _decide_pair(
        con, settings, first, second,
        "UPDATE identity_links SET retracted_at = NULL, retracted_note = NULL "
        f"WHERE retracted_at IS NOT NULL AND {_EITHER_WAY} RETURNING seq", [],
        f"no retracted link joins {first.label} and {second.label}",
        f"link {first.label} - {second.label} restored", note)


def forbid(con: duckdb.DuckDBPyConnection, settings: Settings, first: Identifier,
           second: Identifier, note: str) -> ResolveResult:
    """Keep two identifiers in different profiles whatever the evidence."""
    if first.id == second.id:
        raise IdentityError("an identifier cannot be forbidden from itself")
    return _decide_pair(
        con, settings, first, second,
        "INSERT INTO identity_forbidden SELECT ?, ?, now(), ? "
        f"WHERE NOT EXISTS (SELECT 1 FROM identity_forbidden WHERE {_EITHER_WAY}) RETURNING a",
        [first.id, second.id, note],
        f"{first.label} and {second.label} are already forbidden from joining",
        f"{first.label} and {second.label} forbidden from joining", note)


def allow(con: duckdb.DuckDBPyConnection, settings: Settings, first: Identifier,
          second: Identifier, note: str) -> ResolveResult:
    """Undo `forbid`: the two identifiers may join again if the evidence says so."""
    return _decide_pair(
        con, settings, first, second,
        f"DELETE FROM identity_forbidden WHERE {_EITHER_WAY} RETURNING a", [],
        f"{first.label} and {second.label} were not forbidden",
        f"{first.label} and {second.label} allowed to join again", note)
