"""Files are streamed, never read whole: chunked probing and bounded Python memory."""

from __future__ import annotations

import gzip
import hashlib
import random
import tracemalloc
from collections.abc import Callable
from datetime import date
from pathlib import Path
from typing import Any

import pytest

from clientela.config import Instance, open_instance
from clientela.ingest import probe as probe_module
from clientela.ingest.importer import ImportResult, run_import
from clientela.ingest.probe import FileRefusedError, detect_delimiter, probe, split_header
from clientela.ingest.report import FileReport

DAY = date(2025, 1, 1)
LINES_HEADER = b"StoreCode|OrderNumber|LineNumber|Quantity|ItemCode|Price|ItemName\n"

WriteDay = Callable[..., dict[str, Path]]
Query = Callable[..., list[tuple[Any, ...]]]
ReportOf = Callable[[ImportResult, str | Path], FileReport]


def _lines_file(count: int, name: str = "Camiseta", last: bytes = b"") -> bytes:
    rows = b"".join(b"S1|o1|%d|1|SKU%d|10.00|%s\n" % (n, n, name.encode())
                    for n in range(1, count + 1))
    return LINES_HEADER + rows + last


def test_multi_chunk_file_with_one_bad_byte_in_the_last_chunk(
        instance: Instance, drop: Path, write_day: WriteDay, query: Query,
        report_of: ReportOf, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(probe_module, "CHUNK", 256)
    # 200 ASCII lines, then one line with é written as the single Windows-1252 byte 0xE9.
    content = _lines_file(200, last=b"S1|o1|201|1|SKU201|10.00|Polera caf\xe9\n")
    assert len(content) > 20 * 256 and b"\xe9" not in content[:-256]
    files = write_day(drop, instance, DAY, lines=content, categories=[])
    chunks: list[int] = []

    probed = probe(files["lines"], instance.temp, chunks.append)

    assert len(chunks) > 20 and max(chunks) == 256 and sum(chunks) == len(content)
    assert (probed.encoding, probed.lines, probed.delimiter) == ("windows-1252", 202, "|")
    assert probed.checksum == hashlib.sha256(content).hexdigest()
    assert probed.header[-1] == "ItemName"
    assert probed.readable != files["lines"]
    probed.readable.unlink()

    result = run_import(instance, [drop])

    lines = report_of(result, files["lines"])
    assert (lines.encoding, lines.rows_read, lines.inserted, lines.rejected) == (
        "windows-1252", 201, 201, 0)
    assert query(instance, "SELECT item_name FROM order_lines WHERE line_number = 201") == [
        ("Polera café",)]


def test_utf8_character_split_across_chunks_stays_utf8(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(probe_module, "CHUNK", 64)
    content = _lines_file(50, name="Muñoz ñandú")
    path = tmp_path / "ICOMMKT_ORDERSDETAIL_DEMO_20250101.txt"
    path.write_bytes(content)
    # Some chunk boundary falls inside a two-byte character.
    assert any(content[k - 1] == 0xC3 for k in range(64, len(content), 64))

    probed = probe(path, tmp_path)

    assert (probed.encoding, probed.readable, probed.lines) == ("utf-8", path, 51)


def test_bad_lead_byte_before_an_ascii_chunk_is_not_utf8(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Windows-1252 `Ã` ending a chunk, an ASCII chunk, then `±` starting the next one."""
    monkeypatch.setattr(probe_module, "CHUNK", 64)
    head = LINES_HEADER[:63] + b"\xc3"
    ascii_chunk = b"x" * 64
    tail = b"\xb1" + b"\n" + b"S1|o1|1|1|SKU1|10.00|a\n"
    path = tmp_path / "ICOMMKT_ORDERSDETAIL_DEMO_20250101.txt"
    path.write_bytes(head + ascii_chunk + tail)

    probed = probe(path, tmp_path)

    assert probed.encoding == "windows-1252"


def test_gz_is_streamed_and_checksummed_as_delivered(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(probe_module, "CHUNK", 128)
    content = _lines_file(100)
    compressed = gzip.compress(content)
    path = tmp_path / "ICOMMKT_ORDERSDETAIL_DEMO_20250101.txt.gz"
    path.write_bytes(compressed)

    probed = probe(path, tmp_path)

    assert probed.checksum == hashlib.sha256(compressed).hexdigest()
    assert (probed.size, probed.lines, probed.encoding) == (len(content), 101, "utf-8")


def test_overlong_line_found_across_chunks(tmp_path: Path,
                                           monkeypatch: pytest.MonkeyPatch) -> None:
    """The streaming check agrees with splitting the whole file, whatever the chunking."""
    generator = random.Random(7)
    path = tmp_path / "ICOMMKT_ORDERSDETAIL_DEMO_20250101.txt"
    for _ in range(300):
        limit = generator.randint(3, 12)
        monkeypatch.setattr(probe_module, "CHUNK", generator.randint(1, 20))
        lengths = [generator.choice([0, 1, 2, limit - 1, limit, limit + 1, 2 * limit + 3])
                   for _ in range(generator.randint(1, 8))]
        content = b"H\n" + b"".join(b"x" * n + b"\n" for n in lengths)
        if generator.random() < 0.3:
            content = content[:-1]  # no final line end
        path.write_bytes(content)
        expected = next((n for n, line in enumerate(content.split(b"\n"), start=1)
                         if len(line) > limit), None)

        if expected is None:
            assert probe(path, tmp_path, max_line_length=limit).size == len(content)
        else:
            with pytest.raises(FileRefusedError) as caught:
                probe(path, tmp_path, max_line_length=limit)
            assert str(caught.value) == (
                f"line {expected} is longer than {limit} bytes (max_line_length in "
                "clientela.toml)"), (content, probe_module.CHUNK)


def test_line_longer_than_max_line_length_refuses_the_file(
        instance: Instance, home: Path, drop: Path, write_day: WriteDay, query: Query,
        report_of: ReportOf) -> None:
    config = instance.config_path
    config.write_text(config.read_text().replace("max_line_length = 1048576",
                                                 "max_line_length = 1024"))
    instance = open_instance("demo", home=home)
    files = write_day(drop, instance, DAY, customers=[
        "u1|ana@example.com|Ana|Pérez", "u2|bea@example.com|" + "B" * 1100 + "|Soto"])

    result = run_import(instance, [drop])

    customers = report_of(result, files["customers"])
    assert (customers.outcome, customers.message) == (
        "refused", "line 3 is longer than 1,024 bytes (max_line_length in clientela.toml)")
    # The rest of the day loads, and nothing is left blocking the queue.
    assert result.days_loaded == [DAY]
    assert query(instance, "SELECT count(*) FROM orders") == [(1,)]
    assert list(instance.inbox.iterdir()) == []


def test_windows_1252_line_near_the_limit_still_loads(
        instance: Instance, home: Path, drop: Path, write_day: WriteDay, query: Query,
        report_of: ReportOf) -> None:
    """A line within the limit as delivered may grow past it when transcoded to UTF-8."""
    config = instance.config_path
    config.write_text(config.read_text().replace("max_line_length = 1048576",
                                                 "max_line_length = 1024"))
    instance = open_instance("demo", home=home)
    note = "ñ" * 1000
    files = write_day(drop, instance, DAY, customers=(
        f"UserId|Email|Nota\nu1|a@example.com|{note}\n".encode("cp1252")))

    result = run_import(instance, [drop])

    assert report_of(result, files["customers"]).inserted == 1
    assert query(instance, "SELECT attributes['Nota'] FROM customers") == [(note,)]


def test_control_characters_refuse_the_file(tmp_path: Path) -> None:
    path = tmp_path / "ICOMMKT_ORDERSDETAIL_DEMO_20250101.txt"
    path.write_bytes(LINES_HEADER + bytes(range(1, 17)) + b"\n")

    with pytest.raises(FileRefusedError, match="holds control characters"):
        probe(path, tmp_path)


@pytest.mark.parametrize(("header", "expected"), [
    ("a|b|c", "|"), ("a;b;c", ";"), ("a,b,c", ","), ("a\tb\tc", "\t"), ("single", "|"),
    ('"a;b",c,d', ","), ("a|b;c|d", "|"), ("a;b|c;d", ";"),
])
def test_detect_delimiter(header: str, expected: str) -> None:
    assert detect_delimiter(header) == expected


def test_split_header_unquotes_and_trims() -> None:
    assert split_header(' UserId ;"Email";"Say ""hi"""', ";") == ["UserId", "Email", 'Say "hi"']


def _big_file(path: Path, target_bytes: int, encoding: str) -> None:
    block = "".join(f"S1|o{n}|1|1|SKU{n}|10.50|Polera Muñoz café talla M\n"
                    for n in range(5000)).encode(encoding)
    with path.open("wb") as out:
        out.write(LINES_HEADER)
        written = 0
        while written < target_bytes:
            out.write(block)
            written += len(block)


@pytest.mark.parametrize("encoding", ["utf-8", "cp1252"])
def test_probe_memory_stays_far_below_the_file_size(tmp_path: Path, encoding: str) -> None:
    path = tmp_path / "ICOMMKT_ORDERSDETAIL_DEMO_20250101.txt"
    _big_file(path, 50_000_000, encoding)
    size = path.stat().st_size

    tracemalloc.start()
    try:
        probed = probe(path, tmp_path)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()

    assert probed.encoding == ("utf-8" if encoding == "utf-8" else "windows-1252")
    assert probed.lines > 800_000
    # Bounded by the chunk size, not by the file: a 2 GB file costs the same.
    assert peak < 8 * probe_module.CHUNK, f"peak {peak:,} bytes for a {size:,}-byte file"
    assert peak < size / 5
    if encoding == "cp1252":
        # The transcoded copy is complete and is UTF-8.
        with probed.readable.open("rb") as copy:
            copy.seek(-200, 2)
            assert "Muñoz café" in copy.read().decode("utf-8", errors="ignore")
