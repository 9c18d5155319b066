"""File formats: encodings, line ends, quoting, delimiters, compression."""

from __future__ import annotations

import codecs
import gzip
import zipfile
from collections.abc import Callable
from datetime import date
from pathlib import Path
from typing import Any

import pytest

from clientela.config import Instance
from clientela.ingest.importer import ImportResult, run_import
from clientela.ingest.report import FileReport

DAY = date(2025, 1, 1)

WriteDay = Callable[..., dict[str, Path]]
Query = Callable[..., list[tuple[Any, ...]]]
ReportOf = Callable[[ImportResult, str | Path], FileReport]
RejectsOf = Callable[[FileReport], list[dict[str, str]]]
FileName = Callable[..., str]


def _other_files_loaded(query: Query, instance: Instance) -> None:
    """The default rows of the day's other files are in the store."""
    assert query(instance, "SELECT order_number FROM orders") == [("o1",)]
    assert query(instance, "SELECT count(*) FROM order_lines") == [(2,)]


def test_utf8_bom_is_dropped_from_the_header_and_reported(
        instance: Instance, drop: Path, write_day: WriteDay, query: Query,
        report_of: ReportOf) -> None:
    files = write_day(drop, instance, DAY, customers=(
        codecs.BOM_UTF8 + "UserId|Email|FirstName\nu1|ana@example.com|Begoña\n".encode()))

    result = run_import(instance, [drop])

    customers = report_of(result, files["customers"])
    assert (customers.encoding, customers.inserted, customers.rejected) == (
        "utf-8 with BOM", 1, 0)
    assert query(instance, "SELECT user_id, first_name FROM customers") == [("u1", "Begoña")]
    _other_files_loaded(query, instance)


def test_windows_1252_file_is_transcoded_and_reported(
        instance: Instance, drop: Path, write_day: WriteDay, query: Query,
        report_of: ReportOf) -> None:
    content = ("UserId|Email|FirstName|LastName|City\n"
               "u1|jose@example.com|José|Muñoz|Viña del Mar\n").encode("cp1252")
    assert b"\xe9" in content and b"\xf1" in content  # é and ñ as single cp1252 bytes
    files = write_day(drop, instance, DAY, customers=content)

    result = run_import(instance, [drop])

    customers = report_of(result, files["customers"])
    assert (customers.encoding, customers.inserted) == ("windows-1252", 1)
    assert query(instance, "SELECT first_name, last_name, city FROM customers") == [
        ("José", "Muñoz", "Viña del Mar")]
    _other_files_loaded(query, instance)
    # The archived file is the one delivered, not the transcoded copy.
    archived = instance.archive / "20250101" / files["customers"].name
    assert archived.read_bytes() == content
    assert not list((instance.temp).rglob("*.utf8"))


def test_utf8_file_is_not_mistaken_for_windows_1252(
        instance: Instance, drop: Path, write_day: WriteDay, query: Query,
        report_of: ReportOf) -> None:
    files = write_day(drop, instance, DAY, customers=["u1|jose@example.com|José|Muñoz"])

    result = run_import(instance, [drop])

    assert report_of(result, files["customers"]).encoding == "utf-8"
    assert query(instance, "SELECT first_name, last_name FROM customers") == [("José", "Muñoz")]


def test_crlf_line_ends(instance: Instance, drop: Path, write_day: WriteDay, query: Query,
                        report_of: ReportOf) -> None:
    def crlf(*lines: str) -> bytes:
        return "".join(f"{line}\r\n" for line in lines).encode()

    files = write_day(
        drop, instance, DAY,
        customers=crlf("UserId|Email|FirstName|LastName", "u1|ana@example.com|Ana|Pérez"),
        orders=crlf("OrderNumber|StoreCode|UserId|Date|TotalItems|TotalProducts|TotalAmount|"
                    "ItemsAmount|DiscountsAmount|ShippingAmount",
                    "o1|S1|u1|01/01/2025|3|2|30.00|25.00|0|0"),
        lines=crlf("StoreCode|OrderNumber|LineNumber|Quantity|ItemCode|Price",
                   "S1|o1|1|2|SKU1|10.00", "S1|o1|2|1|SKU2|10.00"),
        categories=crlf("StoreCode|OrderNumber|LineNumber|Category", "S1|o1|1|Ropa",
                        "S1|o1|2|Calzado"))

    result = run_import(instance, [drop])

    assert all(report_of(result, p).rejected == 0 for p in files.values())
    assert query(instance, "SELECT last_name FROM customers") == [("Pérez",)]
    assert query(instance, "SELECT shipping_amount::VARCHAR FROM orders") == [("0.00",)]
    assert query(instance, "SELECT price::VARCHAR FROM order_lines ORDER BY line_number") == [
        ("10.00",), ("10.00",)]
    assert query(instance, "SELECT category FROM order_line_categories ORDER BY line_number"
                 ) == [("Ropa",), ("Calzado",)]


