"""Cell formatting of the daily files: quoting, money, quantities, dates."""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

DELIMITER = "|"
_NEEDS_QUOTES = (DELIMITER, '"', "\n", "\r")


def quote(text: str) -> str:
    """CSV quoting for cells holding the delimiter or quotes (`a|b` -> `"a|b"`)."""
    if any(c in text for c in _NEEDS_QUOTES):
        return '"' + text.replace('"', '""') + '"'
    return text


def money(cents: int) -> str:
    """Cents as a dot decimal with 2 places; exact below 2**53 cents."""
    return f"{cents / 100:.2f}"


def money_cells(cents: npt.NDArray[np.int64]) -> list[str]:
    return [f"{c / 100:.2f}" for c in cents.tolist()]


def count_cells(values: npt.NDArray[np.int64]) -> list[str]:
    """Whole quantities as dec(7,2) cells: 3 -> `3.00`."""
    return [f"{v}.00" for v in values.tolist()]


def clock_cells() -> list[str]:
    """`HH:MM:SS` for every second of a day, indexed by second."""
    return [f"{s // 3600:02d}:{s // 60 % 60:02d}:{s % 60:02d}" for s in range(86_400)]
