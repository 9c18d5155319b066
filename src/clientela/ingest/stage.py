"""Read one daily file into a checked staging table: one row per record, typed and flagged.

DuckDB reads the file one physical line per row (with a separator the file never holds), so
every record keeps its exact line number and raw text for the rejects file. Lines are split on
the delimiter in SQL; the few lines holding quotes take a CSV-exact regular expression, and a
quoted field spanning lines is stitched back together. The staging pass computes only cheap
flags; the reasons (file, line, column, why) are built afterwards for the flagged rows alone.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import duckdb

from clientela.ingest.fields import Rules, error_struct, field_sql
from clientela.ingest.header import HeaderMap
from clientela.ingest.probe import ProbedFile
from clientela.ingest.sql import ident, literal
from clientela.schema import RecordKind, RecordSchema

MAX_LINES_IN_QUOTED_FIELD = 50
SCRATCH = "scratch"
"""An in-memory database attached to the analytics store's connection. Files are parsed into it
on a worker connection while the main one merges the previous day: reading it from the day's
transaction is allowed, writing it is not (one database written per transaction)."""


def attach_scratch(con: duckdb.DuckDBPyConnection) -> None:
    """`SCRATCH` on the store `con` belongs to, for every connection to it (once per store)."""
    con.execute(f"ATTACH IF NOT EXISTS ':memory:' AS {SCRATCH}")


@dataclass(frozen=True)
class Staging:
    """The scratch tables of one file: its raw lines, its records and its staged rows."""

    prefix: str

    @property
    def raw(self) -> str:
        return f"{SCRATCH}.{self.prefix}raw"

    @property
    def records(self) -> str:
        """`(line, raw)`: every non-blank record after the header (a view or a table)."""
        return f"{SCRATCH}.{self.prefix}records"

    @property
    def staged(self) -> str:
        """`_line`, typed columns, `_invalid`, `row_hash` (and `order_date` for orders)."""
        return f"{SCRATCH}.{self.prefix}staged"

    @property
    def spans(self) -> str:
        return f"{SCRATCH}.{self.prefix}spans"


@dataclass(frozen=True)
class _FieldPatterns:
    """CSV fields as regular expressions: `quoted` ("a|b", "" for a quote) or `plain`."""

    d: str
    quoted: str
    plain: str

    @classmethod
    def of(cls, delimiter: str) -> _FieldPatterns:
        d = re.escape(delimiter) if delimiter != "\t" else "\t"
        return cls(d, '"(?:[^"]|"")*"', f'(?:[^{d}"][^{d}]*)?')

    @property
    def field(self) -> str:
        return f"(?:{self.quoted}|{self.plain})"


def read_records(con: duckdb.DuckDBPyConnection, probed: ProbedFile, max_line_length: int,
                 names: Staging) -> None:
    """Make the file's `records(line, raw)`."""
    drop_staging(con, names)
    con.execute(
        f"CREATE TABLE {names.raw} AS SELECT raw FROM read_csv(?, "
        f"delim = {literal(probed.line_reader_separator)}, quote = '', escape = '', "
        "header = false, auto_detect = false, columns = {'raw': 'VARCHAR'}, "
        # The probe refused lines over max_line_length (counted as delivered); transcoding
        # from Windows-1252 can make a line up to 3 times longer.
        f"strict_mode = false, max_line_size = {4 * max_line_length + 4})",
        [str(probed.readable)],
    )
    # Row ids start at a large offset when the table is made inside a transaction (the worker
    # runs in autocommit, but this keeps line numbers right wherever it runs).
    first = con.execute(f"SELECT coalesce(min(rowid), 0) FROM {names.raw}").fetchone()
    numbered = f"(SELECT rowid - {first[0] if first else 0} + 1 AS line, raw FROM {names.raw})"
    content = f"line > 1 AND raw <> '' AND NOT {_blank('raw')}"
    # A quoted field holding a line break shows as two lines with an odd number of quotes: one
    # opening a quoted field it does not close, then one closing it; glue the lines between
    # back into one record. (A lone quote inside a field, `TV 55" LED`, opens nothing.)
    opens, closes = _span_patterns(probed.delimiter)
    con.execute(f"""
        CREATE OR REPLACE TABLE {names.spans} AS
        SELECT start_line, end_line FROM (
            SELECT line AS start_line, opens, lead(line) OVER (ORDER BY line) AS end_line,
                   lead(closes) OVER (ORDER BY line) AS next_closes
            FROM (SELECT line, regexp_full_match(raw, {literal(opens)}) AS opens,
                         regexp_full_match(raw, {literal(closes)}) AS closes
                  FROM {numbered}
                  WHERE contains(raw, '"')
                    AND (length(raw) - length(replace(raw, '"', ''))) % 2 = 1)
            WHERE opens OR closes
        ) WHERE opens AND next_closes AND end_line - start_line <= {MAX_LINES_IN_QUOTED_FIELD}
    """)
    spans = con.execute(f"SELECT count(*) FROM {names.spans}").fetchone()
    if spans and spans[0]:
        con.execute(f"""
            CREATE TABLE {names.records} AS
            SELECT line, raw FROM {numbered} raw_lines
            WHERE {content} AND NOT EXISTS (SELECT 1 FROM {names.spans} s
                              WHERE raw_lines.line BETWEEN s.start_line AND s.end_line)
            UNION ALL
            SELECT s.start_line, string_agg(r.raw, chr(10) ORDER BY r.line)
            FROM {names.spans} s JOIN {numbered} r ON r.line BETWEEN s.start_line AND s.end_line
            GROUP BY s.start_line
        """)
    else:
        con.execute(f"CREATE VIEW {names.records} AS SELECT line, raw FROM {numbered} "
                    f"WHERE {content}")
    con.execute(f"DROP TABLE {names.spans}")


