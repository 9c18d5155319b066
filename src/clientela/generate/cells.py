"""Cell formatting of the daily files: quoting, money, quantities, dates."""

from __future__ import annotations

from typing import Any

import numpy as np
import numpy.typing as npt

from clientela.generate.stores import WEB

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
    if not (cents % 100).any():  # whole pesos, the common case, format twice as fast
        return [f"{p}.00" for p in (cents // 100).tolist()]
    return [f"{c / 100:.2f}" for c in cents.tolist()]


def count_cells(values: npt.NDArray[np.int64]) -> list[str]:
    """Whole quantities as dec(7,2) cells: 3 -> `3.00`."""
    return [f"{v}.00" for v in values.tolist()]


def clock_cells() -> list[str]:
    """`HH:MM:SS` for every second of a day, indexed by second."""
    return [f"{s // 3600:02d}:{s // 60 % 60:02d}:{s % 60:02d}" for s in range(86_400)]


def user_id_cells(local_id: npt.NDArray[np.integer[Any]],
                  store: npt.NDArray[np.integer[Any]]) -> list[str]:
    """Store POS ids are plain numbers (`17`); the web shop's are global (`W0000017`)."""
    return [f"W{i:07d}" if s == WEB else str(i)
            for i, s in zip(local_id.tolist(), store.tolist(), strict=True)]
