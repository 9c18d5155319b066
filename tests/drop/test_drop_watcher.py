"""When the watcher takes a file from the drop folder, and what becomes of it."""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Callable
from datetime import date
from pathlib import Path

from clientela.config import Instance, open_instance
from clientela.drop.watcher import DropWatcher, import_taken

DAY = date(2025, 1, 1)


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def _set(instance: Instance, line: str, value: str) -> Instance:
    text = instance.config_path.read_text("utf-8")
    key = line.split(" = ")[0]
    replaced = "\n".join(f"{key} = {value}" if row.startswith(f"{key} = ") else row
                         for row in text.splitlines())
    instance.config_path.write_text(replaced + "\n", "utf-8")
    return open_instance(instance.name, home=instance.root.parent)


def test_a_file_is_taken_once_its_size_has_been_stable(instance: Instance) -> None:
    clock = Clock()
    watcher = DropWatcher(instance, clock)
    growing = instance.drop / "ICOMMKT_ORDERS_DEMO_20250101.txt"
    growing.write_bytes(b"OrderNumber|StoreCode\n")

    assert watcher.take() == []
    clock.now += 59
    assert watcher.take() == []
    with growing.open("ab") as out:  # still being written: the wait starts again
        out.write(b"o1|S1\n")
    clock.now += 30
    assert watcher.take() == []
    clock.now += 59
    assert watcher.take() == []
    clock.now += 1
    taken = watcher.take()

    assert [(t.name, t.bytes, t.complete_by) for t in taken] == [(growing.name, 28, "stable")]
    assert not growing.exists()
    assert (instance.processing / growing.name).read_bytes() == b"OrderNumber|StoreCode\no1|S1\n"


def test_an_upload_reported_closed_is_taken_at_once_unless_changed_since(
        instance: Instance) -> None:
    watcher = DropWatcher(instance, Clock())
    closed = instance.drop / "ICOMMKT_ORDERS_DEMO_20250101.txt"
    closed.write_bytes(b"whole\n")
    rewritten = instance.drop / "ICOMMKT_CUSTOMERS_DEMO_20250101.txt"
    rewritten.write_bytes(b"first\n")
    watcher.upload_closed(closed)
    watcher.upload_closed(rewritten)
    rewritten.write_bytes(b"written again by someone else\n")

    assert [(t.name, t.complete_by) for t in watcher.take()] == [(closed.name, "closed")]
    assert rewritten.exists()


def test_names_of_uploads_in_progress_are_never_taken(instance: Instance) -> None:
    clock = Clock()
    watcher = DropWatcher(instance, clock)
    for name in (".ICOMMKT_ORDERS_DEMO_20250101.txt", "ICOMMKT_ORDERS_DEMO_20250101.txt.part",
                 "ICOMMKT_ORDERS_DEMO_20250101.txt.filepart", "x.tmp"):
        (instance.drop / name).write_bytes(b"half")
    watcher.take()
    clock.now += 10_000

    assert watcher.take() == []
    assert len(list(instance.drop.iterdir())) == 4


def test_marker_mode_takes_only_files_with_a_done_marker(instance: Instance) -> None:
    instance = _set(instance, "complete_when", '"marker"')
    clock = Clock()
    watcher = DropWatcher(instance, clock)
    orders = instance.drop / "ICOMMKT_ORDERS_DEMO_20250101.txt"
    orders.write_bytes(b"data\n")
    watcher.upload_closed(orders)
    watcher.take()
    clock.now += 10_000
    assert watcher.take() == []

    (instance.drop / (orders.name + ".done")).touch()
    taken = watcher.take()

    assert [(t.name, t.complete_by) for t in taken] == [(orders.name, "marker")]
    assert list(instance.drop.iterdir()) == []


def test_taken_files_are_imported_archived_or_refused_with_their_report(
        instance: Instance, write_day: Callable[..., dict[str, Path]]) -> None:
    write_day(instance.drop, instance, DAY)
    (instance.drop / "notes.txt").write_text("not a daily file\n", "utf-8")
    watcher = DropWatcher(instance, Clock())
    for path in instance.drop.iterdir():
        watcher.upload_closed(path)
    taken = watcher.take()

    result = import_taken(instance, taken)

    assert result.days_loaded == [DAY]
    assert sorted(p.name for p in (instance.archive / "20250101").iterdir()) == sorted(
        t.name for t in taken if t.name != "notes.txt")
    report = json.loads((instance.rejected / "unnamed" / "notes.txt.report.json").read_text())
    assert report["outcome"] == "refused"
    assert (instance.rejected / "unnamed" / "notes.txt").read_text() == "not a daily file\n"
    for folder in (instance.drop, instance.processing, instance.inbox):
        assert list(folder.iterdir()) == []
    con = sqlite3.connect(instance.operational_path)
    rows = con.execute("SELECT name, complete_by, outcome FROM drop_files ORDER BY name").fetchall()
    con.close()
    assert rows == sorted((t.name, "closed", "refused" if t.name == "notes.txt" else "received")
                          for t in taken)


def test_files_left_in_processing_by_a_crash_are_imported(
        instance: Instance, write_day: Callable[..., dict[str, Path]]) -> None:
    write_day(instance.processing, instance, DAY)
    watcher = DropWatcher(instance, Clock())

    assert watcher.pending()
    assert import_taken(instance, []).days_loaded == [DAY]
    assert not watcher.pending()