def drop_staging(con: duckdb.DuckDBPyConnection, names: Staging) -> None:
    # `DROP VIEW IF EXISTS` fails when the name is a table (and the other way round), and
    # `records` is either: drop whichever it is.
    found = con.execute(
        "SELECT 'VIEW', view_name FROM duckdb_views() WHERE database_name = ? "
        "AND starts_with(view_name, ?) UNION ALL "
        "SELECT 'TABLE', table_name FROM duckdb_tables() WHERE database_name = ? "
        "AND starts_with(table_name, ?) ORDER BY 1 DESC",
        [SCRATCH, names.prefix, SCRATCH, names.prefix]).fetchall()
    for kind, name in found:
        con.execute(f"DROP {kind} IF EXISTS {SCRATCH}.{ident(name)}")


def _span_patterns(delimiter: str) -> tuple[str, str]:
    """Regular expressions of a line opening a quoted field and of one closing it."""
    p = _FieldPatterns.of(delimiter)
    opens = f'(?:{p.field}{p.d})*"(?:[^"]|"")*'
    closes = f'(?:[^"]|"")*"(?:{p.d}{p.field})*'
    return opens, closes


def _blank(text: str) -> str:
    """Whether `text` is only white space; trim() runs only where a space could be."""
    return (f"CASE WHEN {text}[1] IN (' ', chr(9)) OR {text}[-1] IN (' ', chr(9)) "
            f"THEN trim({text}) = '' ELSE false END")


def _cell(position: int) -> str:
    """The cell at `position`, trimmed, NULL when empty (trim() only runs where needed)."""
    cell = f"f[{position}]"
    return (f"CASE WHEN {cell} = '' THEN NULL "
            f"WHEN {cell}[1] IN (' ', chr(9)) OR {cell}[-1] IN (' ', chr(9)) "
            f"THEN nullif(trim({cell}), '') ELSE {cell} END")


