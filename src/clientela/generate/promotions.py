"""Promo codes redeemed at checkout: some all year, some only on cyber days or before Christmas."""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum

import numpy as np
import numpy.typing as npt

from clientela.generate.chance import normalised
from clientela.schema.records import LIST_SEPARATOR


class Season(Enum):
    ALWAYS = "always"
    CYBER = "cyber"
    DECEMBER = "december"


@dataclass(frozen=True)
class Promo:
    codes: tuple[str, ...]
    percent: int
    fixed: int
    """Pesos off."""
    free_shipping: bool
    season: Season
    web_only: bool
    weight: float


_PROMOS = (
    Promo((), 0, 0, False, Season.ALWAYS, False, 0.0),
    Promo(("CLUBAUSTRAL5",), 5, 0, False, Season.ALWAYS, False, 0.06),
    Promo(("BIENVENIDA10",), 10, 0, False, Season.ALWAYS, True, 0.04),
    Promo(("CUMPLE15",), 15, 0, False, Season.ALWAYS, False, 0.01),
    Promo(("DESPACHOGRATIS",), 0, 0, True, Season.ALWAYS, True, 0.05),
    Promo(("CLUBAUSTRAL5", "DESPACHOGRATIS"), 5, 0, True, Season.ALWAYS, True, 0.02),
    Promo(("CYBER20",), 20, 0, False, Season.CYBER, False, 0.35),
    Promo(("CYBER20", "DESPACHOGRATIS"), 20, 0, True, Season.CYBER, True, 0.12),
    Promo(("NAVIDAD5000",), 0, 5000, False, Season.DECEMBER, False, 0.08),
    Promo(("NAVIDAD5000", "CLUBAUSTRAL5"), 5, 5000, False, Season.DECEMBER, False, 0.02),
)
NO_PROMO = 0
"""Index of the empty promo cell."""
NO_PROMO_WEIGHT = 0.8


@dataclass(frozen=True)
class Promotions:
    cells: list[str]
    percent: npt.NDArray[np.int64]
    fixed_cents: npt.NDArray[np.int64]
    free_shipping: npt.NDArray[np.bool_]

    def probabilities(self, *, web: bool, cyber: bool, december: bool) -> npt.NDArray[np.float64]:
        """Chance of each code on one channel and day; index 0 is no code."""
        active = {Season.ALWAYS, *([Season.CYBER] if cyber else []),
                  *([Season.DECEMBER] if december else [])}
        weights = np.array([
            p.weight if p.season in active and (web or not p.web_only) else 0.0 for p in _PROMOS
        ])
        weights[0] = NO_PROMO_WEIGHT
        return normalised(weights)



def build_promotions() -> Promotions:
    return Promotions(
        cells=[LIST_SEPARATOR.join(p.codes) for p in _PROMOS],
        percent=np.array([p.percent for p in _PROMOS], dtype=np.int64),
        fixed_cents=np.array([p.fixed * 100 for p in _PROMOS], dtype=np.int64),
        free_shipping=np.array([p.free_shipping for p in _PROMOS], dtype=np.bool_),
    )
