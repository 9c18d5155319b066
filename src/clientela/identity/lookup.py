"""Finding an identifier or a profile from what an operator types.

`email:Ana@Mail.com`, `phone:9 5555 1234`, `user_id:S01:17` (store-scoped ids), `user_id:C-17`,
`custom:loyalty_card:7001`, `cookie:...`, `client_id:42`; a bare address is an email and a bare
number a client id. Values are normalised with the instance's rules before they are looked up.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import duckdb

from clientela.identity.rules import IdentityRules


class IdentityError(Exception):
    """Nothing stored matches what was asked, or it cannot be read as an identifier."""


@dataclass(frozen=True)
class Identifier:
    id: int
    type: str
    scope: str
    value: str
    status: str
    fan_out: int
    first_seen: datetime
    client_id: int | None

    @property
    def label(self) -> str:
        scope = f"{self.scope}:" if self.scope else ""
        return f"{self.type}:{scope}{self.value}"


SELECT_IDENTIFIER = """
    SELECT i.id, i.type, i.scope, i.value, i.status, i.fan_out, i.first_seen, m.client_id
    FROM identifiers i LEFT JOIN identity_members m ON m.identifier = i.id
"""


def parse(text: str, rules: IdentityRules) -> tuple[str, str, str] | int:
    """(type, scope, normalised value), or a client id."""
    text = text.strip()
    kind, sep, rest = text.partition(":")
    if kind == "custom" and sep:
        name, sep, rest = rest.partition(":")
        kind = f"custom:{name}"
    if not sep:
        if "@" in text:
            kind, rest = "email", text
        elif text.isdigit():
            return int(text)
        else:
            raise IdentityError(f"{text!r}: write TYPE:VALUE, e.g. email:ana@mail.com, "
                               "user_id:S01:17, phone:+56955551234 or client_id:42")
    if kind == "client_id":
        if not rest.strip().isdigit():
            raise IdentityError(f"{text!r}: a client id is a number")
        return int(rest)
    scope = ""
    if kind == "user_id" and rules.store_scoped:
        scope, sep, rest = rest.partition(":")
        if not sep:
            raise IdentityError(f"{text!r}: customer ids are numbered per store on this "
                               "instance; write user_id:STORE:ID, e.g. user_id:S01:17")
    known = kind in ("user_id", "email", "email_sha256", "phone", "cookie") or (
        kind.startswith("custom:"))
    if not known:
        raise IdentityError(f"{text!r}: unknown identifier type {kind!r}")
    value = rules.normalise(kind, rest)
    if value is None:
        raise IdentityError(f"{text!r} is not a valid {kind}")
    return kind, scope.strip(), value


def find_identifier(con: duckdb.DuckDBPyConnection, rules: IdentityRules,
                    text: str) -> Identifier:
    parsed = parse(text, rules)
    if isinstance(parsed, int):
        raise IdentityError(f"{text!r} is a client id; give an identifier here")
    row = con.execute(SELECT_IDENTIFIER + " WHERE i.type = ? AND i.scope = ? AND i.value = ?",
                      list(parsed)).fetchone()
    if row is None:
        if rules.is_blocked(parsed[2]):
            raise IdentityError(f"{text!r} is a blocked value: it never links and is not kept")
        raise IdentityError(f"no identifier {text!r} is known")
    return Identifier(*row)


def resolve_client(con: duckdb.DuckDBPyConnection, client_id: int) -> int:
    """The profile a client id names today, following aliases of merged profiles."""
    if con.execute("SELECT 1 FROM profiles WHERE client_id = ?", [client_id]).fetchone():
        return client_id
    alias = con.execute("SELECT client_id FROM profile_aliases WHERE alias = ?",
                        [client_id]).fetchone()
    if alias is None:
        raise IdentityError(f"no profile has client id {client_id}")
    return int(alias[0])


def find_profile(con: duckdb.DuckDBPyConnection, rules: IdentityRules, text: str) -> int:
    """The client id of the profile an identifier or a client id (even an alias) names."""
    parsed = parse(text, rules)
    if isinstance(parsed, int):
        return resolve_client(con, parsed)
    identifier = find_identifier(con, rules, text)
    if identifier.client_id is not None:
        return identifier.client_id
    attached = con.execute("""
        SELECT DISTINCT m.client_id FROM identity_links l
        JOIN identity_members m ON m.identifier = CASE WHEN l.a = ? THEN l.b ELSE l.a END
        WHERE (l.a = ? OR l.b = ?) AND l.retracted_at IS NULL ORDER BY 1
    """, [identifier.id] * 3).fetchall()
    if len(attached) == 1 and identifier.status in ("active", "released"):
        return int(attached[0][0])
    if identifier.status not in ("active", "released"):
        raise IdentityError(f"{identifier.label} is {identifier.status} and belongs to no "
                           f"profile (it is on {len(attached)}); see `clientela identity review`")
    raise IdentityError(f"{identifier.label} is shared by {len(attached)} profiles: "
                       f"{', '.join(str(r[0]) for r in attached)}")
