"""The resolved profile: identifiers, attributes, tags and consents, pooled over its identifiers.

Attributes come from every Customers row of the profile's customer ids: for each name the newest
value by event time (the row's business day), unless the instance lists sources for that
attribute (`[identity] attribute_priority`), whose values then win in the order given. Tags and
consents are stated about identifiers, so they follow them through merges and splits; a
consent's state per channel is its newest statement, and a withdrawal wins a tie.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from datetime import date, datetime

import duckdb

from clientela.identity.lookup import SELECT_IDENTIFIER, Identifier
from clientela.identity.rules import IdentityRules
from clientela.ingest.sql import literal
from clientela.schema import RESERVED_ATTRIBUTE_NAMES

STANDARD_ATTRIBUTES = (("FirstName", "first_name"), ("LastName", "last_name"), ("City", "city"),
                       ("BirthDate", "birth_date"), ("Phone", "phone"), ("Gender", "gender"))


@dataclass(frozen=True)
class Attribute:
    name: str
    value: str
    day: date
    source: str


@dataclass(frozen=True)
class Consent:
    channel: str
    granted: bool
    stated_at: datetime
    source: str
    proof: str


@dataclass(frozen=True)
class Profile:
    client_id: int
    asked_for: int | None
    """The alias asked for, when it was merged into this profile."""
    recognized: bool
    email: str | None
    identifiers: list[Identifier]
    shared: list[Identifier]
    """Identifiers its records name that are not its alone: quarantined, blocked, or emails
    when the main identifier is not the email."""
    attributes: list[Attribute]
    tags: list[str]
    consents: list[Consent]

    def to_json(self) -> dict[str, object]:
        return {
            "client_id": self.client_id,
            "alias_of_asked": self.asked_for,
            "recognized": self.recognized,
            "email": self.email,
            "identifiers": [asdict(i) | {"label": i.label} for i in self.identifiers],
            "shared": [asdict(i) | {"label": i.label} for i in self.shared],
            "attributes": {a.name: {"value": a.value, "day": a.day, "source": a.source}
                           for a in self.attributes},
            "tags": self.tags,
            "consents": {c.channel: asdict(c) for c in self.consents},
        }


def _priority_sql(rules: IdentityRules) -> str:
    """Rank of a value's source for its attribute: 0 for unlisted, higher wins."""
    if not rules.attribute_priority:
        return "0"
    cases = " ".join(
        f"WHEN {literal(name)} THEN coalesce({len(sources) + 1} - list_position("
        f"[{', '.join(literal(s) for s in sources)}], source), 0)"
        for name, sources in rules.attribute_priority.items())
    return f"CASE name {cases} ELSE 0 END"


def profile_rows(con: duckdb.DuckDBPyConnection, client_id: int | None,
                 selection: str | None = None) -> None:
    """Leave `temp.profile_rows`: the customer rows of one profile, of the profiles whose
    client ids the table `selection` holds, or of all, with their profile's `client_id`."""
    where = "" if client_id is None else f"AND m.client_id = {int(client_id)}"
    if selection is not None:
        where = f"AND m.client_id IN (SELECT client_id FROM {selection})"
    # The customer ids first: joined to a small table on its plain columns, the scan of the
    # customers skips what cannot match (the importer stores cells trimmed).
    con.execute(f"""
        CREATE OR REPLACE TEMP TABLE profile_users AS
        SELECT m.client_id, i.scope, i.value FROM identifiers i
        JOIN identity_members m ON m.identifier = i.id
        WHERE i.type = 'user_id' {where}
    """)
    con.execute("""
        CREATE OR REPLACE TEMP TABLE profile_rows AS
        SELECT u.client_id, c.* FROM customers c
        JOIN temp.profile_users u ON u.scope = c.scope_store AND u.value = c.user_id
    """)
    con.execute("DROP TABLE temp.profile_users")


