"""Why identifiers are one person: the links, with their sources, that joined them.

`explain_profile` lists a profile's identifiers and the links applied inside it, plus the
identifiers it names that do not link (quarantined, blocked) and the conflicts that kept other
identifiers out. `explain_pair` says whether two identifiers are one person and why: the chain
of links between them, or what stopped them from joining.
"""

from __future__ import annotations

from collections import deque
from dataclasses import asdict, dataclass
from datetime import datetime

import duckdb

from clientela.identity.lookup import SELECT_IDENTIFIER, Identifier


@dataclass(frozen=True)
class Link:
    seq: int
    a: str
    b: str
    rule: str
    source: str
    source_line: int | None
    observed_at: datetime
    retracted: bool

    def to_json(self) -> dict[str, object]:
        return asdict(self)


@dataclass(frozen=True)
class Conflict:
    kept: str
    detached: str
    limit_key: str
    existing: str
    incoming: str
    source: str
    source_line: int | None


@dataclass(frozen=True)
class ProfileExplanation:
    client_id: int
    recognized: bool
    identifiers: list[Identifier]
    links: list[Link]
    not_linking: list[Identifier]
    """Identifiers its records name that link nothing (quarantined, blocked, excluded)."""
    conflicts: list[Conflict]
    history: list[tuple[datetime, str, list[int], str]]

    def to_json(self) -> dict[str, object]:
        return {
            "client_id": self.client_id,
            "recognized": self.recognized,
            "identifiers": [_identifier_json(i) for i in self.identifiers],
            "links": [link.to_json() for link in self.links],
            "not_linking": [_identifier_json(i) for i in self.not_linking],
            "conflicts": [asdict(c) for c in self.conflicts],
            "history": [{"at": at, "event": event, "others": others, "reason": reason}
                        for at, event, others, reason in self.history],
        }


@dataclass(frozen=True)
class PairExplanation:
    first: Identifier
    second: Identifier
    same_person: bool
    chain: list[Link]
    """Same person: the links from the first to the second."""
    reason: str

    def to_json(self) -> dict[str, object]:
        return {"first": _identifier_json(self.first), "second": _identifier_json(self.second),
                "same_person": self.same_person, "reason": self.reason,
                "chain": [link.to_json() for link in self.chain]}


def _identifier_json(identifier: Identifier) -> dict[str, object]:
    return asdict(identifier) | {"label": identifier.label}


_LINKS = """
    SELECT l.seq, l.a, l.b, l.rule, l.source, l.source_line, l.observed_at,
           l.retracted_at IS NOT NULL
    FROM identity_links l
"""


def _identifiers(con: duckdb.DuckDBPyConnection, where: str,
                 params: list[object]) -> list[Identifier]:
    rows = con.execute(f"{SELECT_IDENTIFIER} WHERE {where} ORDER BY i.id", params).fetchall()
    return [Identifier(*row) for row in rows]


def _links(con: duckdb.DuckDBPyConnection, where: str, params: list[object],
           labels: dict[int, str]) -> list[Link]:
    rows = con.execute(f"{_LINKS} WHERE {where} ORDER BY l.seq", params).fetchall()
    missing = {r[1] for r in rows} | {r[2] for r in rows}
    missing -= labels.keys()
    if missing:
        for identifier in _identifiers(con, "i.id IN (SELECT unnest(?::BIGINT[]))",
                                       [sorted(missing)]):
            labels[identifier.id] = identifier.label
    return [Link(seq, labels[a], labels[b], rule, source, line, observed, retracted)
            for seq, a, b, rule, source, line, observed, retracted in rows]


