"""Apply a micro-batch of the ingest log to the analytics store, through the file importer.

API records are rendered as the lines of a delimited file (one line per record, cells in the
schema's order, unknown names as extra columns) and go through the importer's own parse, staging
and merge (`ingest.stage`, `ingest.merge`): the same typing, the same checks, the same upsert
by key with its log of replaced rows. Identity evidence is taken from them as from a day's files
(`take_evidence`); events and identify calls feed `link_observations`. The touched profiles are
resolved, and the last applied ingest id is written in the same transaction, so a crash between
this commit and the log's update never applies a call twice. Their indicators are then
recomputed (`compute_selected`, the single-profile path over a set); the caller may publish the
rest meanwhile (`alongside`), on a connection of its own: both are mostly DuckDB planning, which
runs on one core per statement.

Provenance: `source_file` is `api` and `source_line` is `ingest id × 10^8 + position` (the
record's place in its call, from 1), so every stored row says which call brought it.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import duckdb
import pyarrow as pa

from clientela.api.models import api_name
from clientela.config import Instance
from clientela.identity.evidence import (
    OBSERVATIONS,
    RECORD_IDS,
    link_observations,
    take_evidence,
)
from clientela.identity.resolve import resolve
from clientela.identity.rules import IdentityRules
from clientela.indicators.compile import CutPoints
from clientela.indicators.compute import compute_selected
from clientela.ingest import merge
from clientela.ingest.batch import rules_for
from clientela.ingest.header import HeaderMap
from clientela.ingest.probe import ProbedFile
from clientela.ingest.sql import literal
from clientela.ingest.stage import Parse, Staging, attach_scratch, stage
from clientela.run.pipeline import last_cut_points
from clientela.schema import CUSTOMERS, ORDER_LINE_CATEGORIES, ORDER_LINES, ORDERS, RecordSchema
from clientela.schema.records import LIST_SEPARATOR
from clientela.stores.analytics import cursor, registered, transaction

SOURCE = "api"
NAMED = "api_named_identifiers"
"""The identifiers of the micro-batch's profiles: customer ids of its customers and orders,
every identifier of its events and identify calls."""
LINE_BASE = 100_000_000
DELIMITER = "\x1f"
"""The unit separator: no API value needs it, and a value holding it is quoted anyway."""


def source_line(ingest_id: int, position: int) -> int:
    return ingest_id * LINE_BASE + position


def call_of(line: int) -> tuple[int, int]:
    """(ingest id, position) of a stored row's `source_line`."""
    return divmod(line, LINE_BASE)


@dataclass
class Rendered:
    """The records of one kind in a micro-batch, as the lines of a file."""

    schema: RecordSchema
    lines: list[int] = field(default_factory=list)
    cells: list[dict[str, Any]] = field(default_factory=list)
    """API name -> value, and `attributes` for the extra columns."""

    def add(self, line: int, record: dict[str, Any]) -> None:
        self.lines.append(line)
        self.cells.append(record)


@dataclass
class Applied:
    outcomes: dict[int, dict[str, Any]]
    touched: set[int]
    """Client ids of the profiles to publish."""
    removed: set[int]
    """Client ids no profile holds any more (merged into another one)."""
    orders: list[tuple[str, str]]
    events: int
    run_id: int
    """The run whose cut points scored the recomputed indicators, left in `compute.SELECTED`
    until published."""
    applied_through: int


def _text(value: Any) -> str | None:
    """A JSON value as a daily-file cell."""
    if value is None:
        return None
    if isinstance(value, list):
        return LIST_SEPARATOR.join(str(v) for v in value)
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, datetime | date):
        return value.isoformat()
    return str(value)


def _quoted(cell: str | None) -> str:
    if cell is None:
        return ""
    if any(c in cell for c in ('"', DELIMITER, "\n", "\r")):
        return '"' + cell.replace('"', '""') + '"'
    return cell


def stored_as_api(schema: RecordSchema, row: dict[str, Any]) -> dict[str, Any]:
    """A stored row (storage column names) as an API record."""
    record = {api_name(f): row.get(f.column) for f in schema.fields}
    extras = row.get("attributes" if schema.extra_columns_are_attributes else "extra")
    record["attributes"] = dict(extras or {})
    return record


