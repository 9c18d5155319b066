"""Read one daily file into a checked staging table: one row per record, typed and flagged.

DuckDB reads the file one physical line per row (with a separator the file never holds), so
every record keeps its exact line number and raw text for the rejects file. Lines are split on
the delimiter in SQL; the few lines holding quotes take a CSV-exact regular expression, and a
quoted field spanning lines is stitched back together. The staging pass computes only cheap
flags; the reasons (file, line, column, why) are built afterwards for the flagged rows alone.
"""

from __future__ import annotations

import re

import duckdb

from clientela.ingest.fields import Rules, error_struct, field_sql
from clientela.ingest.header import HeaderMap
from clientela.ingest.probe import ProbedFile
from clientela.ingest.sql import ident, literal
from clientela.schema import RecordKind, RecordSchema

MAX_LINES_IN_QUOTED_FIELD = 50
STAGED = "staged"
"""The staging table: `_line`, typed columns, `row_hash`, and the flags of `OK`."""


def loads(alias: str = "") -> str:
    """The condition for a row of `staged` to load."""
    p = f"{alias}." if alias else ""
    return f"(NOT {p}_invalid AND NOT {p}_orphan AND {p}_superseded_by IS NULL)"


OK = loads()
RECORDS = "records"
"""`records(line, raw)`: every non-blank record after the header (a view or a table)."""


def _regex_delimiter(delimiter: str) -> str:
    return re.escape(delimiter) if delimiter != "\t" else "\t"


def read_records(con: duckdb.DuckDBPyConnection, probed: ProbedFile,
                 max_line_length: int) -> None:
    """Make `records(line, raw)`."""
    drop_records(con)
    con.execute(
        "CREATE TEMP TABLE raw_lines AS SELECT raw FROM read_csv(?, "
        f"delim = {literal(probed.line_reader_separator)}, quote = '', escape = '', "
        "header = false, auto_detect = false, columns = {'raw': 'VARCHAR'}, "
        # The probe refused lines over max_line_length (counted as delivered); transcoding
        # from Windows-1252 can make a line up to 3 times longer.
        f"strict_mode = false, max_line_size = {4 * max_line_length + 4})",
        [str(probed.readable)],
    )
    # Inside a transaction row ids start at a large offset; lines count from the first one.
    first = con.execute("SELECT coalesce(min(rowid), 0) FROM raw_lines").fetchone()
    numbered = f"(SELECT rowid - {first[0] if first else 0} + 1 AS line, raw FROM raw_lines)"
    content = f"line > 1 AND raw <> '' AND NOT {_blank('raw')}"
    # A quoted field holding a line break shows as two lines with an odd number of quotes: one
    # opening a quoted field it does not close, then one closing it; glue the lines between
    # back into one record. (A lone quote inside a field, `TV 55" LED`, opens nothing.)
    opens, closes = _span_patterns(probed.delimiter)
    con.execute(f"""
        CREATE OR REPLACE TEMP TABLE quoted_spans AS
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
    spans = con.execute("SELECT count(*) FROM quoted_spans").fetchone()
    if spans and spans[0]:
        con.execute(f"""
            CREATE TEMP TABLE {RECORDS} AS
            SELECT line, raw FROM {numbered} raw_lines
            WHERE {content} AND NOT EXISTS (SELECT 1 FROM quoted_spans s
                              WHERE raw_lines.line BETWEEN s.start_line AND s.end_line)
            UNION ALL
            SELECT s.start_line, string_agg(r.raw, chr(10) ORDER BY r.line)
            FROM quoted_spans s JOIN {numbered} r ON r.line BETWEEN s.start_line AND s.end_line
            GROUP BY s.start_line
        """)
    else:
        con.execute(f"CREATE TEMP VIEW {RECORDS} AS SELECT line, raw FROM {numbered} "
                    f"WHERE {content}")
    con.execute("DROP TABLE quoted_spans")


def drop_records(con: duckdb.DuckDBPyConnection) -> None:
    # `DROP VIEW IF EXISTS` fails when the name is a table (and the other way round), and
    # `records` is either: drop whichever it is.
    found = con.execute(
        "SELECT 'VIEW' FROM duckdb_views() WHERE view_name = ? AND temporary UNION ALL "
        "SELECT 'TABLE' FROM duckdb_tables() WHERE table_name = ? AND temporary",
        [RECORDS, RECORDS]).fetchall()
    for (kind,) in found:
        con.execute(f"DROP {kind} {RECORDS}")
    con.execute("DROP TABLE IF EXISTS raw_lines")


def _span_patterns(delimiter: str) -> tuple[str, str]:
    """Regular expressions of a line opening a quoted field and of one closing it."""
    d = _regex_delimiter(delimiter)
    quoted = '"(?:[^"]|"")*"'
    plain = f'(?:[^{d}"][^{d}]*)?'
    opens = f'(?:(?:{quoted}|{plain}){d})*"(?:[^"]|"")*'
    closes = f'(?:[^"]|"")*"(?:{d}(?:{quoted}|{plain}))*'
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
    d = _regex_delimiter(delimiter)
    quoted = '"(?:[^"]|"")*"'
    plain = f'(?:[^{d}"][^{d}]*)?'
    split = f"({quoted}|{plain}){d}"
    whole = f"(?:(?:{quoted}|{plain}){d})*"
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
                 rules: Rules) -> None:
        self.schema, self.header, self.rules = schema, header, rules
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
                f"FROM ({self._typed(RECORDS)})")

    def reasons(self, lines: str) -> str:
        """`_line, _raw, _errors` for the records whose line is in the `lines` subquery."""
        source = f"(SELECT * FROM {RECORDS} WHERE line IN ({lines}))"
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
    """Create `staged` from `records` and return its row count; lines and categories are
    checked against known orders."""
    content = ", ".join(ident(c) for c in parse.content_columns())
    extra = ", ".join(["false AS _orphan", "NULL::BIGINT AS _superseded_by",
                       *parse.derived_columns()])
    con.execute(f"DROP TABLE IF EXISTS {STAGED}")
    con.execute(f"CREATE TEMP TABLE {STAGED} AS SELECT *, hash({content}) AS row_hash, {extra} "
                f"FROM ({parse.flagged()})")
    row = con.execute(f"SELECT count(*) FROM {STAGED}").fetchone()
    kind = parse.schema.kind
    if kind in (RecordKind.ORDER_LINES, RecordKind.ORDER_LINE_CATEGORIES):
        _flag_orphans(con, kind)
    return int(row[0]) if row else 0


def _flag_orphans(con: duckdb.DuckDBPyConnection, kind: RecordKind) -> None:
    parent, keys = (("orders", ("store_code", "order_number")) if kind is RecordKind.ORDER_LINES
                    else ("order_lines", ("store_code", "order_number", "line_number")))
    on = " AND ".join(f"p.{k} = s.{k}" for k in keys)
    # Orphans are rare: find them with an anti join, then flag just those rows.
    con.execute(f"""
        UPDATE {STAGED} SET _orphan = true WHERE _line IN (
            SELECT s._line FROM {STAGED} s ANTI JOIN {parent} p ON {on} WHERE NOT s._invalid)
    """)
