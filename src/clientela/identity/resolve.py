"""Resolution: from evidence to profiles, incrementally or in full, with stable client ids.

Incremental resolution recomputes only the components touched by new links, new identifiers or
an operator's decision; `full=True` recomputes every component. Both run the same code on a set
of identifiers closed under the links that join, so they give the same profiles.

Client ids are stable: the identifier seen first in an old profile carries its client id into
whatever profile it lands in. A profile that inherits several keeps the oldest (the others
become aliases); a profile that inherits none gets a new id.
"""

from __future__ import annotations

import time
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import duckdb
import numpy as np
import numpy.typing as npt
import pyarrow as pa

from clientela.config.settings import Settings
from clientela.identity import components
from clientela.identity.evidence import EvidenceResult, take_evidence
from clientela.identity.rules import SOFT_TYPES, IdentityRules
from clientela.ingest.sql import literal, scalar
from clientela.stores.analytics import registered, transaction

Ids = npt.NDArray[np.int64]
LIMIT_KEY_SQL = ("CASE WHEN i.type = 'user_id' THEN 'user_id' || CASE WHEN i.scope <> '' "
                 "THEN ':' || i.scope ELSE '' END WHEN starts_with(i.type, 'custom:') "
                 "THEN i.type END")
"""Identifiers with one limit key (one store's customer ids, one custom id type) cannot share a
profile."""
TOUCHED = "temp.identity_touched"
NODES = "temp.identity_nodes"
CROSSING = "temp.identity_crossing"
"""(id, near): the links from the node set to an identifier `id` maybe outside it."""


@dataclass(frozen=True)
class ResolveResult:
    evidence: EvidenceResult | None
    quarantined: int
    identifiers: int
    """Identifiers whose profile was recomputed."""
    replayed: int
    profiles: int
    created: int
    merged: int
    split: int
    conflicts: int
    seconds: float

    def to_json(self) -> dict[str, object]:
        return {key: value for key, value in vars(self).items() if key != "evidence"} | {
            "evidence": None if self.evidence is None else {
                k: v for k, v in vars(self.evidence).items() if k != "until"}}


def run_resolution(con: duckdb.DuckDBPyConnection, settings: Settings, *, reason: str,
                   full: bool = False, touched: Iterable[int] = (),
                   take: bool = True) -> ResolveResult:
    """Resolve in one transaction: interrupted, the store is left as it was."""
    with transaction(con):
        return resolve(con, IdentityRules.of(settings), reason=reason, full=full,
                       touched=touched, take=take)


def resolve(con: duckdb.DuckDBPyConnection, rules: IdentityRules, *, reason: str,
            full: bool = False, touched: Iterable[int] = (), take: bool = True,
            now: datetime | None = None) -> ResolveResult:
    """Take new evidence and recompute the touched profiles; the caller holds a transaction."""
    started = time.perf_counter()
    now = now or datetime.now(UTC)
    # Evidence taken since the last resolution (imports take it day by day) is new.
    max_id = scalar(con, "SELECT resolved_identifier FROM identity_state")
    max_seq = scalar(con, "SELECT resolved_link FROM identity_state")
    evidence = take_evidence(con, rules, now) if take else None
    con.execute(f"CREATE OR REPLACE TEMP TABLE {TOUCHED} (id BIGINT)")
    extra = sorted(set(touched))
    if extra:
        con.execute(f"INSERT INTO {TOUCHED} SELECT unnest(?::BIGINT[])", [extra])
    con.execute(f"""
        INSERT INTO {TOUCHED}
        SELECT id FROM identifiers WHERE id > {max_id}
        UNION SELECT a FROM identity_links WHERE seq > {max_seq}
        UNION SELECT b FROM identity_links WHERE seq > {max_seq}
    """)
    quarantined = _quarantine(con, rules, now, everything=full)
    _collect_nodes(con, rules, full=full)
    graph, recognized = _load_graph(con, rules, full=full)
    resolution = components.resolve(graph)
    counts = _assign_clients(con, reason, now, graph, resolution, recognized, full=full)
    _write_conflicts(con, resolution.conflicts, full=full)
    con.execute("UPDATE identity_state SET resolved_at = ?, "
                "resolved_identifier = (SELECT coalesce(max(id), 0) FROM identifiers), "
                "resolved_link = (SELECT coalesce(max(seq), 0) FROM identity_links)", [now])
    return ResolveResult(
        evidence=evidence, quarantined=quarantined, identifiers=len(graph.ids),
        replayed=resolution.replayed, profiles=scalar(con, "SELECT count(*) FROM profiles"),
        created=counts[0], merged=counts[1], split=counts[2],
        conflicts=len(resolution.conflicts), seconds=time.perf_counter() - started)