def test_delimiter_inside_quotes_is_kept_whole(
        instance: Instance, drop: Path, write_day: WriteDay, query: Query,
        report_of: ReportOf) -> None:
    files = write_day(drop, instance, DAY, categories=[
        'S1|o1|1|"Hombre|Mujer"', 'S1|o1|2|"Talla ""XL"""', '"S1"|o1|2|Ropa'])

    result = run_import(instance, [drop])

    assert report_of(result, files["categories"]).rejected == 0
    assert query(instance, "SELECT line_number, category FROM order_line_categories "
                           "ORDER BY source_line") == [
        (1, "Hombre|Mujer"), (2, 'Talla "XL"'), (2, "Ropa")]
    _other_files_loaded(query, instance)


def test_malformed_quoting_is_rejected(
        instance: Instance, drop: Path, write_day: WriteDay, query: Query,
        report_of: ReportOf, rejects_of: RejectsOf) -> None:
    files = write_day(drop, instance, DAY, categories=[
        'S1|o1|1|"Hombre" y Mujer"', "S1|o1|2|Ropa"])

    result = run_import(instance, [drop])

    categories = report_of(result, files["categories"])
    assert (categories.inserted, categories.rejected) == (1, 1)
    assert [(r["line"], r["reason"]) for r in rejects_of(categories)] == [
        ("2", "malformed quoting: a quoted field must be closed and followed by the delimiter")]
    assert query(instance, "SELECT line_number, category FROM order_line_categories") == [
        (2, "Ropa")]
    _other_files_loaded(query, instance)


def test_quoted_field_spanning_two_lines(
        instance: Instance, drop: Path, write_day: WriteDay, query: Query,
        report_of: ReportOf, rejects_of: RejectsOf) -> None:
    files = write_day(drop, instance, DAY, lines=(
        b"StoreCode|OrderNumber|LineNumber|Quantity|ItemCode|Price|Description\n"
        b'S1|o1|1|2|SKU1|10.00|"Polera roja\n'
        b'talla M"\n'
        b"S1|o1|2|1|SKU2|10.00|Jeans\n"
        b"S1|o1|3|x|SKU3|10.00|bad quantity\n"))

    result = run_import(instance, [drop])

    lines = report_of(result, files["lines"])
    assert (lines.rows_read, lines.inserted, lines.rejected) == (3, 2, 1)
    assert query(instance, "SELECT line_number, description, source_line FROM order_lines "
                           "ORDER BY line_number") == [
        (1, "Polera roja\ntalla M", 2), (2, "Jeans", 4)]
    # Line numbers after the stitched record are still the file's physical lines.
    assert [(r["line"], r["column"]) for r in rejects_of(lines)] == [("5", "Quantity")]
    assert query(instance, "SELECT count(*) FROM order_line_categories") == [(2,)]


def test_quoted_field_over_three_lines_with_delimiters_inside(
        instance: Instance, drop: Path, write_day: WriteDay, query: Query,
        report_of: ReportOf) -> None:
    files = write_day(drop, instance, DAY, lines=(
        b"StoreCode|OrderNumber|LineNumber|Quantity|ItemCode|Price|Description\n"
        b'S1|o1|1|2|SKU1|10.00|"Polera\n'
        b'roja | azul, ""slim""\n'
        b'talla M"\n'
        b'S1|o1|2|1|SKU2|10.00|"Jeans"\n'))

    result = run_import(instance, [drop])

    assert report_of(result, files["lines"]).rejected == 0
    assert query(instance, "SELECT line_number, description, source_line FROM order_lines "
                           "ORDER BY 1") == [
        (1, 'Polera\nroja | azul, "slim"\ntalla M', 2), (2, "Jeans", 5)]


def test_lone_quote_inside_a_field_is_kept_and_joins_no_lines(
        instance: Instance, drop: Path, write_day: WriteDay, query: Query,
        report_of: ReportOf) -> None:
    files = write_day(drop, instance, DAY, lines=(
        b"StoreCode|OrderNumber|LineNumber|Quantity|ItemCode|Price|ItemName\n"
        b'S1|o1|1|1|TV55|10.00|TV 55" LED\n'
        b"S1|o1|2|1|CABLE|10.00|Cable HDMI\n"
        b'S1|o1|3|1|TV65|10.00|TV 65" OLED\n'
        b"S1|o1|4|1|CTRL|10.00|Control\n"))

    result = run_import(instance, [drop])

    lines = report_of(result, files["lines"])
    assert (lines.rows_read, lines.inserted, lines.rejected) == (4, 4, 0)
    assert query(instance, "SELECT line_number, item_name FROM order_lines ORDER BY 1") == [
        (1, 'TV 55" LED'), (2, "Cable HDMI"), (3, 'TV 65" OLED'), (4, "Control")]


