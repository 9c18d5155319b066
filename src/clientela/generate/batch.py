"""Orders and their lines as column arrays: one day's new orders, re-sends, returns."""

from __future__ import annotations

from dataclasses import dataclass, fields, replace
from typing import Any

import numpy as np
import numpy.typing as npt

IntArray = npt.NDArray[np.int64]


class Status:
    """Order statuses as sent in the Orders file; blank means fulfilled."""

    BLANK = 0
    PLACED = 1
    FULFILLED = 2
    CANCELLED = 3
    CELLS = ("", "placed", "fulfilled", "cancelled")


@dataclass(frozen=True)
class OrderBatch:
    # One entry per order.
    account: IntArray
    store: IntArray
    number: IntArray
    day: IntArray
    """Day index of the order's Date (earlier than the file's day for re-sent orders)."""
    second: IntArray
    status: IntArray
    promo: IntArray
    delivery: IntArray
    payment: IntArray
    discount: IntArray
    """Cents, tax included."""
    shipping: IntArray
    is_return: npt.NDArray[np.bool_]
    # One entry per line, the lines of an order together and in order.
    line_order: IntArray
    """Index of the line's order in this batch."""
    product: IntArray
    level: IntArray
    """Sale level of the unit price (see catalog.SALE_LEVELS)."""
    quantity: IntArray
    """Negative on return documents."""
    seller: IntArray

    @property
    def orders(self) -> int:
        return len(self.account)

    @property
    def lines(self) -> int:
        return len(self.line_order)

    def line_counts(self) -> IntArray:
        return np.bincount(self.line_order, minlength=self.orders).astype(np.int64)

    def line_numbers(self) -> IntArray:
        """1, 2, ... within each order."""
        counts = self.line_counts()
        return np.arange(self.lines, dtype=np.int64) - np.repeat(np.cumsum(counts) - counts,
                                                                 counts) + 1

    def take(self, orders: IntArray) -> OrderBatch:
        """The given orders, in that order, with their lines."""
        counts = self.line_counts()
        starts = np.cumsum(counts) - counts
        kept = counts[orders]
        lines = np.repeat(starts[orders] - (np.cumsum(kept) - kept), kept) + np.arange(kept.sum())
        return self._select(orders, lines, np.repeat(np.arange(len(orders)), kept))

    def keep_lines(self, mask: npt.NDArray[np.bool_]) -> OrderBatch:
        """Only the masked lines; every order must keep at least one."""
        lines = np.flatnonzero(mask).astype(np.int64)
        return self._select(np.arange(self.orders, dtype=np.int64), lines, self.line_order[lines])

    def _select(self, orders: IntArray, lines: IntArray, line_order: IntArray) -> OrderBatch:
        columns: dict[str, npt.NDArray[Any]] = {}
        for f in fields(self):
            values = getattr(self, f.name)
            columns[f.name] = values[lines] if f.name in _LINE_COLUMNS else values[orders]
        columns["line_order"] = line_order.astype(np.int64)
        return OrderBatch(**columns)

    def with_columns(self, **columns: npt.NDArray[Any]) -> OrderBatch:
        return replace(self, **columns)


_LINE_COLUMNS = frozenset({"line_order", "product", "level", "quantity", "seller"})


def concat(batches: list[OrderBatch]) -> OrderBatch:
    """The orders of all batches, one after the other."""
    if not batches:
        return empty_batch()
    offsets = np.cumsum([0, *(b.orders for b in batches)])
    columns: dict[str, npt.NDArray[Any]] = {}
    for f in fields(OrderBatch):
        parts = [getattr(b, f.name) for b in batches]
        if f.name == "line_order":
            parts = [p + offset for p, offset in zip(parts, offsets[:-1], strict=True)]
        columns[f.name] = np.concatenate(parts)
    return OrderBatch(**columns)


def empty_batch() -> OrderBatch:
    columns: dict[str, npt.NDArray[Any]] = {
        f.name: np.zeros(0, dtype=np.bool_ if f.name == "is_return" else np.int64)
        for f in fields(OrderBatch)
    }
    return OrderBatch(**columns)
