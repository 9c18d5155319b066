"""Tombstones: hashes of erased identifiers, and the purge of anything that names them."""

from __future__ import annotations

from datetime import datetime

import duckdb

from clientela.identity.rules import IdentityRules
from clientela.ingest.sql import literal, scalar

TOMBSTONED = ("sha256(i.type || chr(31) || i.scope || chr(31) || i.value) "
              "IN (SELECT hash FROM tombstones)")


def purge_erased(con: duckdb.DuckDBPyConnection, rules: IdentityRules,
                 since: datetime | None = None) -> tuple[int, int]:
    """Delete every stored row (loaded after `since`) and graph entry that names a tombstoned
    identifier; (customer rows, orders) deleted."""
    if not scalar(con, "SELECT count(*) FROM tombstones"):
        return 0, 0
    recent = "" if since is None else f"AND loaded_at > {literal(since.isoformat())}::TIMESTAMPTZ"
    order_scope = "o.store_code" if rules.store_scoped else "''"
    con.execute(f"""
        CREATE OR REPLACE TEMP TABLE erased_ids AS
        SELECT i.id, i.type, i.scope, i.value FROM identifiers i WHERE {TOMBSTONED}
    """)
    hashed = ("sha256(? || chr(31) || {scope} || chr(31) || {value}) "
              "IN (SELECT hash FROM tombstones)")
    user = hashed.replace("?", "'user_id'")
    email = hashed.replace("?", "'email'").format(scope="''", value="lower(trim(c.email))")
    # A row naming an erased email is the erased person's, unless its customer id is someone
    # else's profile: then only the address goes.
    con.execute(f"""
        CREATE OR REPLACE TEMP TABLE erased_customers AS
        SELECT rowid AS row, scope_store, user_id FROM customers c
        WHERE ({user.format(scope='c.scope_store', value='trim(c.user_id)')}
           OR ({email} AND NOT EXISTS (
               SELECT 1 FROM identifiers i JOIN identity_members m ON m.identifier = i.id
               WHERE i.type = 'user_id' AND i.scope = c.scope_store
                 AND i.value = trim(c.user_id) AND NOT {TOMBSTONED})))
        {recent}
    """)
    con.execute(f"UPDATE customers c SET email = NULL WHERE {email} {recent}")
    con.execute(f"""
        CREATE OR REPLACE TEMP TABLE erased_orders AS
        SELECT store_code, order_number FROM orders o
        WHERE ({user.format(scope=order_scope, value='trim(o.user_id)')}
           OR (o.user_id, {order_scope}) IN (
               SELECT (user_id, scope_store) FROM erased_customers))
        {recent}
    """)
    customer_rows = scalar(con, "SELECT count(*) FROM erased_customers")
    orders = scalar(con, "SELECT count(*) FROM erased_orders")
    for table in ("order_line_categories", "order_lines", "order_versions", "orders"):
        con.execute(f"DELETE FROM {table} WHERE (store_code, order_number) IN "
                    "(SELECT (store_code, order_number) FROM erased_orders)")
    con.execute("""
        DELETE FROM replaced_rows WHERE (table_name = 'customers' AND row_key IN (
            SELECT concat_ws('|', scope_store, user_id) FROM erased_customers))
         OR (table_name <> 'customers'
             AND concat_ws('|', split_part(row_key, '|', 1), split_part(row_key, '|', 2)) IN (
                 SELECT concat_ws('|', store_code, order_number) FROM erased_orders))
    """)
    con.execute("DELETE FROM customers WHERE rowid IN (SELECT row FROM erased_customers)")
    con.execute(f"""
        DELETE FROM events WHERE rowid IN (
            SELECT row FROM (SELECT rowid AS row, unnest(identifiers) AS x FROM events
                             WHERE true {recent})
            WHERE sha256(x.type || chr(31) || x.scope || chr(31) || x.value)
                  IN (SELECT hash FROM tombstones))
    """)
    con.execute("""
        DELETE FROM phone_spellings WHERE e164 IN (
            SELECT value FROM erased_ids WHERE type = 'phone')
    """)
    for table, column in (("tag_events", "identifier"), ("consent_events", "identifier"),
                          ("identity_members", "identifier"), ("identity_conflicts", "kept"),
                          ("identity_conflicts", "detached"), ("identity_reviews", "identifier"),
                          ("identity_forbidden", "a"), ("identity_forbidden", "b"),
                          ("identity_links", "a"), ("identity_links", "b"),
                          ("identifiers", "id")):
        con.execute(f"DELETE FROM {table} WHERE {column} IN (SELECT id FROM erased_ids)")
    return customer_rows, orders