class Applier:
    """Applies micro-batches on the analytics connection the worker owns."""

    def __init__(self, con: duckdb.DuckDBPyConnection, instance: Instance) -> None:
        self.con = con
        self.instance = instance
        self.settings = instance.settings
        self.rules = rules_for(instance)
        self.identity = IdentityRules.of(instance.settings)
        self.zone = ZoneInfo(instance.settings.instance.timezone)
        attach_scratch(con)
        self.other = cursor(con, instance)
        # The indicators' second connection: `alongside` has `other` meanwhile.
        self.helper = cursor(con, instance)

    def warm_up(self) -> None:
        """What the first micro-batch after a start would otherwise pay once, done before the
        server answers (~1 s of a first call's ~1.5 s): DuckDB's first registration of Arrow
        data imports pandas, and the indicators' statements for the day are rendered and
        planned (here over no profile)."""
        with registered(self.con, "warm_up", {"client_id": pa.array([], pa.int64())}):
            pass
        day = datetime.now(UTC).astimezone(self.zone).date()
        compute_selected(self.con, self.settings, day, [], self._cut_points()[1], self.helper)

    def _cut_points(self) -> tuple[int, CutPoints]:
        """The last run's id and RFM cut points, which a micro-batch's indicators score
        against (none before the first run)."""
        return last_cut_points(self.con) or (0, {})

    def checkpoint(self) -> None:
        """Move what the micro-batches wrote from the write-ahead log into the store. Until
        then every statement reads the newer rows through their version records: after
        ~90,000 orders a one-call batch took ~0.2 s longer. A connection's last result keeps
        its transaction open, which a checkpoint refuses: the other connections' are closed
        first."""
        for other in (self.other, self.helper):
            other.execute("SELECT 1").fetchall()
        self.con.execute("CHECKPOINT")

    def applied_through(self) -> int:
        row = self.con.execute("SELECT applied_through FROM api_ingest_state").fetchone()
        return int(row[0]) if row else 0

    # --- rendering ------------------------------------------------------------------------

    def _scope(self, record: dict[str, Any]) -> str:
        return str(record.get("store_code") or "") if self.rules.store_scoped_customer_ids else ""

    def _stored(self, schema: RecordSchema, keys: list[tuple[str, str]]) -> dict[
            tuple[str, str], dict[str, Any]]:
        """Stored customers by (scope_store, user_id) or orders by (store_code, order_number)."""
        if not keys:
            return {}
        names = ("scope_store", "user_id") if schema is CUSTOMERS else ("store_code",
                                                                        "order_number")
        with registered(self.con, "api_keys_asked", {
                "a": pa.array([k[0] for k in keys], pa.string()),
                "b": pa.array([k[1] for k in keys], pa.string())}):
            cursor = self.con.execute(f"""
                SELECT t.* FROM {schema.table} t
                SEMI JOIN api_keys_asked k ON t.{names[0]} = k.a AND t.{names[1]} = k.b
            """)
            columns = [d[0] for d in cursor.description or ()]
            rows = [dict(zip(columns, row, strict=True)) for row in cursor.fetchall()]
        return {(str(r[names[0]]), str(r[names[1]])): stored_as_api(schema, r) for r in rows}

    def render(self, entries: list[Any]) -> tuple[dict[str, Rendered], list[str]]:
        """Records of each kind as file lines; and why status changes could not apply."""
        kinds = {s.table: Rendered(s) for s in (CUSTOMERS, ORDERS, ORDER_LINES,
                                                ORDER_LINE_CATEGORIES)}
        customers: dict[tuple[str, str], tuple[int, dict[str, Any]]] = {}
        orders: dict[tuple[str, str], tuple[int, dict[str, Any]]] = {}
        changes: list[tuple[int, dict[str, Any]]] = []
        for entry in entries:
            if entry.kind == "customers":
                for position, record in enumerate(entry.payload["records"], start=1):
                    key = (self._scope(record), str(record["user_id"]))
                    customers[key] = (source_line(entry.id, position), record)
            elif entry.kind == "orders":
                self._render_orders(entry, kinds, orders)
            elif entry.kind == "order_status":
                changes.append((entry.id, entry.payload))
        stored = self._stored(CUSTOMERS, [k for k in customers])
        for key, (line, record) in sorted(customers.items(), key=lambda item: item[1][0]):
            # An upsert: what the call leaves out keeps its stored value.
            merged = stored.get(key, {}) | {k: v for k, v in record.items()
                                            if k not in ("attributes", "tags", "remove_tags",
                                                         "consents")}
            merged["attributes"] = stored.get(key, {}).get("attributes", {}) | record.get(
                "attributes", {})
            kinds["customers"].add(line, merged)
        failures = self._render_changes(changes, kinds["orders"], orders)
        return kinds, failures

    def _render_orders(self, entry: Any, kinds: dict[str, Rendered],
                       orders: dict[tuple[str, str], tuple[int, dict[str, Any]]]) -> None:
        position = 0
        for record in entry.payload["records"]:
            position += 1
            key = (str(record["store_code"]), str(record["order_number"]))
            header = {k: v for k, v in record.items() if k != "lines"}
            orders[key] = (source_line(entry.id, position), header)
            kinds["orders"].add(source_line(entry.id, position), header)
            for line in record.get("lines", []):
                position += 1
                owner = {"store_code": key[0], "order_number": key[1]}
                kinds["order_lines"].add(source_line(entry.id, position), owner | {
                    k: v for k, v in line.items() if k != "categories"})
                for category in line.get("categories", []):
                    position += 1
                    kinds["order_line_categories"].add(
                        source_line(entry.id, position),
                        owner | {"line_number": line["line_number"], "category": category})

    def _render_changes(self, changes: list[tuple[int, dict[str, Any]]], rendered: Rendered,
                        batch: dict[tuple[str, str], tuple[int, dict[str, Any]]]) -> list[str]:
        """A status change re-sends the order, changed, through the same merge."""
        failures: list[str] = []
        if not changes:
            return failures
        keys = [(str(c["store_code"]), str(c["order_number"])) for _, c in changes]
        stored = self._stored(ORDERS, [k for k in keys if k not in batch])
        current = {k: dict(v[1]) for k, v in batch.items()}
        for (ingest_id, change), key in zip(changes, keys, strict=True):
            order = current.get(key) or stored.get(key)
            if order is None:
                failures.append(f"{ingest_id}: no order {key[1]!r} of store {key[0]!r}")
                continue
            order = dict(order)
            order["status"] = change["status"]
            order["attributes"] = dict(order.get("attributes") or {}) | change.get("attributes",
                                                                                   {})
            current[key] = order
            rendered.add(source_line(ingest_id, 1), order)
        return failures

    # --- staging and merging ----------------------------------------------------------------

    def _stage_all(self, kinds: list[Rendered]) -> list[tuple[Parse, int]]:
        """The kinds staged, the first on the second connection while the others stage on the
        first: staging one is mostly planning its typing (10-45 ms), on one core."""
        if len(kinds) < 2:
            return [self._stage(self.con, rendered) for rendered in kinds]
        with ThreadPoolExecutor(max_workers=1, thread_name_prefix="clientela-staging") as pool:
            first = pool.submit(self._stage, self.other, kinds[0])
            rest = [self._stage(self.con, rendered) for rendered in kinds[1:]]
            return [first.result(), *rest]

    def _stage(self, con: duckdb.DuckDBPyConnection, rendered: Rendered) -> tuple[Parse, int]:
        """The records staged, and how many rows that made. Its scratch tables stay until the
        next micro-batch with records of the kind replaces them: finding and dropping them took
        ~6 ms a kind."""
        schema = rendered.schema
        names = Staging(f"api_{schema.table}_")
        extras = sorted({name for cells in rendered.cells
                         for name in (cells.get("attributes") or {})})
        header = [f.name for f in schema.fields] + extras
        raws = []
        for cells in rendered.cells:
            values = [_text(cells.get(api_name(f))) for f in schema.fields]
            attributes = cells.get("attributes") or {}
            values += [_text(attributes.get(name)) for name in extras]
            raws.append(DELIMITER.join(_quoted(v) for v in values))
        with registered(con, "api_lines", {"line": pa.array(rendered.lines, pa.int64()),
                                           "raw": pa.array(raws, pa.string())}):
            con.execute(f"CREATE OR REPLACE TABLE {names.records} AS "
                        "SELECT line, raw FROM api_lines")
        positions = {f.name: i for i, f in enumerate(schema.fields, start=1)}
        mapped = HeaderMap(positions, [(n, len(positions) + i) for i, n in enumerate(extras, 1)],
                           len(header), len(header), [])
        probed = ProbedFile(Path(SOURCE), Path(SOURCE), "", 0, "utf-8", len(raws) + 1, header,
                            DELIMITER, "")
        parse = Parse(probed, schema, mapped, self.rules, names)
        return parse, stage(con, parse)

    def _merge(self, parse: Parse, rows: int, day: date, loaded_at: datetime,
               outcomes: dict[int, dict[str, Any]]) -> None:
        merge.exclude_orphans_and_duplicates(self.con, parse, day)
        counts = merge.merge(self.con, parse, SOURCE, day, loaded_at)
        if counts.loaded == rows:
            return  # every row loaded: no reasons to look for (their query plans in ~50 ms)
        table = parse.schema.table
        for line, column, reason in self.con.execute(
                f"SELECT _line, e.column, e.reason FROM ({merge.reasons_sql(parse.schema, parse)})"
                " ORDER BY _line").fetchall():
            ingest_id, position = call_of(int(line))
            if ingest_id in outcomes:
                outcomes[ingest_id].setdefault("rejected", []).append(
                    {"kind": table, "position": position, "field": column, "reason": reason})

    # --- the micro-batch --------------------------------------------------------------------

    def apply(self, entries: list[Any], alongside: Callable[[Applied, duckdb.DuckDBPyConnection],
                                                         None] | None = None) -> Applied:
        """Apply `entries` and recompute their profiles' indicators into `SELECTED`.
        `alongside(applied, other)`, when given, runs in the calling thread once the batch is
        committed, while the indicators compute on another thread; `other` is its own
        connection to the store."""
        now = datetime.now(UTC)
        day = now.astimezone(self.zone).date()
        outcomes: dict[int, dict[str, Any]] = {e.id: {} for e in entries}
        rendered, failures = self.render(entries)
        for failure in failures:
            ingest_id, _, reason = failure.partition(": ")
            outcomes[int(ingest_id)] = {"failed": True, "reason": reason}
        parses = self._stage_all([r for r in rendered.values() if r.lines])
        with transaction(self.con):
            for parse, rows in parses:
                self._merge(parse, rows, day, now, {k: v for k, v in outcomes.items()
                                                    if not v.get("failed")})
            take_evidence(self.con, self.identity, now)
            # What the evidence found, not a search of the stored rows: a join with every
            # stored identifier cost ~0.1 s at 1M profiles.
            self.con.execute(f"CREATE OR REPLACE TEMP TABLE {NAMED} AS SELECT id FROM "
                             f"{RECORD_IDS} WHERE type = 'user_id'")
            events = self._events(entries, now)
            self._tags_and_consents(entries, now)
            first, last = entries[0].id, entries[-1].id
            resolve(self.con, self.identity, reason=f"API calls {first} to {last}", take=False,
                    now=now)
            touched, removed = self._touched(now)
            self.con.execute("UPDATE api_ingest_state SET applied_through = ?", [last])
        # After the commit: rows inserted in a transaction carry provisional row ids, too large
        # for the indicators' packed line keys.
        run_id, points = self._cut_points()
        orders = sorted({(str(c["store_code"]), str(c["order_number"]))
                         for kind in ("orders",) for c in rendered[kind].cells})
        for entry in entries:
            outcomes[entry.id].setdefault("records", entry.records)
        applied = Applied(outcomes, touched, removed, orders, events, run_id, last)
        if alongside is None:
            compute_selected(self.con, self.settings, day, touched, points, self.helper)
            return applied
        # Leaving its pool waits for the computation, even when `alongside` fails.
        with ThreadPoolExecutor(max_workers=1, thread_name_prefix="clientela-indicators") as pool:
            computing = pool.submit(compute_selected, self.con, self.settings, day, touched,
                                    points, self.helper)
            alongside(applied, self.other)
            computing.result()
        return applied

    def _observe(self, rows: list[tuple[int, str, str, str, datetime]], now: datetime) -> None:
        """OBSERVATIONS from (line, type, scope, raw, observed_at) rows."""
        with registered(self.con, "api_observed", {
                "line": pa.array([r[0] for r in rows], pa.int64()),
                "type": pa.array([r[1] for r in rows], pa.string()),
                "scope": pa.array([r[2] for r in rows], pa.string()),
                "raw": pa.array([r[3] for r in rows], pa.string()),
                "observed_at": pa.array([r[4] for r in rows], pa.timestamp("us", tz="UTC"))}):
            self.con.execute(f"""
                CREATE OR REPLACE TEMP TABLE {OBSERVATIONS.split('.')[-1]} AS
                SELECT {literal(SOURCE)} AS source, line, {literal(now.isoformat())}::TIMESTAMPTZ
                       AS loaded_at, observed_at, type, scope, raw FROM api_observed
            """)

    def identifier_type(self, name: str) -> str | None:
        """The identifier type a field name carries (`anonymous_id` -> cookie)."""
        lowered = name.lower()
        if lowered in ("user_id", "email", "email_sha256", "phone", "cookie") or (
                lowered.startswith("custom:")):
            return lowered
        return self.identity.fields.get(lowered)

    def _events(self, entries: list[Any], now: datetime) -> int:
        rows: list[tuple[int, str, str, str, datetime]] = []
        events: list[tuple[int, int, int, str, datetime, str]] = []
        for entry in entries:
            if entry.kind == "events":
                records = entry.payload["records"]
            elif entry.kind == "identify":
                records = [entry.payload | {"event": "identify", "properties": {}}]
            else:
                continue
            for position, record in enumerate(records, start=1):
                line = source_line(entry.id, position)
                at = (datetime.fromisoformat(record["occurred_at"])
                      if record.get("occurred_at") else entry.received_at)
                if at.tzinfo is None:
                    at = at.replace(tzinfo=self.zone)
                named = record["identifiers"]
                scope = str(named.get("store_code", "")) if self.identity.store_scoped else ""
                for name, raw in named.items():
                    kind = self.identifier_type(name)
                    if kind is not None:
                        rows.append((line, kind, scope if kind == "user_id" else "", raw, at))
                events.append((line, entry.id, position, record["event"], at,
                               json.dumps(record.get("properties", {}))))
        if not events:
            return 0
        self._observe(rows, now)
        link_observations(self.con, self.identity, now)
        self.con.execute(f"INSERT INTO temp.{NAMED} SELECT id FROM {RECORD_IDS}")
        with registered(self.con, "api_events", {
                "line": pa.array([e[0] for e in events], pa.int64()),
                "ingest_id": pa.array([e[1] for e in events], pa.int64()),
                "seq": pa.array([e[2] for e in events], pa.int32()),
                "event": pa.array([e[3] for e in events], pa.string()),
                "occurred_at": pa.array([e[4] for e in events], pa.timestamp("us", tz="UTC")),
                "properties": pa.array([e[5] for e in events], pa.string())}):
            self.con.execute("""
                INSERT INTO events
                SELECT e.ingest_id, e.seq, e.event, e.occurred_at,
                       coalesce((SELECT list({'type': v.type, 'scope': v.scope, 'value': v.value}
                                             ORDER BY v.type, v.value)
                                 FROM temp.identity_valid v
                                 WHERE v.line = e.line AND v.via IS NULL), []),
                       e.properties::JSON, ?
                FROM api_events e
            """, [now])
        return len(events)

    def _tags_and_consents(self, entries: list[Any], now: datetime) -> None:
        tags: list[tuple[str, str, str, bool, datetime]] = []
        consents: list[tuple[str, str, str, bool, datetime, str]] = []
        for entry in entries:
            if entry.kind != "customers":
                continue
            for record in entry.payload["records"]:
                who = (self._scope(record), str(record["user_id"]).strip())
                tags += [(*who, t, True, entry.received_at) for t in record.get("tags", [])]
                tags += [(*who, t, False, entry.received_at)
                         for t in record.get("remove_tags", [])]
                for consent in record.get("consents", []):
                    at = (datetime.fromisoformat(consent["stated_at"])
                          if consent.get("stated_at") else entry.received_at)
                    consents.append((*who, consent["channel"], bool(consent["granted"]), at,
                                     consent["proof"]))
        user = ("JOIN identifiers i ON i.type = 'user_id' AND i.scope = s.scope "
                "AND i.value = s.user_id")
        if tags:
            with registered(self.con, "api_tags", _columns(
                    ("scope", "user_id", "tag", "added", "stated_at"), tags)):
                self.con.execute(f"INSERT INTO tag_events SELECT i.id, s.tag, s.added, "
                                 f"s.stated_at, '{SOURCE}' FROM api_tags s {user}")
        if consents:
            with registered(self.con, "api_consents", _columns(
                    ("scope", "user_id", "channel", "granted", "stated_at", "proof"), consents)):
                self.con.execute(f"INSERT INTO consent_events SELECT i.id, s.channel, s.granted,"
                                 f" s.stated_at, '{SOURCE}', s.proof FROM api_consents s {user}")

    def _touched(self, now: datetime) -> tuple[set[int], set[int]]:
        """Profiles the batch named, or that its resolution created, merged or split; and the
        client ids merged away."""
        touched = {int(r[0]) for r in self.con.execute(f"""
            SELECT client_id FROM identity_members
            WHERE identifier IN (SELECT id FROM temp.{NAMED})
            UNION SELECT client_id FROM profile_history WHERE happened_at = ?
        """, [now]).fetchall()}
        removed = {int(r[0]) for r in self.con.execute(
            "SELECT alias FROM profile_aliases WHERE since = ?", [now]).fetchall()}
        return touched - removed, removed


def _columns(names: Iterable[str], rows: list[tuple[Any, ...]]) -> dict[str, Any]:
    return {name: [row[i] for row in rows] for i, name in enumerate(names)}