def _quarantine(con: duckdb.DuckDBPyConnection, rules: IdentityRules, now: datetime, *,
                everything: bool) -> int:
    """Count the customer ids each email, phone or cookie is linked to; quarantine the shared.

    With `everything` (a full resolution) the statuses set by rules are worked out again from
    the current configuration, as if every quarantined or excluded identifier were active:
    blocked values are excluded, shared ones quarantined; an operator's `release` or `block`
    stays. Only statuses that change are written."""
    soft = ", ".join(literal(t) for t in SOFT_TYPES)
    if not (everything and _fan_out_of_all(con)):
        scope = "" if everything else f"AND l.b IN (SELECT id FROM {TOUCHED})"
        # Per identifier: customer ids in all, and the most of them in one store.
        con.execute(f"""
            CREATE OR REPLACE TEMP TABLE identity_fan_out AS
            SELECT id, sum(ids)::INTEGER AS fan_out, max(ids) AS most_in_one_scope
            FROM (SELECT l.b AS id, a.scope, count(DISTINCT l.a) AS ids
                  FROM identity_links l JOIN identifiers a ON a.id = l.a
                  WHERE l.retracted_at IS NULL AND a.type = 'user_id' {scope}
                  GROUP BY l.b, a.scope)
            GROUP BY id
        """)
    # An email's hash is as shared as the email.
    con.execute("""
        INSERT INTO identity_fan_out
        SELECT l.b, f.fan_out, f.most_in_one_scope FROM identity_links l
        JOIN identity_fan_out f ON f.id = l.a
        WHERE l.rule = 'email_hash' AND l.retracted_at IS NULL
    """)
    if not (everything and _store_fan_out_of_all(con)):
        con.execute(f"""
            UPDATE identifiers SET fan_out = f.fan_out
            FROM (SELECT id, max(fan_out) AS fan_out FROM identity_fan_out GROUP BY id) f
            WHERE identifiers.id = f.id AND identifiers.type IN ({soft})
              AND identifiers.fan_out <> f.fan_out
        """)
    # What makes an identifier of a soft type shared: each condition on its own.
    sharing = [f"fan_out > {rules.shared_fan_out}"]
    if rules.quarantine_on_conflict:
        sharing.append("id IN (SELECT id FROM identity_fan_out WHERE most_in_one_scope > 1)")
    shared = f"type IN ({soft}) AND ({' OR '.join(sharing)})"
    reason = (f"CASE WHEN {sharing[0]} THEN 'linked to more than "
              f"{rules.shared_fan_out} customer ids' ELSE 'linked to two customer ids of one "
              "store' END")
    if everything:
        # Statuses set by rules, from scratch: what would change, and every shared one.
        ruled = (f"CASE WHEN {rules.blocked_sql('value')} THEN 'excluded' "
                 f"WHEN {shared} THEN 'quarantined' ELSE 'active' END")
        con.execute(f"""
            CREATE OR REPLACE TEMP TABLE identity_statuses AS
            SELECT * FROM (
                SELECT id, status AS was, {ruled} AS status FROM identifiers
                WHERE status IN ('active', 'quarantined', 'excluded'))
            WHERE was <> status OR status = 'quarantined'
        """)
        con.execute("""
            UPDATE identifiers SET status = s.status FROM temp.identity_statuses s
            WHERE identifiers.id = s.id AND s.was <> s.status
        """)
        newly = [row[0] for row in con.execute(
            "SELECT id FROM temp.identity_statuses WHERE status = 'quarantined' ORDER BY id"
        ).fetchall()]
    else:
        # One select per condition, not one with an OR: the OR made a join with the whole
        # table (60 ms at 3M identifiers against 8).
        newly = [row[0] for row in con.execute(" UNION ".join(
            f"SELECT id FROM identifiers WHERE status = 'active' AND type IN ({soft}) "
            f"AND {condition}" for condition in sharing) + " ORDER BY id").fetchall()]
        if newly:
            con.execute("UPDATE identifiers SET status = 'quarantined' "
                        "WHERE id IN (SELECT unnest(?::BIGINT[]))", [newly])
    if newly:
        # A rebuild quarantines again what already was: the review log says it once.
        con.execute(f"""
            INSERT INTO identity_reviews SELECT id, 'quarantined', fan_out, ?, {reason}
            FROM identifiers WHERE id IN (SELECT unnest(?::BIGINT[])) AND id NOT IN (
                SELECT identifier FROM identity_reviews GROUP BY identifier
                HAVING arg_max(action, decided_at) = 'quarantined')
        """, [now, newly])
        con.execute(f"INSERT INTO {TOUCHED} SELECT unnest(?::BIGINT[])", [newly])
    changed = newly if not everything else [row[0] for row in con.execute(
        "SELECT id FROM temp.identity_statuses WHERE status = 'quarantined' "
        "AND was <> 'quarantined'").fetchall()]
    return _count_shared(con, changed)


