"""Everything about one file that needs only the file: probe, header, parse into scratch tables.

It runs on a worker connection, a day ahead, while the main connection merges the day before;
the merge then only reads the prepared tables.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import duckdb

from clientela.ingest.fields import Rules
from clientela.ingest.header import HeaderMap, map_header
from clientela.ingest.inbox_file import InboxFile
from clientela.ingest.probe import FileRefusedError, ProbedFile, probe
from clientela.ingest.stage import Parse, Staging, read_records, stage


@dataclass(frozen=True)
class PreparedFile:
    probed: ProbedFile | None
    refused: FileRefusedError | None = None
    """Why the whole file cannot load (probe or header), if it cannot."""
    header: HeaderMap | None = None
    parse: Parse | None = None
    rows: int = 0


def prepare(con: duckdb.DuckDBPyConnection, inbox_file: InboxFile, rules: Rules,
            max_line_length: int, names: Staging, scratch_folder: Path) -> PreparedFile:
    try:
        probed = probe(inbox_file.path, scratch_folder, None, max_line_length)
    except FileRefusedError as refused:
        return PreparedFile(None, refused)
    try:
        header = map_header(inbox_file.schema, probed.header)
    except FileRefusedError as refused:
        return PreparedFile(probed, refused)
    read_records(con, probed, max_line_length, names)
    parse = Parse(probed, inbox_file.schema, header, rules, names)
    return PreparedFile(probed, None, header, parse, stage(con, parse))
