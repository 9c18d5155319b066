"""One streaming pass over a delivered file: checksum, encoding, header, delimiter, line count.

A file is never read into memory whole: it is streamed in chunks, so a 2 GB file costs a few
megabytes. Files that are not valid UTF-8 are transcoded from Windows-1252 into a UTF-8 copy
(what Spanish-language ERPs produce); gzip files are read by DuckDB as they are.
"""

from __future__ import annotations

import codecs
import gzip
import hashlib
import zlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

CHUNK = 1 << 20
"""Bytes read at a time; what the probe holds in memory is a few times this."""
DELIMITERS = ("|", ";", "\t", ",")
# Control characters never found in text files; one absent from the file separates nothing,
# so DuckDB hands each physical line over whole and its row number is the line number.
LINE_READER_SEPARATORS = tuple(chr(c) for c in (1, 2, 3, 4, 5, 6, 7, 8, 14, 15, 16))

Progress = Callable[[int], None]
"""Called with the number of bytes just processed."""


class FileRefusedError(Exception):
    """The whole file cannot be loaded; the message says why in the user's terms."""


@dataclass(frozen=True)
class ProbedFile:
    path: Path
    """The file as delivered (staged in the inbox)."""
    readable: Path
    """A UTF-8 file DuckDB can read: the delivered file itself or a transcoded copy."""
    checksum: str
    size: int
    encoding: str
    """`utf-8`, `utf-8 with BOM` or `windows-1252`."""
    lines: int
    header: list[str]
    delimiter: str
    line_reader_separator: str


def _c1_passthrough(error: UnicodeError) -> tuple[str, int]:
    # Windows-1252 leaves five bytes undefined; keep them as the C1 controls (as browsers do)
    # rather than losing them.
    assert isinstance(error, UnicodeDecodeError)
    return chr(error.object[error.start]), error.start + 1


codecs.register_error("clientela_c1", _c1_passthrough)


def _open(path: Path) -> BinaryIO:
    if path.name.lower().endswith(".gz"):
        return gzip.open(path, "rb")  # type: ignore[return-value]
    return path.open("rb")


def _chunks(stream: BinaryIO) -> Iterator[bytes]:
    while chunk := stream.read(CHUNK):
        yield chunk


def probe(path: Path, scratch: Path, progress: Progress | None = None,
          max_line_length: int | None = None) -> ProbedFile:
    """Read the file once; refuse it whole when it is empty, not gzip, has no header line, or
    has a line longer than `max_line_length` bytes."""
    checksum = hashlib.sha256()
    compressed = path.name.lower().endswith(".gz")
    if compressed:
        with path.open("rb") as raw:
            for chunk in _chunks(raw):
                checksum.update(chunk)
    decoder = codecs.getincrementaldecoder("utf-8")()
    utf8 = True
    absent = set(LINE_READER_SEPARATORS)
    lines = 0
    first = b""
    last = b""
    size = 0
    pending = 0
    """Bytes of the line still open at the end of the chunks read so far."""
    try:
        with _open(path) as stream:
            for chunk in _chunks(stream):
                if not compressed:
                    checksum.update(chunk)
                size += len(chunk)
                if max_line_length:
                    at = _overlong_line(chunk, pending, max_line_length)
                    if at is not None:
                        line = lines + chunk.count(b"\n", 0, at) + 1
                        raise FileRefusedError(
                            f"line {line:,} is longer than "
                            f"{max_line_length:,} bytes (max_line_length in clientela.toml)")
                    newline = chunk.rfind(b"\n")
                    pending = pending + len(chunk) if newline < 0 else len(chunk) - newline - 1
                lines += chunk.count(b"\n")
                if len(first) < 65536:
                    first += chunk[: 65536 - len(first)]
                last = chunk[-1:]
                # An ASCII chunk is valid UTF-8 on its own, unless a character is pending.
                if utf8 and (not chunk.isascii() or decoder.getstate()[0]):
                    try:
                        decoder.decode(chunk)
                    except UnicodeDecodeError:
                        utf8 = False
                for separator in list(absent):
                    if separator.encode() in chunk:
                        absent.discard(separator)
                if progress:
                    progress(len(chunk))
            if utf8:
                try:
                    decoder.decode(b"", final=True)
                except UnicodeDecodeError:
                    utf8 = False
    except (gzip.BadGzipFile, EOFError, zlib.error) as error:
        raise FileRefusedError(f"not a valid gzip file ({error})") from None
    if size == 0:
        raise FileRefusedError("the file is empty: every daily file needs at least its header row")
    if last != b"\n":
        lines += 1
    if not absent:
        raise FileRefusedError("the file holds control characters \\x01-\\x10; "
                               "it is not a text file")
    encoding = "utf-8" if utf8 else "windows-1252"
    if first.startswith(codecs.BOM_UTF8):
        encoding = "utf-8 with BOM"
    header_bytes = first.split(b"\n", 1)[0].removeprefix(codecs.BOM_UTF8).rstrip(b"\r")
    header_line = header_bytes.decode("utf-8" if utf8 else "cp1252", errors="clientela_c1")
    if not header_line.strip():
        raise FileRefusedError("the first line is empty: every daily file starts with a header row")
    delimiter = detect_delimiter(header_line)
    header = split_header(header_line, delimiter)
    readable = path
    if not utf8:
        readable = scratch / (path.name.removesuffix(".gz") + ".utf8")
        _transcode(path, readable)
    return ProbedFile(path, readable, checksum.hexdigest(), size, encoding, lines, header,
                      delimiter, min(absent))


def _overlong_line(chunk: bytes, pending: int, limit: int) -> int | None:
    """A position in `chunk` inside a line longer than `limit` bytes, if there is one.

    `pending` bytes of the chunk's first line came in earlier chunks. Jumps a window of
    `limit` bytes at a time, so a chunk of short lines costs a handful of `rfind`s.
    """
    first = chunk.find(b"\n")
    if pending + (len(chunk) if first < 0 else first) > limit:
        return 0
    if first < 0:
        return None
    start = first + 1
    while len(chunk) - start > limit:
        newline = chunk.rfind(b"\n", start, start + limit + 1)
        if newline < 0:
            return start
        start = newline + 1
    return None


def detect_delimiter(header: str) -> str:
    """The candidate occurring most often outside quotes; `|` wins ties (the documented one)."""
    counts = dict.fromkeys(DELIMITERS, 0)
    quoted = False
    for char in header:
        if char == '"':
            quoted = not quoted
        elif not quoted and char in counts:
            counts[char] += 1
    best = max(DELIMITERS, key=lambda d: (counts[d], -DELIMITERS.index(d)))
    return best if counts[best] else "|"


def split_header(line: str, delimiter: str) -> list[str]:
    names = []
    for cell in line.split(delimiter):
        cell = cell.strip()
        if len(cell) >= 2 and cell[0] == cell[-1] == '"':
            cell = cell[1:-1].replace('""', '"')
        names.append(cell.strip())
    return names


def _transcode(source: Path, target: Path) -> None:
    decoder = codecs.getincrementaldecoder("cp1252")(errors="clientela_c1")
    partial = target.with_suffix(target.suffix + ".part")
    with _open(source) as stream, partial.open("wb") as out:
        for chunk in _chunks(stream):
            out.write(decoder.decode(chunk).encode("utf-8"))
        out.write(decoder.decode(b"", final=True).encode("utf-8"))
    partial.replace(target)
