"""`clientela export profiles`: one row per profile with its identifiers, attributes, tags,
consents and every indicator of the last run, for email-marketing tools.

Columns, in order: `client_id`, `recognized`, `email` (the newest address of the person's own
records), `identifiers` (labels such as `user_id:S01:17`), `tags`, one column per attribute
(the standard ones, then custom ones by name), `Consent_<channel>` (true granted, false
withdrawn) with `Consent_<channel>_At`, then the indicators in catalog order. CSV writes lists
`##`-joined; Parquet and JSON Lines keep them as lists. The file is written beside its target
and renamed into place, so an interrupted export leaves no half file.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path

import duckdb

from clientela.config import Settings
from clientela.identity.profile import (
    STANDARD_ATTRIBUTES,
    attributes_sql,
    consents_sql,
    profile_rows,
    tags_sql,
)
from clientela.identity.rules import IdentityRules
from clientela.indicators.catalog import exported_name, indicator_names
from clientela.indicators.published import TABLE, has_run
from clientela.ingest.sql import literal, scalar


class ExportFormat(StrEnum):
    CSV = "csv"
    PARQUET = "parquet"
    JSONL = "jsonl"


class Naming(StrEnum):
    CLIENTELA = "clientela"
    ICOMMKT = "icommkt"


class ExportError(Exception):
    """Nothing to export yet, or the target cannot be written."""


@dataclass(frozen=True)
class Exported:
    path: Path
    profiles: int
    columns: int


FIXED_COLUMNS = ("client_id", "recognized", "email", "identifiers", "tags")
COPY_OPTIONS = {ExportFormat.CSV: "FORMAT csv, HEADER", ExportFormat.PARQUET: "FORMAT parquet",
                ExportFormat.JSONL: "FORMAT json"}


def _quoted(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def export_profiles(con: duckdb.DuckDBPyConnection, settings: Settings, target: Path,
                    export_format: ExportFormat, naming: Naming,
                    recognized_only: bool = False) -> Exported:
    if not has_run(con):
        raise ExportError("no indicators yet: run `clientela run` first")
    rules = IdentityRules.of(settings)
    profile_rows(con, None)
    con.execute(f"CREATE OR REPLACE TEMP TABLE export_attributes AS {attributes_sql(rules)}")
    con.execute(f"CREATE OR REPLACE TEMP TABLE export_consents AS {consents_sql(None)}")
    standard = [name for name, _ in STANDARD_ATTRIBUTES]
    custom = sorted({name for (name,) in con.execute(
        "SELECT DISTINCT name FROM export_attributes").fetchall()} - set(standard))
    channels = [c for (c,) in con.execute(
        "SELECT DISTINCT channel FROM export_consents ORDER BY 1").fetchall()]
    indicators = indicator_names()
    taken = {n.lower() for n in (*FIXED_COLUMNS, *indicators)}
    # An attribute named like a fixed column or an indicator keeps its value under a prefix.
    attributes = {name: f"Attribute_{name}" if name.lower() in taken else name
                  for name in standard + custom}
    list_columns = {"identifiers", "tags", *(name for name, kind in con.execute(
        f"SELECT column_name, data_type FROM duckdb_columns() WHERE table_name = '{TABLE}'"
    ).fetchall() if kind.endswith("[]"))}

    def out(name: str, as_name: str) -> str:
        value = f"x.{_quoted(name)}"
        if export_format is ExportFormat.CSV and name in list_columns:
            value = f"array_to_string({value}, '##')"
        return f"{value} AS {_quoted(as_name)}"

    pivot_attributes = ", ".join(
        f"max(value) FILTER (name = {literal(name)}) AS {_quoted(column)}"
        for name, column in attributes.items())
    pivot_consents = ", ".join(
        f"bool_or(granted) FILTER (channel = {literal(c)}) AS {_quoted('Consent_' + c)}, "
        f"max(stated_at) FILTER (channel = {literal(c)}) AS {_quoted('Consent_' + c + '_At')}"
        for c in channels)
    consent_columns = [f"Consent_{c}{suffix}" for c in channels for suffix in ("", "_At")]
    selected = ", ".join([
        *(out(n, n) for n in FIXED_COLUMNS), *(out(c, c) for c in attributes.values()),
        *(out(c, c) for c in consent_columns),
        *(out(n, exported_name(n, naming.value)) for n in indicators)])
    query = f"""
        WITH ids AS (
            SELECT m.client_id, list(i.type || ':' || CASE WHEN i.scope <> '' THEN i.scope || ':'
                   ELSE '' END || i.value ORDER BY i.id) AS identifiers
            FROM identity_members m JOIN identifiers i ON i.id = m.identifier GROUP BY 1
        ), emails AS (
            SELECT c.client_id, arg_max(i.value, (c.batch_day, c.loaded_at, c.source_line))
                   AS email
            FROM profile_rows c JOIN identifiers i ON i.type = 'email'
                 AND i.value = lower(trim(c.email)) AND i.status IN ('active', 'released')
            GROUP BY 1
        ), tags AS (
            SELECT client_id, list(tag ORDER BY tag) AS tags FROM ({tags_sql(None)}) GROUP BY 1
        ), attributes AS (
            SELECT client_id{", " + pivot_attributes if attributes else ""}
            FROM export_attributes GROUP BY 1
        ), consents AS (
            SELECT client_id{", " + pivot_consents if channels else ""}
            FROM export_consents GROUP BY 1
        ), x AS (
            SELECT p.client_id, p.recognized, e.email, coalesce(d.identifiers, []) AS identifiers,
                   coalesce(t.tags, []) AS tags,
                   {"a.* EXCLUDE (client_id)," if attributes else ""}
                   {"c.* EXCLUDE (client_id)," if channels else ""} r.* EXCLUDE (client_id)
            FROM profiles p JOIN {TABLE} r USING (client_id)
            LEFT JOIN ids d USING (client_id) LEFT JOIN emails e USING (client_id)
            LEFT JOIN tags t USING (client_id) LEFT JOIN attributes a USING (client_id)
            LEFT JOIN consents c USING (client_id)
            {"WHERE p.recognized" if recognized_only else ""}
        )
        SELECT {selected} FROM x ORDER BY x.client_id
    """
    target.parent.mkdir(parents=True, exist_ok=True)
    partial = target.with_name(f".{target.name}.partial")
    try:
        con.execute(f"COPY ({query}) TO {literal(str(partial))} "
                    f"({COPY_OPTIONS[export_format]})")
        partial.replace(target)
    finally:
        partial.unlink(missing_ok=True)
    profiles = scalar(con, f"SELECT count(*) FROM {TABLE} JOIN profiles USING (client_id)"
                           + (" WHERE recognized" if recognized_only else ""))
    for table in ("profile_rows", "export_attributes", "export_consents"):
        con.execute(f"DROP TABLE IF EXISTS temp.{table}")
    return Exported(target, profiles,
                    len(FIXED_COLUMNS) + len(attributes) + len(consent_columns) + len(indicators))