def explain_profile(con: duckdb.DuckDBPyConnection, client_id: int) -> ProfileExplanation:
    members = _identifiers(con, "m.client_id = ?", [client_id])
    labels = {i.id: i.label for i in members}
    ids = sorted(labels)
    links = _links(con, "l.a IN (SELECT unnest(?::BIGINT[])) AND l.b IN "
                   "(SELECT unnest(?::BIGINT[])) AND l.retracted_at IS NULL "
                   "AND NOT EXISTS (SELECT 1 FROM identity_conflicts c "
                   "WHERE c.link_seq = l.seq)", [ids, ids], labels)
    not_linking = _identifiers(con, """
        i.status NOT IN ('active', 'released') AND i.id IN (
            SELECT b FROM identity_links WHERE a IN (SELECT unnest(?::BIGINT[]))
            UNION SELECT a FROM identity_links WHERE b IN (SELECT unnest(?::BIGINT[])))
    """, [ids, ids])
    conflict_rows = con.execute("""
        SELECT c.kept, c.detached, c.limit_key, c.existing, c.incoming, l.source, l.source_line
        FROM identity_conflicts c JOIN identity_links l ON l.seq = c.link_seq
        WHERE c.kept IN (SELECT unnest(?::BIGINT[])) OR c.detached IN (SELECT unnest(?::BIGINT[]))
        ORDER BY c.link_seq
    """, [ids, ids]).fetchall()
    others = {v for row in conflict_rows for v in row[:5] if isinstance(v, int)} - labels.keys()
    for identifier in _identifiers(con, "i.id IN (SELECT unnest(?::BIGINT[]))",
                                   [sorted(others)]):
        labels[identifier.id] = identifier.label
    conflicts = [Conflict(labels[k], labels[d], key, labels[e], labels[i], source, line)
                 for k, d, key, e, i, source, line in conflict_rows]
    profile = con.execute("SELECT recognized FROM profiles WHERE client_id = ?",
                          [client_id]).fetchone()
    history = [(at, event, list(others), reason) for at, event, others, reason in con.execute(
        "SELECT happened_at, event, others, reason FROM profile_history WHERE client_id = ? "
        "ORDER BY happened_at, event", [client_id]).fetchall()]
    return ProfileExplanation(client_id, bool(profile and profile[0]), members, links,
                              not_linking, conflicts, history)


def explain_pair(con: duckdb.DuckDBPyConnection, first: Identifier,
                 second: Identifier) -> PairExplanation:
    if first.id == second.id:
        return PairExplanation(first, second, True, [], "the same identifier")
    if first.client_id is not None and first.client_id == second.client_id:
        explanation = explain_profile(con, first.client_id)
        chain = _chain(explanation.links, first.label, second.label)
        return PairExplanation(first, second, True, chain,
                               f"profile {first.client_id}, joined by "
                               f"{len(chain)} link(s)")
    return PairExplanation(first, second, False, [], _why_apart(con, first, second))


def _chain(links: list[Link], start: str, goal: str) -> list[Link]:
    """The shortest path of applied links from `start` to `goal`."""
    adjacent: dict[str, list[Link]] = {}
    for link in links:
        adjacent.setdefault(link.a, []).append(link)
        adjacent.setdefault(link.b, []).append(link)
    came: dict[str, Link | None] = {start: None}
    queue = deque([start])
    while queue:
        node = queue.popleft()
        if node == goal:
            break
        for link in adjacent.get(node, []):
            other = link.b if link.a == node else link.a
            if other not in came:
                came[other] = link
                queue.append(other)
    path: list[Link] = []
    node = goal
    while (step := came.get(node)) is not None:
        path.append(step)
        node = step.a if step.b == node else step.b
    return path[::-1]


def _why_apart(con: duckdb.DuckDBPyConnection, first: Identifier, second: Identifier) -> str:
    for identifier in (first, second):
        if identifier.status not in ("active", "released"):
            return (f"{identifier.label} is {identifier.status}"
                    f"{f' (on {identifier.fan_out} customer ids)' if identifier.fan_out else ''}"
                    " and links nothing")
    forbidden = con.execute("""
        SELECT note FROM identity_forbidden f
        JOIN identity_members ma ON ma.identifier = f.a JOIN identity_members mb
          ON mb.identifier = f.b
        WHERE (ma.client_id, mb.client_id) IN ((?, ?), (?, ?))
    """, [first.client_id, second.client_id, second.client_id, first.client_id]).fetchone()
    if forbidden is not None:
        return f"an operator forbade their profiles from joining ({forbidden[0] or 'no note'})"
    conflict = con.execute("""
        SELECT c.limit_key, l.source, l.source_line FROM identity_conflicts c
        JOIN identity_links l ON l.seq = c.link_seq
        JOIN identity_members mk ON mk.identifier = c.kept
        JOIN identity_members md ON md.identifier = c.detached
        WHERE (mk.client_id, md.client_id) IN ((?, ?), (?, ?))
        ORDER BY c.link_seq LIMIT 1
    """, [first.client_id, second.client_id, second.client_id, first.client_id]).fetchone()
    if conflict is not None:
        key, source, line = conflict
        return (f"two profiles: joining them would put two {key} values in one profile "
                f"(conflict at {source}:{line})")
    return "two profiles: no evidence links them"
