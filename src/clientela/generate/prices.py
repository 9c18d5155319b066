"""Markdowns: which SKUs sell below list price on a given day."""

from __future__ import annotations

import numpy as np

from clientela.generate.batch import IntArray
from clientela.generate.calendar import Calendar
from clientela.generate.chance import Stream, stream

_CLEARANCE_MONTHS = (1, 2, 7)
"""End-of-season sales (summer, then winter)."""
_LEVEL_P = np.array([0.35, 0.3, 0.2, 0.1, 0.05])
"""Of SKUs on sale: 10% ... 50% off."""


def sale_levels(seed: int, calendar: Calendar, day: int, size: int) -> IntArray:
    """Each SKU's sale level on one day: weekly markdowns, deeper on cyber days."""
    weekly = stream(seed, Stream.WEEK_PRICES, calendar.week(day))
    share = 0.35 if calendar.dates[day].month in _CLEARANCE_MONTHS else 0.12
    on_sale = weekly.random(size) < share
    levels = np.where(on_sale, 1 + weekly.choice(len(_LEVEL_P), size=size, p=_LEVEL_P), 0)
    if calendar.cyber[day]:
        cyber = stream(seed, Stream.CYBER_PRICES, day)
        deeper = np.where(cyber.random(size) < 0.5, cyber.integers(2, 5, size), 0)
        levels = np.maximum(levels, deeper)
    return levels.astype(np.int64)
