"""Quoting for SQL text built from schema definitions (never from file contents)."""

from __future__ import annotations

import duckdb


def literal(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


def ident(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def string_list(values: list[str]) -> str:
    return "[" + ", ".join(literal(v) for v in values) + "]"


def scalar(con: duckdb.DuckDBPyConnection, sql: str) -> int:
    """The single integer a counting query returns (0 for no row or NULL)."""
    row = con.execute(sql).fetchone()
    return int(row[0]) if row and row[0] is not None else 0
