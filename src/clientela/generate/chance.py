"""Randomness: independent streams per purpose and day, and probability vectors."""

from __future__ import annotations

from collections.abc import Sequence
from enum import IntEnum

import numpy as np
import numpy.typing as npt


class Stream(IntEnum):
    CATALOG = 0
    PEOPLE = 1
    ACCOUNTS = 2
    SCHEDULE = 3
    DAY = 4
    WEEK_PRICES = 5
    CYBER_PRICES = 6


def stream(seed: int, kind: Stream, *keys: int) -> np.random.Generator:
    """What a day holds depends only on the seed and the day, not on what came before."""
    return np.random.default_rng([seed, int(kind), *keys])


def normalised(weights: Sequence[float] | npt.NDArray[np.float64]) -> npt.NDArray[np.float64]:
    """Weights scaled to sum to 1."""
    values = np.asarray(weights, dtype=np.float64)
    return values / float(values.sum())
