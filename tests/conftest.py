"""Shared fixtures: an instance in tmp_path, the four daily files of a day, store and report reads.

Helpers are fixtures (not importable functions) so that any test folder can use them without
import-path tricks. Each returns a plain function; see its docstring.
"""

from __future__ import annotations

import csv
import json
from collections.abc import Callable, Iterator, Sequence
from datetime import date
from pathlib import Path
from typing import Any

import pytest

from clientela.config import Instance, create_instance
from clientela.ingest.importer import ImportResult
from clientela.ingest.report import FileReport
from clientela.stores import analytics

HEADERS = {
    "customers": "UserId|Email|FirstName|LastName",
    "orders": ("OrderNumber|StoreCode|UserId|Date|TotalItems|TotalProducts|TotalAmount|"
               "ItemsAmount|DiscountsAmount|ShippingAmount"),
    "lines": "StoreCode|OrderNumber|LineNumber|Quantity|ItemCode|Price",
    "categories": "StoreCode|OrderNumber|LineNumber|Category",
}
"""The header `write_day` puts above the rows it is given (required columns only)."""

# A small consistent day: one customer, one order of two lines (3 units, 2 distinct products).
DEFAULT_ROWS = {
    "customers": ("u1|ana@example.com|Ana|Pérez",),
    "orders": ("o1|S1|u1|01/01/2025|3|2|30.00|25.00|0|0",),
    "lines": ("S1|o1|1|2|SKU1|10.00", "S1|o1|2|1|SKU2|10.00"),
    "categories": ("S1|o1|1|Ropa > Camisetas", "S1|o1|2|Ropa"),
}
TAGS = {"customers": "CUSTOMERS", "orders": "ORDERS", "lines": "ORDERSDETAIL",
        "categories": "ORDERSDETAILCATEGORIES"}
DATA_TABLES = ("customers", "orders", "order_lines", "order_line_categories")
LEDGER_TABLES = ("import_days", "import_files", "import_rejects", "replaced_rows")

Rows = Sequence[str] | bytes | None
"""Data lines under the default header; raw bytes for the whole file; None: no file."""

_DEFAULT: Any = object()


def _instance_name(instance: Instance | str) -> str:
    return instance if isinstance(instance, str) else instance.name


def _file_name(kind: str, instance: Instance | str, day: date, suffix: str = ".txt") -> str:
    return f"ICOMMKT_{TAGS[kind]}_{_instance_name(instance).upper()}_{day:%Y%m%d}{suffix}"


def _write_day(folder: Path, instance: Instance | str, day: date, *,
               customers: Rows = _DEFAULT, orders: Rows = _DEFAULT, lines: Rows = _DEFAULT,
               categories: Rows = _DEFAULT) -> dict[str, Path]:
    folder.mkdir(parents=True, exist_ok=True)
    written = {}
    given = {"customers": customers, "orders": orders, "lines": lines, "categories": categories}
    for kind, rows in given.items():
        if rows is _DEFAULT:
            rows = DEFAULT_ROWS[kind]
        if rows is None:
            continue
        path = folder / _file_name(kind, instance, day)
        if isinstance(rows, bytes):
            path.write_bytes(rows)
        else:
            path.write_bytes(("\n".join([HEADERS[kind], *rows]) + "\n").encode("utf-8"))
        written[kind] = path
    return written


@pytest.fixture(scope="session")
def write_day() -> Callable[..., dict[str, Path]]:
    """`write_day(folder, instance, day, customers=, orders=, lines=, categories=)`.

    Writes the day's four files into `folder` and returns them by kind (`customers`, `orders`,
    `lines`, `categories`). Each kind takes data lines (`|`-joined, put under the default header
    of required columns), raw bytes (the whole file, header included), or None (no file).
    Kinds not given get a small consistent default (customer u1, order S1/o1 with two lines).
    """
    return _write_day


@pytest.fixture
def file_name() -> Callable[..., str]:
    """`file_name(kind, instance, day, suffix=".txt")`: the daily file name of that kind."""
    return _file_name


@pytest.fixture
def home(tmp_path: Path) -> Path:
    return tmp_path / "home"


@pytest.fixture
def drop(tmp_path: Path) -> Path:
    """Where the retailer's files arrive (outside the instance)."""
    folder = tmp_path / "drop"
    folder.mkdir()
    return folder


@pytest.fixture
def make_instance(home: Path) -> Callable[..., Instance]:
    """`make_instance(name="demo", timezone="UTC", currency="CLP")` under `home`."""
    def make(name: str = "demo", *, timezone: str = "UTC", currency: str = "CLP") -> Instance:
        return create_instance(name, timezone=timezone, currency=currency, home=home)
    return make


@pytest.fixture
def instance(make_instance: Callable[..., Instance]) -> Instance:
    """Instance `demo`, time zone UTC, currency CLP."""
    return make_instance()


def _query(instance: Instance, sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
    con = analytics.connect(instance)
    try:
        return con.execute(sql, list(params)).fetchall()
    finally:
        con.close()


@pytest.fixture
def query() -> Callable[..., list[tuple[Any, ...]]]:
    """`query(instance, sql, params=())`: rows from the instance's analytics store."""
    return _query


def _counts(instance: Instance) -> dict[str, int]:
    sql = " UNION ALL ".join(f"SELECT '{t}', count(*) FROM {t}"
                             for t in (*DATA_TABLES, *LEDGER_TABLES))
    return {str(name): int(n) for name, n in _query(instance, sql)}


@pytest.fixture
def counts() -> Callable[[Instance], dict[str, int]]:
    """`counts(instance)`: row count of every data and ledger table."""
    return _counts


def _report(result: ImportResult, file: str | Path) -> FileReport:
    name = file.name if isinstance(file, Path) else file
    found = [r for r in result.reports if r.file == name]
    assert len(found) == 1, f"{name} not once in {[r.file for r in result.reports]}"
    return found[0]


@pytest.fixture
def report_of() -> Callable[[ImportResult, str | Path], FileReport]:
    """`report_of(result, path_or_name)`: the one report of that file in the result."""
    return _report


def _report_json(file_report: FileReport) -> dict[str, Any]:
    assert file_report.report_path, f"no report written for {file_report.file}"
    data: dict[str, Any] = json.loads(Path(file_report.report_path).read_text("utf-8"))
    return data


@pytest.fixture
def report_json() -> Callable[[FileReport], dict[str, Any]]:
    """`report_json(report)`: the report JSON file as written beside the archived file."""
    return _report_json


def _rejects(file_report: FileReport) -> list[dict[str, str]]:
    assert file_report.rejects_path, f"no rejects file for {file_report.file}"
    with Path(file_report.rejects_path).open(newline="", encoding="utf-8") as handle:
        return list(csv.DictReader(handle))


@pytest.fixture
def rejects_of() -> Callable[[FileReport], list[dict[str, str]]]:
    """`rejects_of(report)`: the rows (file, line, column, reason, raw) of its rejects CSV."""
    return _rejects


@pytest.fixture(autouse=True)
def _no_clientela_env(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Tests choose home and instance explicitly; the caller's environment must not leak in."""
    monkeypatch.delenv("CLIENTELA_HOME", raising=False)
    monkeypatch.delenv("CLIENTELA_INSTANCE", raising=False)
    yield
