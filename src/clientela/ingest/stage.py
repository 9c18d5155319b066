"""Read one daily file into a checked staging table: one row per record, typed, with its errors.

DuckDB reads the file one physical line per row (with a separator the file never holds), so
every record keeps its exact line number and raw text for the rejects file. Lines are split on
the delimiter in SQL; the few lines holding quotes take a CSV-exact regular expression, and a
quoted field spanning lines is stitched back together.
"""

from __future__ import annotations

import re

import duckdb

from clientela.ingest.fields import FieldSql, Rules, error_struct, field_sql
from clientela.ingest.header import HeaderMap
from clientela.ingest.probe import ProbedFile
from clientela.ingest.sql import ident, literal
from clientela.schema import RecordKind, RecordSchema

MAX_LINES_IN_QUOTED_FIELD = 50
STAGED = "staged"
"""The checked staging table: `_line`, `_raw`, `_errors`, `_ok`, typed columns, `row_hash`."""


def _regex_delimiter(delimiter: str) -> str:
    return re.escape(delimiter) if delimiter != "\t" else "\t"


def read_records(con: duckdb.DuckDBPyConnection, probed: ProbedFile, max_line_length: int) -> int:
    """Create `records(line, raw)`: every non-blank record after the header."""
    con.execute("DROP TABLE IF EXISTS raw_lines; DROP TABLE IF EXISTS records")
    con.execute(
        "CREATE TEMP TABLE raw_lines AS SELECT raw FROM read_csv(?, "
        f"delim = {literal(probed.line_reader_separator)}, quote = '', escape = '', "
        "header = false, auto_detect = false, columns = {'raw': 'VARCHAR'}, "
        f"strict_mode = false, max_line_size = {max_line_length})",
        [str(probed.readable)],
    )
    # Inside a transaction row ids start at a large offset; lines count from the first one.
    first = con.execute("SELECT coalesce(min(rowid), 0) FROM raw_lines").fetchone()
    numbered = f"(SELECT rowid - {first[0] if first else 0} + 1 AS line, raw FROM raw_lines)"
    # A quoted field holding a line break shows as two lines with an odd number of quotes;
    # pair them up and glue the lines between back into one record.
    con.execute(f"""
        CREATE TEMP TABLE quoted_spans AS
        SELECT start_line, end_line FROM (
            SELECT line AS start_line, lead(line) OVER (ORDER BY line) AS end_line,
                   row_number() OVER (ORDER BY line) AS n
            FROM {numbered}
            WHERE contains(raw, '"') AND (length(raw) - length(replace(raw, '"', ''))) % 2 = 1
        ) WHERE n % 2 = 1 AND end_line - start_line <= {MAX_LINES_IN_QUOTED_FIELD}
    """)
    con.execute(f"""
        CREATE TEMP TABLE records AS
        SELECT line, raw FROM {numbered} raw_lines
        WHERE line > 1 AND raw IS NOT NULL AND trim(raw) <> ''
          AND NOT EXISTS (SELECT 1 FROM quoted_spans s
                          WHERE raw_lines.line BETWEEN s.start_line AND s.end_line)
        UNION ALL
        SELECT s.start_line, string_agg(r.raw, chr(10) ORDER BY r.line)
        FROM quoted_spans s JOIN {numbered} r ON r.line BETWEEN s.start_line AND s.end_line
        GROUP BY s.start_line
    """)
    con.execute("DROP TABLE raw_lines; DROP TABLE quoted_spans")
    row = con.execute("SELECT count(*) FROM records").fetchone()
    return int(row[0]) if row else 0


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


