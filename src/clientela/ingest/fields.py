"""SQL for one field: its typed value and, when the cell is wrong, why, in the user's terms.

Every cell arrives as trimmed text (NULL when empty). Each field yields a typed expression and an
error expression: NULL when the cell is fine, else a `{column, code, reason}` struct. One row
reports every bad column at once; `code` groups the rejects in the import report.
"""

from __future__ import annotations

from dataclasses import dataclass

from clientela.ingest.sql import literal, string_list
from clientela.schema import Field, FieldType

LOCAL_FORMATS = [
    "%d/%m/%Y %H:%M:%S", "%d/%m/%Y", "%d/%m/%Y %H:%M", "%Y-%m-%d", "%Y-%m-%d %H:%M",
    "%Y-%m-%d %H:%M:%S", "%Y-%m-%dT%H:%M", "%Y-%m-%dT%H:%M:%S", "%Y-%m-%d %H:%M:%S.%f",
    "%Y-%m-%dT%H:%M:%S.%f",
]
OFFSET_FORMATS = [
    "%Y-%m-%dT%H:%M:%S%z", "%Y-%m-%dT%H:%M:%S.%f%z", "%Y-%m-%d %H:%M:%S%z", "%Y-%m-%dT%H:%M%z",
]
DATE_FORMATS = ["%d/%m/%Y", "%Y-%m-%d", "%d/%m/%Y %H:%M:%S", "%d/%m/%Y %H:%M",
                "%Y-%m-%d %H:%M:%S", "%Y-%m-%dT%H:%M:%S"]
"""A date may come with a time part (some ERPs export 00:00:00); the time is dropped."""
OFFSET_PATTERN = r"(Z|[+-][0-9]{2}:?[0-9]{2})$"


@dataclass(frozen=True)
class Rules:
    """Instance settings that change how a cell is read."""

    timezone: str
    currency: str
    statuses: list[str]
    default_status: str
    store_scoped_customer_ids: bool


@dataclass(frozen=True)
class FieldSql:
    value: str
    error: str | None
    """The `{column, code, reason}` struct when the cell is wrong, else NULL."""
    bad: str | None
    """A cheap boolean: is the cell wrong? (Reasons are built only for the rows that are.)"""


def error_struct(column: str | None, code: str, reason: str) -> str:
    """An error value; `reason` is an SQL expression."""
    name = literal(column) if column else "NULL::VARCHAR"
    return f"{{'column': {name}, 'code': {literal(code)}, 'reason': {reason}}}"


def _quoted(cell: str) -> str:
    return f"'''' || {cell} || ''''"


class _Checks:
    def __init__(self, field: Field) -> None:
        self.field = field
        self.whens: list[str] = []
        self.bad: list[str] = []
        self.ok: str | None = None

    def add(self, condition: str, code: str, reason: str) -> None:
        self.whens.append(f"WHEN {condition} THEN {error_struct(self.field.name, code, reason)}")
        if not self.ok:
            self.bad.append(f"coalesce({condition}, false)")

    def ok_when(self, condition: str) -> None:
        """Cells meeting `condition` are fine; the checks after it only explain why not."""
        self.whens.append(f"WHEN {condition} THEN NULL")
        self.bad.append(f"NOT coalesce({condition}, false)")
        self.ok = condition

    def sql(self) -> str | None:
        return "CASE " + " ".join(self.whens) + " END" if self.whens else None

    def bad_sql(self) -> str | None:
        return "(" + " OR ".join(self.bad) + ")" if self.bad else None


def field_sql(field: Field, cell: str, typed: str, rules: Rules) -> FieldSql:
    """`cell` is an SQL expression for the trimmed cell text, NULL when empty or absent.

    `typed` names the column holding the typed value: the checks read it rather than compute
    the value a second time.
    """
    checks = _Checks(field)
    if field.required:
        checks.add(f"{cell} IS NULL", "required", literal(f"{field.name} is required but empty"))
    match field.type:
        case FieldType.TEXT if field.name == "Status":
            value = f"coalesce(lower({cell}), {literal(rules.default_status)})"
            known = ", ".join(rules.statuses)
            checks.add(f"NOT list_contains({string_list(rules.statuses)}, {typed})",
                       "unknown_status", f"{_quoted(cell)} || "
                       f"{literal(f' is not a status of the order pipeline ({known})')}")
        case FieldType.TEXT if field.name == "Currency":
            value = f"coalesce(upper({cell}), {literal(rules.currency)})"
            checks.add(f"NOT regexp_full_match({typed}, '[A-Z]{{3}}')", "bad_currency",
                       f"{_quoted(cell)} || ' is not an ISO 4217 currency code'")
        case FieldType.TEXT:
            value = cell
            if field.max_length:
                checks.add(f"length({cell}) > {field.max_length}", "too_long",
                           f"length({cell})::VARCHAR || "
                           f"' characters; {field.name} allows at most {field.max_length}'")
        case FieldType.LIST:
            value = (f"CASE WHEN {cell} IS NOT NULL THEN list_filter(list_transform("
                     f"string_split({cell}, '##'), lambda x: trim(x)), lambda x: x <> '') END")
        case FieldType.DECIMAL:
            value = _decimal(field, cell, checks)
        case FieldType.INTEGER:
            # TRY_CAST alone would take '1.5' as 2 and '1e2' as 100.
            value = (f"CASE WHEN regexp_full_match({cell}, '-?[0-9]{{1,9}}') "
                     f"THEN TRY_CAST({cell} AS INTEGER) END")
            checks.add(f"{typed} IS NULL AND {cell} IS NOT NULL", "not_integer",
                       f"{_quoted(cell)} || ' is not a whole number'")
        case FieldType.DATE:
            value = f"try_strptime({cell}, {string_list(DATE_FORMATS)})::DATE"
            checks.add(f"{typed} IS NULL AND {cell} IS NOT NULL", "not_date",
                       f"{_quoted(cell)} || ' is not a date (dd/mm/yyyy or yyyy-mm-dd)'")
        case FieldType.DATETIME:
            zoned = f"regexp_replace({cell}, 'Z$', '+00:00')"
            # One try_strptime per format: DuckDB's list form misreads %z offsets in
            # sessions set to some DST zones (America/Santiago: one hour off).
            with_offset = ", ".join(f"try_strptime({zoned}, {literal(f)})"
                                    for f in OFFSET_FORMATS)
            value = (
                f"CASE WHEN regexp_matches({cell}, {literal(OFFSET_PATTERN)}) "
                f"THEN coalesce({with_offset}) "
                f"ELSE timezone({literal(rules.timezone)}, "
                f"try_strptime({cell}, {string_list(LOCAL_FORMATS)})) END"
            )
            checks.add(f"{typed} IS NULL AND {cell} IS NOT NULL", "not_date",
                       f"{_quoted(cell)} || ' is not a date (dd/mm/yyyy [HH:MM[:SS]] or ISO 8601)'")
        case _:
            raise AssertionError(field.type)
    return FieldSql(value, checks.sql(), checks.bad_sql())


def _decimal(field: Field, cell: str, checks: _Checks) -> str:
    checks.ok_when(f"{cell} IS NULL OR regexp_full_match({cell}, {literal(field.decimal_format)})")
    for pattern, code, reason in field.decimal_problems():
        matches = "true" if pattern is None else f"regexp_full_match({cell}, {literal(pattern)})"
        checks.add(matches, code, f"{_quoted(cell)} || {literal(' ' + reason)}")
    # Rows whose cell does not fit are rejected, so a plain cast is enough for the value.
    return f"TRY_CAST({cell} AS DECIMAL({field.precision},{field.scale}))"