def _split_sql(delimiter: str) -> tuple[str, str]:
    """(fields list, well-formed flag) expressions over `raw`."""
    p = _FieldPatterns.of(delimiter)
    split = f"({p.quoted}|{p.plain}){p.d}"
    whole = f"(?:{p.field}{p.d})*"
    dl = literal(delimiter)
    fields = (
        f"CASE WHEN NOT contains(raw, '\"') THEN string_split(raw, {dl}) "
        f"ELSE list_transform(regexp_extract_all(raw || {dl}, {literal(split)}, 1), "
        "lambda x: CASE WHEN x[1] = '\"' THEN replace(x[2:-2], '\"\"', '\"') ELSE x END) END"
    )
    well_formed = (f"(NOT contains(raw, '\"') OR "
                   f"regexp_full_match(raw || {dl}, {literal(whole)}))")
    return fields, well_formed


class Parse:
    """The SQL reading `records` into typed columns, with flags or with reasons."""

    def __init__(self, probed: ProbedFile, schema: RecordSchema, header: HeaderMap,
                 rules: Rules, names: Staging) -> None:
        self.schema, self.header, self.rules, self.names = schema, header, rules, names
        self.fields_sql, self.well_formed = _split_sql(probed.delimiter)
        self.columns: list[str] = []
        self.errors: list[str] = []
        self.bad: list[str] = []
        width = header.width
        # Some ERPs end every line with the delimiter, on the header, the data or both: an
        # empty last field is tolerated, and unnamed trailing header columns may be absent.
        self.width_ok = (f"(_width BETWEEN {header.named_width} AND {width} "
                         f"OR (_width = {width + 1} AND _last_empty))")
        quoting = error_struct(None, "malformed_quoting", "'malformed quoting: a quoted field "
                               "must be closed and followed by the delimiter'")
        wrong_width = error_struct(None, "field_count",
                                   f"'has ' || _width || ' fields; the header has {width}'")
        self.errors.append(f"CASE WHEN NOT _well_formed THEN {quoting} "
                           f"WHEN NOT {self.width_ok} THEN {wrong_width} END")
        self.bad.append(f"(NOT _well_formed OR NOT {self.width_ok})")
        for field in schema.fields:
            cell = ident("c_" + field.name) if header.position(field) else "NULL::VARCHAR"
            sql = field_sql(field, cell, ident(field.column), rules)
            self.columns.append(f"{sql.value} AS {ident(field.column)}")
            if sql.error and sql.bad:
                self.errors.append(f"CASE WHEN {self.width_ok} AND _well_formed THEN "
                                   f"{sql.error} END")
                self.bad.append(sql.bad)
        self._extra_columns()

    def _typed(self, source: str) -> str:
        """Cells (`c_*`, `x_*`) and typed columns, side by side, for the checks to read."""
        cells = [f"{_cell(position)} AS {ident('c_' + name)}"
                 for name, position in self.header.positions.items()]
        cells += [f"{_cell(position)} AS {ident(f'x_{position}')}"
                  for _, position in self.header.extras]
        return f"""
            SELECT *, {", ".join(self.columns)} FROM (
                SELECT line AS _line, raw AS _raw, len(f) AS _width, f[-1] = '' AS _last_empty,
                       _well_formed,
                       {", ".join(cells)}
                FROM (SELECT line, raw, {self.fields_sql} AS f,
                             {self.well_formed} AS _well_formed FROM {source}))
        """

    def flagged(self) -> str:
        """Typed rows with `_invalid`, over all records."""
        names = ", ".join(_alias(column) for column in self.columns)
        return (f"SELECT _line, {names}, ({' OR '.join(self.bad)}) AS _invalid "
                f"FROM ({self._typed(self.names.records)})")

    def reasons(self, lines: str) -> str:
        """`_line, _raw, _errors` for the records whose line is in the `lines` subquery."""
        source = f"(SELECT * FROM {self.names.records} WHERE line IN ({lines}))"
        errors = ", ".join(self.errors)
        return (f"SELECT _line, _raw, list_filter([{errors}], lambda e: e IS NOT NULL) "
                f"AS _errors FROM ({self._typed(source)})")

    def content_columns(self) -> list[str]:
        names = [field.column for field in self.schema.fields]
        if self.schema.kind is RecordKind.CUSTOMERS:
            names.append("scope_store")
        names.append("attributes" if self.schema.extra_columns_are_attributes else "extra")
        return names

    def derived_columns(self) -> list[str]:
        if self.schema.kind is RecordKind.ORDERS:
            # The business date is local to the instance, whatever offset the instant came with.
            return [f"timezone({literal(self.rules.timezone)}, order_ts)::DATE AS order_date"]
        return []

    def _extra_columns(self) -> None:
        keys: list[str] = []
        values: list[str] = []
        dynamic: list[bool] = []
        for name, position in self.header.extras:
            cell = ident(f"x_{position}")
            if self.schema.extra_columns_are_attributes:
                # Some ERP exporters write a custom attribute as {"Key":"NAME","Value":"v"};
                # JSON is looked at only in cells that start with a brace.
                # (AND does not short-circuit in SQL; CASE does.)
                as_json = (f"CASE WHEN starts_with({cell}, '{{') AND json_valid({cell}) "
                           f"THEN {cell} END")
                json_key = (f"CASE WHEN {as_json} IS NOT NULL "
                            f"THEN json_extract_string({as_json}, '$.Key') END")
                keys.append(f"coalesce({json_key}, {literal(name)})")
                values.append(f"CASE WHEN {json_key} IS NOT NULL "
                              f"THEN json_extract_string({as_json}, '$.Value') ELSE {cell} END")
                dynamic.append(True)
            else:
                keys.append(literal(name))
                values.append(cell)
                dynamic.append(False)
        entries = []
        for i, (key, value) in enumerate(zip(keys, values, strict=True)):
            # Keep the last entry of a name sent twice (a column and a {"Key"} cell naming it);
            # header names are unique, so only entries with a JSON key can collide.
            keep = [f"{value} IS NOT NULL"] + [
                f"NOT coalesce({values[j]} IS NOT NULL AND {keys[j]} = {key}, false)"
                for j in range(i + 1, len(keys)) if dynamic[i] or dynamic[j]]
            entries.append(f"CASE WHEN {' AND '.join(keep)} THEN "
                           f"{{'key': {key}, 'value': {value}}} END")
        target = "attributes" if self.schema.extra_columns_are_attributes else "extra"
        mapped = (f"map_from_entries(list_filter([{', '.join(entries)}], "
                  "lambda e: e IS NOT NULL))" if entries else "MAP {}::MAP(VARCHAR, VARCHAR)")
        self.columns.append(f"{mapped} AS {target}")
        if self.schema.kind is not RecordKind.CUSTOMERS:
            return
        store = ident("c_StoreCode") if "StoreCode" in self.header.positions else "NULL::VARCHAR"
        if not self.rules.store_scoped_customer_ids:
            self.columns.append("'' AS scope_store")
            return
        self.columns.append(f"coalesce({store}, '') AS scope_store")
        required = error_struct("StoreCode", "required", "'StoreCode is required: this "
                                "instance numbers customer ids per store'")
        self.errors.append(f"CASE WHEN {store} IS NULL AND {self.width_ok} "
                           f"THEN {required} END")
        self.bad.append(f"({store} IS NULL)")


def _alias(column_sql: str) -> str:
    """The name an `expression AS "name"` select item gives its column."""
    return column_sql.rsplit(" AS ", 1)[1]


def stage(con: duckdb.DuckDBPyConnection, parse: Parse) -> int:
    """Create the file's staged rows from its records; return how many there are."""
    content = ", ".join(ident(c) for c in parse.content_columns())
    derived = "".join(f", {c}" for c in parse.derived_columns())
    staged = parse.names.staged
    con.execute(f"DROP TABLE IF EXISTS {staged}")
    con.execute(f"CREATE TABLE {staged} AS SELECT *, hash({content}) AS row_hash{derived} "
                f"FROM ({parse.flagged()})")
    row = con.execute(f"SELECT count(*) FROM {staged}").fetchone()
    return int(row[0]) if row else 0