def test_gz_files_load(instance: Instance, drop: Path, write_day: WriteDay, query: Query,
                       report_of: ReportOf) -> None:
    plain = write_day(drop / "plain", instance, DAY)
    gzipped = []
    for path in plain.values():
        target = drop / (path.name + ".gz")
        target.write_bytes(gzip.compress(path.read_bytes()))
        gzipped.append(target)

    result = run_import(instance, gzipped)

    assert [report_of(result, p).outcome for p in gzipped] == ["loaded"] * 4
    assert query(instance, "SELECT count(*) FROM customers") == [(1,)]
    assert query(instance, "SELECT count(*) FROM order_line_categories") == [(2,)]
    assert query(instance, "SELECT DISTINCT source_file FROM orders") == [
        ("ICOMMKT_ORDERS_DEMO_20250101.txt.gz",)]
    assert (instance.archive / "20250101" / gzipped[0].name).exists()


def test_gz_windows_1252_file(instance: Instance, drop: Path, write_day: WriteDay,
                              file_name: FileName, query: Query, report_of: ReportOf) -> None:
    write_day(drop, instance, DAY, customers=None)
    customers = drop / file_name("customers", instance, DAY, ".txt.gz")
    customers.write_bytes(gzip.compress(
        "UserId|Email|FirstName\nu1|a@example.com|Begoña\n".encode("cp1252")))

    result = run_import(instance, [drop])

    assert report_of(result, customers).encoding == "windows-1252"
    assert query(instance, "SELECT first_name FROM customers") == [("Begoña",)]


def test_zip_of_the_day_loads(instance: Instance, drop: Path, tmp_path: Path,
                              write_day: WriteDay, query: Query, report_of: ReportOf,
                              report_json: Callable[[FileReport], dict[str, Any]]) -> None:
    plain = write_day(tmp_path / "export", instance, DAY)
    bundle = drop / "export.zip"
    with zipfile.ZipFile(bundle, "w", zipfile.ZIP_DEFLATED) as archive:
        for path in plain.values():
            archive.write(path, f"export/{path.name}")
        archive.writestr("export/README.txt", "not a daily file")

    result = run_import(instance, [bundle])

    assert sorted(r.outcome for r in result.reports) == ["loaded"] * 4 + ["refused"]
    refused = report_of(result, "export.zip:README.txt")
    assert (refused.message or "").startswith("unknown file name 'README.txt': expected ")
    # As for a loose file: a copy and its report in rejected/unnamed/.
    assert (instance.rejected / "unnamed" / "README.txt").read_text() == "not a daily file"
    assert report_json(refused)["file"] == "export.zip:README.txt"
    assert Path(refused.report_path or "").parent == instance.rejected / "unnamed"
    assert result.days_loaded == [DAY]
    assert query(instance, "SELECT order_number FROM orders") == [("o1",)]
    assert query(instance, "SELECT count(*) FROM order_lines") == [(2,)]


def test_invalid_zip_is_refused(instance: Instance, drop: Path, report_of: ReportOf) -> None:
    bundle = drop / "export.zip"
    bundle.write_bytes(b"not a zip")

    result = run_import(instance, [bundle])

    assert report_of(result, bundle).message == (
        "not a valid zip file (File is not a zip file)")
    assert (instance.rejected / "unnamed" / "export.zip").exists()


@pytest.mark.parametrize("delimiter", [";", ",", "\t", "|"], ids=["semicolon", "comma", "tab",
                                                                  "pipe"])
