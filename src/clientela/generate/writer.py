"""Writing the daily files: four per day, a corrected re-send, one file in Windows-1252."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import ExitStack
from pathlib import Path
from types import TracebackType

import numpy as np

from clientela.generate.batch import IntArray, OrderBatch
from clientela.generate.calendar import Calendar
from clientela.generate.cells import DELIMITER
from clientela.generate.customers import HEADER as CUSTOMERS_HEADER
from clientela.generate.customers import CustomerRows
from clientela.generate.defects import (
    LINE_DEFECTS,
    ORDER_DEFECTS,
    defect_lines,
    defect_orders,
    is_defect_day,
)
from clientela.generate.order_rows import OrderRows
from clientela.generate.summary import GenerationSummary
from clientela.ingest.filenames import daily_file_name
from clientela.schema.records import (
    CUSTOMERS,
    ORDER_LINE_CATEGORIES,
    ORDER_LINES,
    ORDERS,
    RecordSchema,
)

RESENT_FOLDER = "resent"
LEGACY_ENCODING = "cp1252"
"""One day's Customers file comes from a Windows ERP."""
CHUNK = 20_000
"""Orders or customers formatted at a time, which bounds memory on big days."""


class RowFile:
    """A delimited file written under a temporary name and renamed into place once complete."""

    def __init__(self, path: Path, header: Sequence[str], encoding: str = "utf-8") -> None:
        self.path = path
        self.rows = 0
        self._temp = path.with_name(path.name + ".tmp")
        self._out = self._temp.open("w", encoding=encoding, newline="")
        self._out.write(DELIMITER.join(header) + "\n")

    def write(self, rows: list[str]) -> None:
        if rows:
            self._out.write("\n".join(rows))
            self._out.write("\n")
        self.rows += len(rows)

    def __enter__(self) -> RowFile:
        return self

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None,
                 trace: TracebackType | None) -> None:
        self._out.close()
        if kind is None:
            self._temp.replace(self.path)
        else:
            self._temp.unlink()


def _header(schema: RecordSchema) -> list[str]:
    return [f.name for f in schema.fields]


def _chunks(batch: OrderBatch) -> Iterator[OrderBatch]:
    for begin in range(0, batch.orders, CHUNK):
        yield batch.take(np.arange(begin, min(begin + CHUNK, batch.orders), dtype=np.int64))


class DailyFiles:
    """Writes each day's files into the output folder and counts them in the summary."""

    def __init__(self, out_dir: Path, instance: str, calendar: Calendar, order_rows: OrderRows,
                 customer_rows: CustomerRows, summary: GenerationSummary) -> None:
        self._out_dir = out_dir
        self._instance = instance
        self._calendar = calendar
        self._order_rows = order_rows
        self._customer_rows = customer_rows
        self._summary = summary
        out_dir.mkdir(parents=True, exist_ok=True)

    def _path(self, schema: RecordSchema, day: int, folder: Path | None = None) -> Path:
        name = daily_file_name(schema, self._instance, self._calendar.dates[day])
        return (folder or self._out_dir) / name

    def orders(self, day: int, batch: OrderBatch) -> None:
        """The Orders, OrderDetails and OrderDetailCategories files of a day."""
        rows = self._order_rows
        with ExitStack() as stack:
            orders, lines, categories = (
                stack.enter_context(RowFile(self._path(schema, day), _header(schema)))
                for schema in (ORDERS, ORDER_LINES, ORDER_LINE_CATEGORIES)
            )
            for chunk in _chunks(batch):
                orders.write(rows.orders(chunk))
                lines.write(rows.lines(chunk))
                categories.write(rows.categories(chunk))
            if is_defect_day(day):
                orders.write(defect_orders(day, self._calendar.dates[day]))
                lines.write(defect_lines(day))
                self._summary.defective_rows += ORDER_DEFECTS + LINE_DEFECTS
        summary = self._summary
        summary.files.extend((orders.path, lines.path, categories.path))
        summary.orders += orders.rows
        summary.order_lines += lines.rows
        summary.category_rows += categories.rows

    def resent_orders(self, day: int, batch: OrderBatch) -> None:
        """A corrected Orders file of a day, same name, in the `resent` folder."""
        folder = self._out_dir / RESENT_FOLDER
        folder.mkdir(exist_ok=True)
        with RowFile(self._path(ORDERS, day, folder), _header(ORDERS)) as orders:
            for chunk in _chunks(batch):
                orders.write(self._order_rows.orders(chunk))
        self._summary.resent_files.append(orders.path)

    def customers(self, day: int, records: IntArray) -> int:
        """The Customers file of a day; returns its number of rows."""
        summary = self._summary
        records = self._customer_rows.export_order(records)
        chunks = [records[begin:begin + CHUNK] for begin in range(0, len(records), CHUNK)]
        first = self._customer_rows.rows(day, chunks[0]) if chunks else []
        # From a quarter of the way, the first Customers file with accents comes from a
        # Windows ERP: not valid UTF-8.
        legacy = (not summary.legacy_encoded_files and day >= self._calendar.days // 4
                  and not all(row.isascii() for row in first))
        path = self._path(CUSTOMERS, day)
        with RowFile(path, CUSTOMERS_HEADER, LEGACY_ENCODING if legacy else "utf-8") as out:
            out.write(first)
            for chunk in chunks[1:]:
                out.write(self._customer_rows.rows(day, chunk))
        if legacy:
            summary.legacy_encoded_files.append(path)
        summary.files.append(path)
        summary.customers += out.rows
        return out.rows
