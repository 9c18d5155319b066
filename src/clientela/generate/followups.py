"""What happens to an order after its day: fulfilment or cancellation re-sends, and returns."""

from __future__ import annotations

from collections import defaultdict

import numpy as np
import numpy.typing as npt

from clientela.generate.batch import IntArray, OrderBatch, Status
from clientela.generate.calendar import Calendar
from clientela.generate.stores import WEB

PLACED_CANCELLED = 0.12
"""Placed web orders that end cancelled; the others are re-sent as fulfilled."""
VOIDED = 0.01
"""Fulfilled orders re-sent as cancelled days later (voided tickets, failed payments)."""
RETURNED_WEB = 0.05
RETURNED_STORE = 0.025
RETURNED_LINE = 0.6
"""Share of an order's lines that a return gives back (at least one)."""


class FollowUps:
    """Re-sends and returns waiting for their day."""

    def __init__(self, calendar: Calendar) -> None:
        self._calendar = calendar
        self._updates: defaultdict[int, list[OrderBatch]] = defaultdict(list)
        self._returns: defaultdict[int, list[OrderBatch]] = defaultdict(list)

    def plan(self, rng: np.random.Generator, day: int, orders: OrderBatch) -> None:
        """Decide the fate of a day's new (numbered) orders."""
        n = orders.orders
        placed = orders.status == Status.PLACED
        cancelled = rng.random(n) < np.where(placed, PLACED_CANCELLED, VOIDED)
        settled = day + np.where(cancelled & ~placed, rng.integers(1, 8, n),
                                 rng.integers(1, 6, n))
        updated = placed | cancelled
        new_status = np.where(cancelled, Status.CANCELLED, Status.FULFILLED).astype(np.int64)
        self._add(self._updates, orders, updated, settled, new_status)
        share = np.where(orders.store == WEB, RETURNED_WEB, RETURNED_STORE)
        returned = ~cancelled & (rng.random(n) < share)
        returned_on = np.where(updated, settled, day) + rng.integers(2, 31, n)
        self._add(self._returns, orders.keep_lines(self._returned_lines(rng, orders)), returned,
                  returned_on, None)

    def updates(self, day: int) -> list[OrderBatch]:
        """Orders re-sent on `day` with their new status, their lines again unchanged."""
        return self._updates.pop(day, [])

    def returns(self, day: int) -> list[OrderBatch]:
        """Orders (with only the lines given back) returned on `day`."""
        return self._returns.pop(day, [])

    @staticmethod
    def _returned_lines(rng: np.random.Generator, orders: OrderBatch) -> npt.NDArray[np.bool_]:
        kept = rng.random(orders.lines) < RETURNED_LINE
        first_line = np.cumsum(orders.line_counts()) - orders.line_counts()
        none_kept = np.bincount(orders.line_order, weights=kept, minlength=orders.orders) == 0
        kept[first_line[none_kept]] = True
        return kept

    def _add(self, pending: defaultdict[int, list[OrderBatch]], orders: OrderBatch,
             chosen: npt.NDArray[np.bool_], on_day: IntArray, status: IntArray | None) -> None:
        on_day = self._calendar.next_open_day(on_day)
        chosen = chosen & (on_day < self._calendar.days)
        for target in np.unique(on_day[chosen]).tolist():
            picked = np.flatnonzero(chosen & (on_day == target)).astype(np.int64)
            batch = orders.take(picked)
            if status is not None:
                batch = batch.with_columns(status=status[picked])
            pending[target].append(batch)