def test_delimiter_is_detected_from_the_header(
        instance: Instance, drop: Path, write_day: WriteDay, query: Query,
        report_of: ReportOf, delimiter: str) -> None:
    def table(*lines: str) -> bytes:
        return "".join(line.replace("|", delimiter) + "\n" for line in lines).encode()

    files = write_day(
        drop, instance, DAY,
        customers=table("UserId|Email|City", 'u1|ana@example.com|"Santiago|Centro"'),
        orders=table("OrderNumber|StoreCode|UserId|Date|TotalItems|TotalProducts|TotalAmount|"
                     "ItemsAmount|DiscountsAmount|ShippingAmount",
                     "o1|S1|u1|01/01/2025 10:30|3|2|30.50|25.00|0|0"),
        lines=table("StoreCode|OrderNumber|LineNumber|Quantity|ItemCode|Price",
                    "S1|o1|1|2|SKU1|10.25", "S1|o1|2|1|SKU2|10.00"),
        categories=table("StoreCode|OrderNumber|LineNumber|Category", "S1|o1|1|Ropa"))

    result = run_import(instance, [drop])

    assert [report_of(result, p).delimiter for p in files.values()] == [delimiter] * 4
    assert sum(report_of(result, p).rejected for p in files.values()) == 0
    assert query(instance, "SELECT city FROM customers") == [(f"Santiago{delimiter}Centro",)]
    assert query(instance, "SELECT total_amount::VARCHAR FROM orders") == [("30.50",)]
    assert query(instance, "SELECT price::VARCHAR FROM order_lines WHERE line_number = 1") == [
        ("10.25",)]


def test_blank_lines_are_skipped_and_line_numbers_kept(
        instance: Instance, drop: Path, write_day: WriteDay, query: Query,
        report_of: ReportOf, rejects_of: RejectsOf) -> None:
    files = write_day(drop, instance, DAY, lines=(
        b"StoreCode|OrderNumber|LineNumber|Quantity|ItemCode|Price\n"
        b"S1|o1|1|2|SKU1|10.00\n\n   \nS1|o1|2|1|SKU2|10.00\nS1|o1|3|1|SKU3|x\n\n"))

    result = run_import(instance, [drop])

    lines = report_of(result, files["lines"])
    assert (lines.rows_read, lines.inserted) == (3, 2)
    assert query(instance, "SELECT source_line FROM order_lines ORDER BY 1") == [(2,), (5,)]
    assert [r["line"] for r in rejects_of(lines)] == ["6"]


def test_csv_and_txt_extensions_and_any_case_names(
        instance: Instance, drop: Path, write_day: WriteDay, query: Query) -> None:
    files = write_day(drop / "raw", instance, DAY)
    names = {"customers": "icommkt_customers_demo_20250101.csv",
             "orders": "ICOMMKT_ORDERS_Demo_20250101",
             "lines": "ICOMMKT_ORDERSDETAIL_DEMO_20250101.TXT",
             "categories": "ICOMMKT_ORDERSDETAILCATEGORIES_DEMO_20250101.csv"}
    for kind, path in files.items():
        path.rename(drop / names[kind])

    result = run_import(instance, [drop / name for name in names.values()])

    assert [r.outcome for r in result.reports] == ["loaded"] * 4
    assert query(instance, "SELECT count(*) FROM order_line_categories") == [(2,)]


def test_trailing_delimiters_on_header_or_lines_are_tolerated(
        instance: Instance, drop: Path, write_day: Callable[..., dict[str, Path]],
        query: Callable[..., list[tuple[Any, ...]]]) -> None:
    header = ("OrderNumber|StoreCode|UserId|Date|TotalItems|TotalProducts|TotalAmount|"
              "ItemsAmount|DiscountsAmount|ShippingAmount")
    orders = (f"{header}|\n"
              "o1|S1|u1|01/01/2025|3|2|30.00|25.00|0|0|\n"
              "o2|S1|u1|01/01/2025|1|1|10.00|10.00|0|0\n").encode()
    lines = (b"StoreCode|OrderNumber|LineNumber|Quantity|ItemCode|Price\n"
             b"S1|o1|1|2|SKU1|10.00|\nS1|o1|2|1|SKU2|10.00\n")
    write_day(drop, instance, date(2025, 1, 1), orders=orders, lines=lines)

    result = run_import(instance, [drop])

    assert result.rows_rejected == 0
    assert query(instance, "SELECT order_number FROM orders ORDER BY 1") == [("o1",), ("o2",)]
    assert query(instance, "SELECT count(*) FROM order_lines") == [(2,)]


def test_birth_date_with_a_time_part_keeps_the_date(
        instance: Instance, drop: Path, write_day: Callable[..., dict[str, Path]],
        query: Callable[..., list[tuple[Any, ...]]]) -> None:
    customers = (b"UserId|Email|BirthDate\nu1|a@b.cl|1985-03-02 00:00:00\n"
                 b"u2|c@d.cl|02/03/1986 00:00\n")
    write_day(drop, instance, date(2025, 1, 1), customers=customers)

    run_import(instance, [drop])

    assert query(instance, "SELECT user_id, birth_date::VARCHAR FROM customers ORDER BY 1") == [
        ("u1", "1985-03-02"), ("u2", "1986-03-02")]