def _count_shared(con: duckdb.DuckDBPyConnection, ids: list[int]) -> int:
    """Shared identifiers to report: an address and its hash are one."""
    row = con.execute("""
        SELECT count(*) FROM (SELECT unnest(?::BIGINT[]) AS id) c
        WHERE NOT EXISTS (SELECT 1 FROM identity_links l
                          WHERE l.b = c.id AND l.rule = 'email_hash')
    """, [ids]).fetchone()
    return int(row[0]) if row else 0


def _fan_out_of_all(con: duckdb.DuckDBPyConnection) -> bool:
    """identity_fan_out (as `_quarantine` makes it) for every identifier, worked out on arrays:
    one read of the links instead of a join and three groupings. False (nothing done) when
    the ids are too large to pack (b, a, scope) in one integer."""
    users = con.execute("""
        SELECT a.id, s.code FROM identifiers a
        JOIN (SELECT scope, row_number() OVER (ORDER BY scope) AS code
              FROM (SELECT DISTINCT scope FROM identifiers WHERE type = 'user_id')) s
          USING (scope)
        WHERE a.type = 'user_id'
    """).fetchnumpy()
    links = con.execute("SELECT a, b FROM identity_links WHERE retracted_at IS NULL"
                        ).fetchnumpy()
    user_ids = np.asarray(users["id"], dtype=np.int64)
    a = np.asarray(links["a"], dtype=np.int64)
    b = np.asarray(links["b"], dtype=np.int64)
    top = 1 + max((int(x.max()) for x in (user_ids, a, b) if len(x)), default=0)
    scopes = 1 + (int(np.max(users["code"])) if len(user_ids) else 0)
    if min((int(x.min()) for x in (user_ids, a, b) if len(x)), default=0) < 0 \
            or top * top * scopes >= 2**62:
        return False
    scope_of = np.zeros(top, dtype=np.int64)
    scope_of[user_ids] = np.asarray(users["code"], dtype=np.int64)
    code = scope_of[a]
    from_user = code > 0
    # Distinct (b, a) pairs, with a's store; then customer ids per (b, store); then per b.
    pairs = _distinct((b[from_user] * top + a[from_user]) * scopes + code[from_user])
    per_store = np.sort(pairs // (top * scopes) * scopes + pairs % scopes)
    starts = _run_starts(per_store)
    ids = np.diff(np.append(starts, len(per_store)))
    owner = per_store[starts] // scopes
    first = _run_starts(owner)
    _store_temp(con, "identity_fan_out", {
        "id": owner[first],
        "fan_out": np.add.reduceat(ids, first).astype(np.int32) if len(first) else
        np.zeros(0, dtype=np.int32),
        "most_in_one_scope": np.maximum.reduceat(ids, first) if len(first) else
        np.zeros(0, dtype=np.int64)})
    return True


def _store_fan_out_of_all(con: duckdb.DuckDBPyConnection) -> bool:
    """Write each email's, phone's or cookie's fan-out where it changed, comparing on arrays
    instead of joining every identifier; False (nothing done) for ids too large."""
    soft = ", ".join(literal(t) for t in SOFT_TYPES)
    found = con.execute("SELECT id, fan_out FROM temp.identity_fan_out").fetchnumpy()
    stored = con.execute(f"SELECT id, fan_out FROM identifiers WHERE type IN ({soft})"
                         ).fetchnumpy()
    ids = np.asarray(found["id"], dtype=np.int64)
    soft_ids = np.asarray(stored["id"], dtype=np.int64)
    top = 1 + max((int(x.max()) for x in (ids, soft_ids) if len(x)), default=0)
    if min((int(x.min()) for x in (ids, soft_ids) if len(x)), default=0) < 0 \
            or top > 4 * (len(ids) + len(soft_ids)) + 1024:
        return False
    most = np.full(top, -1, dtype=np.int64)
    np.maximum.at(most, ids, np.asarray(found["fan_out"], dtype=np.int64))
    new = most[soft_ids]
    changed = (new >= 0) & (new != np.asarray(stored["fan_out"], dtype=np.int64))
    if changed.any():
        _store_temp(con, "identity_fan_out_changed", {
            "id": soft_ids[changed], "fan_out": new[changed].astype(np.int32)})
        con.execute("""
            UPDATE identifiers SET fan_out = c.fan_out FROM temp.identity_fan_out_changed c
            WHERE identifiers.id = c.id
        """)
    return True


def _linking_sql(rules: IdentityRules, alias: str = "i") -> str:
    """A condition on identifiers `alias`: the identifier takes part in profiles."""
    joining = ("" if rules.joining_emails
               else f"AND {alias}.type NOT IN ('email', 'email_sha256')")
    return f"{alias}.status IN ('active', 'released') {joining}"


def _collect_nodes(con: duckdb.DuckDBPyConnection, rules: IdentityRules, *, full: bool) -> None:
    """Every identifier whose profile may change: the touched ones and the members of their
    old components, closed under the links that join (active links between identifiers that
    link). Outside that set every component is the same as before, so its profiles are too;
    a link to a quarantined or blocked identifier joins nothing and is not followed."""
    if full:
        con.execute(f"CREATE OR REPLACE TEMP TABLE {NODES} AS SELECT id FROM identifiers")
        return
    con.execute(f"""
        CREATE OR REPLACE TEMP TABLE {NODES} AS
        SELECT id FROM {TOUCHED}
        UNION SELECT identifier FROM identity_members WHERE component IN (
            SELECT component FROM identity_members WHERE identifier IN (SELECT id FROM {TOUCHED}))
    """)
    # Both ends are checked on the few links that touch the set, looked up by id (identifiers
    # are stored in id order), not against every identifier that does not link.
    linking = f"{_linking_sql(rules, 'far')} AND {_linking_sql(rules, 'near')}"
    while True:
        # A joining link leaving the set: its far end's component must be recomputed too. The
        # links first, in a table of their own: the planner then knows they are few (often
        # none, for a new customer) and does not hash every identifier to join them (0.14 s).
        con.execute(f"""
            CREATE OR REPLACE TEMP TABLE {CROSSING} AS
            SELECT b AS id, a AS near FROM identity_links
            WHERE retracted_at IS NULL AND a IN (SELECT id FROM {NODES})
            UNION ALL SELECT a, b FROM identity_links
            WHERE retracted_at IS NULL AND b IN (SELECT id FROM {NODES})
        """)
        added = con.execute(f"""
            INSERT INTO {NODES}
            WITH outside AS (
                SELECT c.id FROM {CROSSING} c
                JOIN identifiers far ON far.id = c.id JOIN identifiers near ON near.id = c.near
                WHERE c.id NOT IN (SELECT id FROM {NODES}) AND {linking}
            )
            SELECT id FROM outside
            UNION SELECT identifier FROM identity_members WHERE component IN (
                SELECT component FROM identity_members WHERE identifier IN (SELECT id FROM outside))
            EXCEPT SELECT id FROM {NODES}
        """).fetchone()
        if not added or not added[0]:
            return


def _load_graph(con: duckdb.DuckDBPyConnection, rules: IdentityRules, *,
                full: bool) -> tuple[components.Graph, npt.NDArray[np.bool_]]:
    """The graph of the nodes that link, and which of them are of the main type."""
    among = "" if full else f"AND i.id IN (SELECT id FROM {NODES})"  # full: every identifier
    linking = f"{_linking_sql(rules)} {among}"
    # Limit keys are worked out once per (type, scope), not once per identifier.
    con.execute(f"""
        CREATE OR REPLACE TEMP TABLE identity_limit_keys AS
        SELECT i.type, i.scope, {LIMIT_KEY_SQL} AS limit_key
        FROM (SELECT DISTINCT i.type, i.scope FROM identifiers i WHERE {linking}) i
    """)
    names = [row[0] for row in con.execute(
        "SELECT DISTINCT limit_key FROM temp.identity_limit_keys WHERE limit_key IS NOT NULL "
        "ORDER BY 1").fetchall()]
    con.execute(f"""
        CREATE OR REPLACE TEMP TABLE identity_linking AS
        SELECT i.id, coalesce(list_position({_list(names)}, k.limit_key) - 1,
                              {components.NO_LIMIT})::INTEGER AS code,
               {_main_type_sql(rules)} AS main
        FROM identifiers i JOIN temp.identity_limit_keys k USING (type, scope)
        WHERE {linking}
    """)
    nodes = con.execute("SELECT id, code, main FROM temp.identity_linking ORDER BY id"
                        ).fetchnumpy()
    if full:
        # Links join identifiers; the ones that do not link are few (quarantined, blocked).
        con.execute(f"""
            CREATE OR REPLACE TEMP TABLE identity_not_linking AS
            SELECT i.id FROM identifiers i WHERE NOT ({linking})
        """)
        ends = ("a NOT IN (SELECT id FROM temp.identity_not_linking) "
                "AND b NOT IN (SELECT id FROM temp.identity_not_linking)")
    else:
        ends = ("a IN (SELECT id FROM temp.identity_linking) "
                "AND b IN (SELECT id FROM temp.identity_linking)")
    links = con.execute(f"""
        SELECT seq, a, b FROM identity_links
        WHERE retracted_at IS NULL AND {ends}
        ORDER BY seq
    """).fetchnumpy()
    forbidden = con.execute("""
        SELECT a, b FROM identity_forbidden
        WHERE a IN (SELECT id FROM temp.identity_linking)
          AND b IN (SELECT id FROM temp.identity_linking)
    """).fetchall()
    return components.Graph(
        ids=np.asarray(nodes["id"], dtype=np.int64),
        limit=np.asarray(nodes["code"], dtype=np.int32), limit_names=names,
        seq=np.asarray(links["seq"], dtype=np.int64), a=np.asarray(links["a"], dtype=np.int64),
        b=np.asarray(links["b"], dtype=np.int64),
        forbidden=[(int(a), int(b)) for a, b in forbidden],
    ), np.asarray(nodes["main"], dtype=bool)


def _list(values: list[str]) -> str:
    return "[" + ", ".join(literal(v) for v in values) + "]::VARCHAR[]"


def _main_type_sql(rules: IdentityRules) -> str:
    """An identifier of the main type: a profile holding one is recognized."""
    if rules.main == "email":
        return "i.type IN ('email', 'email_sha256')"
    return f"i.type = {literal(rules.main)}"


def _assign_clients(con: duckdb.DuckDBPyConnection, reason: str, now: datetime,
                    graph: components.Graph, resolution: components.Resolution,
                    recognized: npt.NDArray[np.bool_], *, full: bool) -> tuple[int, int, int]:
    """Give each new profile its client id; record merges, splits and creations.

    The profiles are worked out on the arrays of the resolution (one entry per node, in
    identifier order); only what is stored goes back to the store."""
    # Full: every identifier is a node, so every member is an old one.
    among = "" if full else f"WHERE identifier IN (SELECT id FROM {NODES})"
    old = con.execute(f"SELECT identifier, component, client_id FROM identity_members {among}"
                      ).fetchnumpy()
    old_ids = np.asarray(old["identifier"], dtype=np.int64)
    old_clients = np.asarray(old["client_id"], dtype=np.int64)
    n = len(graph.ids)
    # Profiles are numbered 0.. in label order (a label is the smallest id of its profile).
    find = components.locator(graph.ids)
    label_at = find(resolution.profile)
    is_label = np.zeros(n, dtype=bool)
    is_label[label_at] = True
    node_label = (np.cumsum(is_label) - 1)[label_at]
    labels = graph.ids[is_label]
    # The old profile of each node that had one (an identifier is in one profile at most).
    at = find(old_ids)
    had = np.zeros(n, dtype=bool)
    had[at[at >= 0]] = True
    was = np.zeros(n, dtype=np.int64)
    was[at[at >= 0]] = old_clients[at >= 0]
    was_in = np.zeros(n, dtype=np.int64)
    was_in[at[at >= 0]] = np.asarray(old["component"], dtype=np.int64)[at >= 0]
    # Each old profile's heir: the new profile holding its first-seen identifier that still
    # links (nodes are in identifier order), in client id order.
    heir_client, heir_node = _first_occurrences(was, had)
    heir_label = node_label[heir_node]
    # A profile inheriting client ids keeps the oldest; one inheriting none gets a new id, in
    # label order.
    heirs = np.bincount(heir_label, minlength=len(labels))
    oldest = components.first_index(heir_label, len(labels))
    client = np.zeros(len(labels), dtype=np.int64)
    client[heirs > 0] = heir_client[oldest[heirs > 0]]
    is_new = heirs == 0
    last = scalar(con, "SELECT last_client_id FROM identity_state")
    client[is_new] = last + 1 + np.arange(np.count_nonzero(is_new), dtype=np.int64)
    con.execute("UPDATE identity_state SET last_client_id = greatest(last_client_id, ?)",
                [int(client.max()) if len(client) else 0])
    # The old profiles a new profile takes identifiers from (its parents, when it is new).
    parent = is_new[node_label] & had
    parents = _distinct_pairs(node_label[parent], was[parent])
    merging = heirs[heir_label] > 1
    old_profiles = _distinct(old_clients)
    tables = {
        "identity_heirs": {"client_id": heir_client},
        "identity_merges": {"label": labels[heir_label[merging]],
                            "client_id": heir_client[merging]},
        "identity_parents": {"label": labels[parents[0]], "client_id": parents[1]},
        "identity_changed": {"label": labels[is_new | (heirs > 1)],
                             "client_id": client[is_new | (heirs > 1)],
                             "heirs": heirs[is_new | (heirs > 1)]},
        "identity_old_clients": {"client_id": old_profiles},
        "identity_dissolved": {"client_id": old_profiles[~_sorted_in(old_profiles, heir_client)]},
    }
    for name, columns in tables.items():
        _store_temp(con, name, columns)
    # The profiles with a history: merges (heirs oldest first) and new profiles.
    con.execute("""
        CREATE OR REPLACE TEMP TABLE identity_labels AS
        SELECT c.label, c.client_id, coalesce(m.heirs, []) AS heirs,
               coalesce(p.parents, []) AS parents, c.heirs = 0 AS is_new
        FROM temp.identity_changed c
        LEFT JOIN (SELECT label, list(client_id ORDER BY client_id) AS heirs
                   FROM temp.identity_merges GROUP BY label) m USING (label)
        LEFT JOIN (SELECT label, list(client_id ORDER BY client_id) AS parents
                   FROM temp.identity_parents GROUP BY label) p USING (label)
    """)
    history = [
        # Several old profiles in one new profile: merged into the oldest.
        ("merged", "heirs[2:]", "len(heirs) > 1"),
        # New identifiers, or a part split off old profiles (`others` names them).
        ("created", "parents", "is_new"),
    ]
    for event, others, condition in history:
        con.execute(f"""
            INSERT INTO profile_history
            SELECT client_id, ?, ?, {others}, ? FROM temp.identity_labels WHERE {condition}
        """, [now, event, reason])
    # Old profiles that lost part of their identifiers to new profiles: split.
    con.execute("""
        INSERT INTO profile_history
        SELECT p.parent, ?, 'split', list(l.client_id ORDER BY l.client_id), ?
        FROM (SELECT client_id, unnest(parents) AS parent FROM temp.identity_labels
              WHERE is_new AND len(parents) > 0) l
        JOIN (SELECT client_id AS parent FROM temp.identity_heirs) p USING (parent)
        GROUP BY p.parent
    """, [now, reason])
    con.execute("""
        INSERT INTO profile_history
        SELECT client_id, ?, 'dissolved', [], ? FROM temp.identity_dissolved
    """, [now, reason])
    # Aliases: merged-away ids, and ids already pointing at them, resolve to the survivor.
    con.execute("""
        CREATE OR REPLACE TEMP TABLE identity_merged AS
        SELECT unnest(heirs[2:]) AS alias, client_id FROM temp.identity_labels WHERE len(heirs) > 1
    """)
    con.execute("""
        UPDATE profile_aliases SET client_id = m.client_id
        FROM temp.identity_merged m WHERE profile_aliases.client_id = m.alias
    """)
    con.execute("INSERT INTO profile_aliases SELECT alias, client_id, ? "
                "FROM temp.identity_merged", [now])
    # The old members are replaced by the new ones; rows that would be written back as they
    # are stay untouched (most of them, in a rebuild or on a quiet day).
    node_client = client[node_label]
    same = had & (was == node_client) & (was_in == resolution.component)
    stays = np.zeros(len(old_ids), dtype=bool)
    stays[at >= 0] = same[at[at >= 0]]
    if not stays.all():
        _store_temp(con, "identity_gone", {"identifier": old_ids[~stays]})
        con.execute("DELETE FROM identity_members "
                    "WHERE identifier IN (SELECT identifier FROM temp.identity_gone)")
    if not same.all():
        with registered(con, "identity_arrays", {
                "identifier": graph.ids[~same], "component": resolution.component[~same],
                "client_id": node_client[~same]}):
            con.execute("INSERT INTO identity_members SELECT * FROM identity_arrays")
    _store_temp(con, "identity_new_profiles", {
        "client_id": client,
        "recognized": np.bincount(node_label, weights=recognized,
                                  minlength=len(labels)) > 0,
        "identifiers": np.bincount(node_label, minlength=len(labels)).astype(np.int32)})
    con.execute("""
        CREATE OR REPLACE TEMP TABLE identity_created AS
        SELECT client_id, created_at FROM profiles
        WHERE client_id IN (SELECT client_id FROM temp.identity_old_clients)
    """)
    con.execute("DELETE FROM profiles WHERE client_id IN "
                "(SELECT client_id FROM temp.identity_old_clients)")
    con.execute("""
        INSERT INTO profiles
        SELECT p.client_id, coalesce(c.created_at, ?), p.recognized, p.identifiers
        FROM temp.identity_new_profiles p LEFT JOIN temp.identity_created c USING (client_id)
    """, [now])
    return (int(np.count_nonzero(is_new)), int((heirs[heirs > 1] - 1).sum()),
            len(_distinct(parents[0])))


def _run_starts(values: Ids) -> Ids:
    """Where each run of equal values starts in `values` (sorted)."""
    starts = np.ones(len(values), dtype=bool)
    starts[1:] = values[1:] != values[:-1]
    return np.flatnonzero(starts)


def _distinct(values: Ids) -> Ids:
    """The distinct values, sorted (np.unique hashes, much slower on millions)."""
    values = np.sort(values)
    keep = np.ones(len(values), dtype=bool)
    keep[1:] = values[1:] != values[:-1]
    return values[keep]


def _sorted_in(values: Ids, within: Ids) -> npt.NDArray[np.bool_]:
    """Which of `values` are in `within` (sorted)."""
    if not len(within):
        return np.zeros(len(values), dtype=bool)
    at = np.minimum(np.searchsorted(within, values), len(within) - 1)
    return np.asarray(within[at] == values)


def _first_occurrences(values: Ids, where: npt.NDArray[np.bool_]) -> tuple[Ids, Ids]:
    """The distinct values at the positions `where` (sorted), and where each first occurs."""
    at = np.flatnonzero(where)
    chosen = values[at]
    if len(chosen) and chosen.min() >= 0 and chosen.max() < 4 * len(chosen) + 1024:
        first = components.first_index(chosen, int(chosen.max()) + 1)
        present = np.flatnonzero(first < len(chosen))
        return present.astype(np.int64), at[first[present]]
    distinct, first = np.unique(chosen, return_index=True)
    return distinct, at[first]


def _distinct_pairs(x: Ids, y: Ids) -> tuple[Ids, Ids]:
    """The distinct (x, y) pairs, in (x, y) order."""
    order = np.lexsort((y, x))
    x, y = x[order], y[order]
    first = np.ones(len(x), dtype=bool)
    first[1:] = (x[1:] != x[:-1]) | (y[1:] != y[:-1])
    return x[first], y[first]


def _store_temp(con: duckdb.DuckDBPyConnection, name: str,
                columns: dict[str, npt.NDArray[Any]]) -> None:
    """A temp table holding `columns`."""
    with registered(con, "identity_arrays", columns):
        con.execute(f"CREATE OR REPLACE TEMP TABLE {name} AS SELECT * FROM identity_arrays")


def _write_conflicts(con: duckdb.DuckDBPyConnection, conflicts: list[components.Conflict], *,
                     full: bool) -> None:
    con.execute("DELETE FROM identity_conflicts" + ("" if full else (
        f" WHERE kept IN (SELECT id FROM {NODES}) OR detached IN (SELECT id FROM {NODES})")))
    if conflicts:
        with registered(con, "identity_new_conflicts", {
                "link_seq": pa.array([c.seq for c in conflicts], pa.int64()),
                "kept": pa.array([c.kept for c in conflicts], pa.int64()),
                "detached": pa.array([c.detached for c in conflicts], pa.int64()),
                "limit_key": pa.array([c.limit_key for c in conflicts], pa.string()),
                "existing": pa.array([c.existing for c in conflicts], pa.int64()),
                "incoming": pa.array([c.incoming for c in conflicts], pa.int64())}):
            con.execute("INSERT INTO identity_conflicts SELECT * FROM identity_new_conflicts")