def attributes_sql(rules: IdentityRules) -> str:
    """(client_id, name, value, day, source) of every attribute of the profiles in
    `profile_rows`: per name the newest value, or the value of the source ranked first."""
    standard = ", ".join(f"{{'name': {literal(name)}, 'value': {column}::VARCHAR}}"
                         for name, column in STANDARD_ATTRIBUTES)
    # A {"Key": ...} cell may still name a reserved attribute.
    reserved = ", ".join(literal(n) for n in sorted(RESERVED_ATTRIBUTE_NAMES))
    return f"""
        WITH named AS (
            SELECT client_id, a.name, a.value, batch_day, loaded_at, source_line,
                   coalesce(store_code, nullif(scope_store, ''), 'files') AS source
            FROM profile_rows, unnest([{standard}] || list_transform(map_entries(attributes),
                 lambda e: {{'name': e.key, 'value': e.value}})) AS t(a)
            WHERE a.value IS NOT NULL AND trim(a.value) <> ''
              AND lower(a.name) NOT IN ({reserved})
        )
        SELECT client_id, name, arg_max(value, key) AS value, arg_max(batch_day, key) AS day,
               arg_max(source, key) AS source
        FROM (SELECT *, ({_priority_sql(rules)}, batch_day, loaded_at, source_line) AS key
              FROM named)
        GROUP BY client_id, name
    """


def _of_members(client_id: int | None) -> str:
    """Events stated about the identifiers of one profile (or of every profile)."""
    where = "" if client_id is None else f"WHERE client_id = {int(client_id)}"
    return f"JOIN (SELECT identifier, client_id FROM identity_members {where}) m USING (identifier)"


def tags_sql(client_id: int | None) -> str:
    """(client_id, tag) of the tags a profile carries: each tag's newest statement, removal
    winning a tie."""
    return f"""
        SELECT client_id, tag FROM tag_events {_of_members(client_id)}
        GROUP BY client_id, tag HAVING arg_max(added, (stated_at, NOT added))
    """


def consents_sql(client_id: int | None) -> str:
    """(client_id, channel, granted, stated_at, source, proof): per channel the newest
    statement, withdrawal winning a tie."""
    return f"""
        SELECT client_id, channel, arg_max(granted, key) AS granted,
               arg_max(stated_at, key) AS stated_at, arg_max(source, key) AS source,
               arg_max(proof, key) AS proof
        FROM (SELECT *, (stated_at, NOT granted) AS key FROM consent_events
              {_of_members(client_id)})
        GROUP BY client_id, channel
    """


def load_profile(con: duckdb.DuckDBPyConnection, rules: IdentityRules, client_id: int,
                 asked_for: int | None = None) -> Profile:
    identifiers = [Identifier(*row) for row in con.execute(
        f"{SELECT_IDENTIFIER} WHERE m.client_id = ? ORDER BY i.id", [client_id]).fetchall()]
    recognized = con.execute("SELECT recognized FROM profiles WHERE client_id = ?",
                             [client_id]).fetchone()
    profile_rows(con, client_id)
    attributes = [Attribute(*row) for row in con.execute(
        f"SELECT name, value, day, source FROM ({attributes_sql(rules)}) ORDER BY name"
    ).fetchall()]
    ids = [i.id for i in identifiers]
    shared = [Identifier(*row) for row in con.execute(f"""
        {SELECT_IDENTIFIER}
        WHERE m.client_id IS NULL AND i.id IN (
            SELECT b FROM identity_links WHERE a IN (SELECT unnest(?::BIGINT[]))
            UNION SELECT a FROM identity_links WHERE b IN (SELECT unnest(?::BIGINT[])))
        ORDER BY i.id
    """, [ids, ids]).fetchall()]
    # The current email: the newest its customer rows give, among its own and shared ones.
    emails = [i.id for i in identifiers + shared
              if i.type == "email" and i.status in ("active", "released")]
    email = con.execute("""
        SELECT arg_max(i.value, (c.batch_day, c.loaded_at, c.source_line))
        FROM profile_rows c JOIN identifiers i ON i.type = 'email'
             AND i.value = lower(trim(c.email))
        WHERE i.id IN (SELECT unnest(?::BIGINT[]))
    """, [emails]).fetchone()
    tags = [row[0] for row in con.execute(
        f"SELECT tag FROM ({tags_sql(client_id)}) ORDER BY tag").fetchall()]
    consents = [Consent(*row) for row in con.execute(
        f"SELECT channel, granted, stated_at, source, proof FROM ({consents_sql(client_id)}) "
        "ORDER BY channel").fetchall()]
    return Profile(client_id, asked_for, bool(recognized and recognized[0]),
                   email[0] if email else None, identifiers, shared, attributes, tags,
                   consents)
