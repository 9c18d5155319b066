"""Erasure: a person removed everywhere, leaving only hashes so they cannot come back.

`forget` deletes the profile's identifiers, links, customer rows, orders (with their lines,
categories and earlier versions), tags, consents, history and computed indicators, and records
a tombstone (SHA-256 of type, scope and value) per identifier. A late file or a replay naming
any of them is dropped when its evidence is taken (`tombstones.purge_erased`), so the person is
not rebuilt from it.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

import duckdb

from clientela.config.settings import Settings
from clientela.identity.resolve import resolve
from clientela.identity.rules import IdentityRules
from clientela.identity.tombstones import purge_erased
from clientela.indicators.published import erase_indicators
from clientela.ingest.sql import scalar
from clientela.stores.analytics import transaction


@dataclass(frozen=True)
class Erasure:
    client_id: int
    identifiers: int
    customer_rows: int
    orders: int


def forget(con: duckdb.DuckDBPyConnection, settings: Settings, client_id: int) -> Erasure:
    rules = IdentityRules.of(settings)
    now = datetime.now(UTC)
    with transaction(con):
        # The profile's identifiers, and those only its identifiers name (a shared email
        # stays: it is other people's too).
        con.execute("""
            CREATE OR REPLACE TEMP TABLE erased AS
            WITH members AS (SELECT identifier AS id FROM identity_members WHERE client_id = ?),
            partners AS (
                SELECT b AS id, a AS partner FROM identity_links
                UNION ALL SELECT a, b FROM identity_links
            )
            SELECT id FROM members
            UNION SELECT p.id FROM partners p
            WHERE p.id NOT IN (SELECT identifier FROM identity_members)
            GROUP BY p.id HAVING bool_and(p.partner IN (SELECT id FROM members))
        """, [client_id])
        count = scalar(con, "SELECT count(*) FROM erased")
        con.execute("""
            INSERT INTO tombstones
            SELECT DISTINCT sha256(type || chr(31) || scope || chr(31) || value), ?
            FROM identifiers WHERE id IN (SELECT id FROM erased)
        """, [now])
        neighbours = [row[0] for row in con.execute("""
            SELECT b FROM identity_links WHERE a IN (SELECT id FROM erased)
            UNION SELECT a FROM identity_links WHERE b IN (SELECT id FROM erased)
            EXCEPT SELECT id FROM erased
        """).fetchall()]
        customer_rows, orders = purge_erased(con, rules)
        con.execute("DELETE FROM profiles WHERE client_id = ?", [client_id])
        erase_indicators(con, client_id)
        con.execute("DELETE FROM profile_aliases WHERE client_id = ?", [client_id])
        con.execute("DELETE FROM profile_history WHERE client_id = ?", [client_id])
        con.execute("INSERT INTO profile_history VALUES (?, ?, 'erased', [], "
                    "'erased on request')", [client_id, now])
        resolve(con, rules, touched=neighbours, take=False, now=now,
                reason=f"profile {client_id} erased")
    return Erasure(client_id, count, customer_rows, orders)
