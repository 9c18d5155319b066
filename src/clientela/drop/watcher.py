"""Taking complete files from a drop folder, and importing them.

A file is complete when one of these says so (`sftp.complete_when = "auto"`):

- the built-in SFTP server reports its upload closed by the client (`upload_closed`);
- a marker `NAME.done` stands beside it (the sender writes it after the file);
- its size and modification time have not changed for `sftp.stable_seconds` (any other writer:
  OpenSSH, a copy).

With `complete_when = "marker"` only the marker counts. Names a sender uses while uploading
(dot-names, `*.part`, `*.filepart`, `*.tmp`) are never taken. A complete file is moved
atomically to `processing/` (the sender can no longer change it), then into the inbox, and the
import loads every day that can load; each file ends in `archive/` or `rejected/` with its report.
"""

from __future__ import annotations

import logging
import os
import shutil
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from clientela.config import Instance
from clientela.ingest.importer import ImportResult, run_import
from clientela.stores import operational

log = logging.getLogger("clientela.drop")

MARKER = ".done"
UPLOADING_SUFFIXES = (".part", ".filepart", ".tmp", ".partial", MARKER)


@dataclass(frozen=True)
class Taken:
    name: str
    bytes: int
    complete_by: str
    """closed (built-in server), marker (NAME.done) or stable (size unchanged)."""


@dataclass
class _Seen:
    size: int
    mtime_ns: int
    since: float


class DropWatcher:
    """Watches one instance's drop folder. Not thread-safe: call it from one thread (the
    service's event loop)."""

    def __init__(self, instance: Instance, clock: Callable[[], float] = time.monotonic) -> None:
        self.instance = instance
        self._clock = clock
        self._closed: dict[str, tuple[int, int]] = {}
        self._seen: dict[str, _Seen] = {}

    def upload_closed(self, path: Path) -> None:
        """The built-in server's word that this upload is whole (as it is now on disk)."""
        try:
            info = path.stat()
        except FileNotFoundError:
            return
        self._closed[path.name] = (info.st_size, info.st_mtime_ns)

    def take(self) -> list[Taken]:
        """Move every complete file of the drop folder to `processing/`."""
        folder = self.instance.drop
        settings = self.instance.settings.sftp
        now = self._clock()
        taken = []
        present = set()
        for entry in sorted(os.scandir(folder), key=lambda e: e.name) if folder.is_dir() else ():
            name = entry.name
            if name.startswith(".") or name.endswith(UPLOADING_SUFFIXES) or not entry.is_file(
                    follow_symlinks=False):
                continue
            present.add(name)
            info = entry.stat(follow_symlinks=False)
            marker = folder / (name + MARKER)
            how = None
            if marker.exists():
                how = "marker"
            elif settings.complete_when == "auto":
                if self._closed.get(name) == (info.st_size, info.st_mtime_ns):
                    how = "closed"
                else:
                    seen = self._seen.get(name)
                    if seen is None or (seen.size, seen.mtime_ns) != (info.st_size,
                                                                      info.st_mtime_ns):
                        self._seen[name] = _Seen(info.st_size, info.st_mtime_ns, now)
                    elif now - seen.since >= settings.stable_seconds:
                        how = "stable"
            if how is None:
                continue
            if self._claim(folder / name):
                marker.unlink(missing_ok=True)
                taken.append(Taken(name, info.st_size, how))
                log.info("%s: took %s (%d bytes, complete: %s)", self.instance.name, name,
                         info.st_size, how)
            self._seen.pop(name, None)
            self._closed.pop(name, None)
        for gone in set(self._seen) - present:
            del self._seen[gone]
        return taken

    def _claim(self, path: Path) -> bool:
        target = self.instance.processing / path.name
        try:
            path.replace(target)
        except FileNotFoundError:  # deleted by the sender meanwhile
            return False
        except OSError as error:
            if error.errno != 18:  # EXDEV: the drop folder is on another file system
                raise
            partial = target.with_name("." + target.name + ".part")
            shutil.copyfile(path, partial)
            partial.replace(target)
            path.unlink()
        return True

    def pending(self) -> bool:
        """Files taken and not yet received into the inbox (also after a crash)."""
        return any(not p.name.startswith(".") for p in self.instance.processing.iterdir())


def import_taken(instance: Instance, taken: list[Taken]) -> ImportResult:
    """Receive what `processing/` holds into the inbox, then import every day that can load.
    Call under the instance's lock."""
    files = sorted(p for p in instance.processing.iterdir() if not p.name.startswith("."))
    result = run_import(instance, files, move=True)
    refused = {r.file for r in result.reports if r.outcome == "refused" and not r.day}
    now = datetime.now(UTC).isoformat()
    ops = operational.connect(instance)
    try:
        ops.executemany(
            "INSERT INTO drop_files (name, bytes, taken_at, complete_by, outcome) "
            "VALUES (?, ?, ?, ?, ?)",
            [(t.name, t.bytes, now, t.complete_by,
              "refused" if t.name in refused else "received") for t in taken])
    finally:
        ops.close()
    return result
