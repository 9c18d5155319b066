"""The daily files: four per day, named and headed as the spec says, every day."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, timedelta
from pathlib import Path

from clientela.generate import GenerationSummary, generate_retailer
from clientela.generate.customers import CUSTOM_COLUMNS
from clientela.ingest.filenames import daily_file_name
from clientela.schema import CUSTOMERS, ORDER_LINE_CATEGORIES, ORDER_LINES, ORDERS, RECORDS

Files = Callable[[str], list[Path]]
Reader = Callable[[Path], list[dict[str, str]]]


def _header(path: Path) -> list[str]:
    with path.open("rb") as handle:
        return handle.readline().decode("ascii").rstrip("\n").split("|")


def test_four_files_every_day_named_by_the_spec(summary: GenerationSummary) -> None:
    assert summary.end == date(2026, 11, 24)
    assert summary.start == summary.end - timedelta(days=summary.days - 1)
    expected = {daily_file_name(schema, "demo", summary.start + timedelta(days=k))
                for schema in RECORDS for k in range(summary.days)}
    folder = summary.files[0].parent
    assert {p.name for p in folder.iterdir() if p.is_file()} == expected
    assert sorted(p.name for p in summary.files) == sorted(expected)


def test_headers_are_the_schema_columns(daily_files: Files) -> None:
    for tag, schema in (("ORDERS", ORDERS), ("ORDERSDETAIL", ORDER_LINES),
                        ("ORDERSDETAILCATEGORIES", ORDER_LINE_CATEGORIES)):
        for path in daily_files(tag):
            assert _header(path) == [f.name for f in schema.fields]
    customers_header = [*(f.name for f in CUSTOMERS.fields), *CUSTOM_COLUMNS]
    for path in daily_files("CUSTOMERS"):
        assert _header(path) == customers_header


def test_files_are_newline_terminated_without_carriage_returns(summary: GenerationSummary) -> None:
    for path in summary.files:
        data = path.read_bytes()
        assert data.endswith(b"\n")
        assert b"\r" not in data


def test_a_day_without_data_still_has_its_four_files_with_headers_only(
        summary: GenerationSummary) -> None:
    assert summary.header_only_days
    stamp = f"{summary.header_only_days[0]:%Y%m%d}"
    empty = list(summary.files[0].parent.glob(f"*_{stamp}.txt"))
    assert len(empty) == 4
    for path in empty:
        assert path.read_bytes().count(b"\n") == 1


def test_every_row_has_as_many_cells_as_the_header(summary: GenerationSummary,
                                                   read: Reader) -> None:
    for path in summary.files:
        columns = len(_header(path))
        for row in read(path):
            assert None not in row, f"{path.name}: too many cells"
            assert len(row) == columns


def test_about_three_orders_per_customer(summary: GenerationSummary) -> None:
    new_orders = summary.orders - summary.status_updates - summary.returns
    assert 2.4 * summary.persons < new_orders < 3.6 * summary.persons
    assert 2.5 < summary.order_lines / summary.orders < 3.6
    assert summary.customer_records > summary.persons


def test_order_totals_do_not_depend_on_the_number_of_days(tmp_path: Path) -> None:
    short = generate_retailer(tmp_path / "short", customers=300, days=5)
    long = generate_retailer(tmp_path / "long", customers=300, days=60)
    assert abs(short.orders - long.orders) < 0.25 * long.orders


def test_progress_is_reported_for_every_day(tmp_path: Path) -> None:
    calls: list[tuple[int, int]] = []
    generate_retailer(tmp_path, customers=50, days=4, start=date(2025, 12, 1),
                      progress=lambda done, total: calls.append((done, total)))
    assert calls == [(1, 4), (2, 4), (3, 4), (4, 4)]
    assert (tmp_path / "ICOMMKT_ORDERS_DEMO_20251204.txt").exists()