def stage(con: duckdb.DuckDBPyConnection, probed: ProbedFile, schema: RecordSchema,
          header: HeaderMap, rules: Rules) -> None:
    """Create the staging table from `records`; rows with `_ok` false carry their `_errors`."""
    fields, well_formed = _split_sql(probed.delimiter)
    cells = [f"nullif(trim(f[{position}]), '') AS {ident('c_' + name)}"
             for name, position in header.positions.items()]
    cells += [f"nullif(trim(f[{position}]), '') AS {ident(f'x_{position}')}"
              for _, position in header.extras]
    columns: list[str] = []
    quoting = error_struct(None, "malformed_quoting", "'malformed quoting: a quoted field must "
                           "be closed and followed by the delimiter'")
    width = error_struct(None, "field_count",
                         f"'has ' || _width || ' fields; the header has {header.width}'")
    errors = [f"CASE WHEN NOT _well_formed THEN {quoting} "
              f"WHEN _width <> {header.width} THEN {width} END"]
    for field in schema.fields:
        position = header.position(field)
        cell = ident("c_" + field.name) if position else "NULL::VARCHAR"
        sql: FieldSql = field_sql(field, cell, rules)
        columns.append(f"{sql.value} AS {ident(field.column)}")
        if sql.error:
            errors.append(f"CASE WHEN _width = {header.width} AND _well_formed THEN "
                          f"{sql.error} END")
    columns += _extra_columns(schema, header, rules, errors)
    content = [field.column for field in schema.fields] + _extra_names(schema, header)
    con.execute(f"DROP TABLE IF EXISTS {STAGED}")
    con.execute(f"""
        CREATE TEMP TABLE {STAGED} AS
        SELECT *, {", ".join(["len(_errors) = 0 AS _ok", *_derived_columns(schema, rules)])},
               hash({", ".join(ident(c) for c in content)}) AS row_hash
        FROM (
            SELECT _line, _raw, {", ".join(columns)},
                   list_filter([{", ".join(errors)}], lambda e: e IS NOT NULL) AS _errors
            FROM (
                SELECT line AS _line, raw AS _raw, len(f) AS _width,
                       _well_formed, {", ".join(cells)}
                FROM (SELECT line, raw, {fields} AS f, {well_formed} AS _well_formed
                      FROM records)
            )
        )
    """)


def _extra_names(schema: RecordSchema, header: HeaderMap) -> list[str]:
    names = ["attributes" if schema.extra_columns_are_attributes else "extra"]
    if schema.kind is RecordKind.CUSTOMERS:
        names.insert(0, "scope_store")
    return names


def _derived_columns(schema: RecordSchema, rules: Rules) -> list[str]:
    if schema.kind is RecordKind.ORDERS:
        # The business date is local to the instance, whatever offset the instant was sent with.
        return [f"timezone({literal(rules.timezone)}, order_ts)::DATE AS order_date"]
    return []


def _extra_columns(schema: RecordSchema, header: HeaderMap, rules: Rules,
                   errors: list[str]) -> list[str]:
    entries = []
    for name, position in header.extras:
        cell = ident(f"x_{position}")
        if schema.extra_columns_are_attributes:
            # Some ERP exporters write a custom attribute as {"Key":"NAME","Value":"v"}.
            as_json = f"CASE WHEN starts_with({cell}, '{{') AND json_valid({cell}) THEN {cell} END"
            json_key = f"json_extract_string({as_json}, '$.Key')"
            key = f"coalesce({json_key}, {literal(name)})"
            value = (f"CASE WHEN {json_key} IS NOT NULL THEN "
                     f"json_extract_string({as_json}, '$.Value') ELSE {cell} END")
        else:
            key, value = literal(name), cell
        entries.append(f"{{'key': {key}, 'value': {value}}}")
    target = "attributes" if schema.extra_columns_are_attributes else "extra"
    listed = f"[{', '.join(entries)}]"
    # Keep the last entry of a name sent twice (a column and a {"Key"} cell naming it).
    later = (f"list_filter(list_slice({listed}, i + 1, {len(entries)}), "
             "lambda x: x.value IS NOT NULL)")
    mapped = (f"map_from_entries(list_filter({listed}, lambda e, i: e.value IS NOT NULL AND NOT "
              f"list_contains(list_transform({later}, lambda x: x.key), e.key)))"
              if entries else "MAP {}::MAP(VARCHAR, VARCHAR)")
    columns = [f"{mapped} AS {target}"]
    if schema.kind is RecordKind.CUSTOMERS:
        store = ident("c_StoreCode") if "StoreCode" in header.positions else "NULL::VARCHAR"
        if rules.store_scoped_customer_ids:
            columns.append(f"coalesce({store}, '') AS scope_store")
            required = error_struct("StoreCode", "required", "'StoreCode is required: this "
                                    "instance numbers customer ids per store'")
            errors.append(f"CASE WHEN {store} IS NULL AND _width = {header.width} "
                          f"THEN {required} END")
        else:
            columns.append("'' AS scope_store")
    return columns
