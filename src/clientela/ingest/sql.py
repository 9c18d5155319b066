"""Quoting for SQL text built from schema definitions (never from file contents)."""

from __future__ import annotations


def literal(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


def ident(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def string_list(values: list[str]) -> str:
    return "[" + ", ".join(literal(v) for v in values) + "]"
