"""Business days of the sample and how busy each one is, per channel."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta

import numpy as np
import numpy.typing as npt

DEFAULT_END = date(2026, 11, 24)
"""Default last business day, so that the sample never depends on the clock."""

# Monday first. Stores fill up on weekends; the web shop peaks early in the week.
_POS_WEEKDAY = (0.85, 0.85, 0.9, 0.95, 1.15, 1.45, 1.05)
_WEB_WEEKDAY = (1.12, 1.08, 1.0, 1.0, 0.95, 0.85, 1.0)
# Summer holidays are quiet, back-to-school and Christmas are busy.
_MONTH = (0.85, 0.8, 1.05, 0.9, 1.05, 1.0, 1.0, 0.95, 1.0, 1.0, 1.05, 1.3)
# Stores are closed by law; the web shop still sells, less.
_CLOSED = ((1, 1), (5, 1), (9, 18), (9, 19), (12, 25))


def _nth_weekday(year: int, month: int, weekday: int, n: int) -> date:
    first = date(year, month, 1)
    return first + timedelta(days=(weekday - first.weekday()) % 7 + 7 * (n - 1))


def _cyber_days(year: int) -> set[date]:
    """CyberDay (early June), CyberMonday (early October) and the Black Friday weekend."""
    days: set[date] = set()
    for month in (6, 10):
        monday = _nth_weekday(year, month, 0, 1)
        days.update(monday + timedelta(days=k) for k in range(3))
    black_friday = _nth_weekday(year, 11, 3, 4) + timedelta(days=1)
    days.update(black_friday + timedelta(days=k) for k in range(3))
    return days


def _season(day: date) -> tuple[float, float]:
    """(store, web) relative sales on one calendar day."""
    pos = _POS_WEEKDAY[day.weekday()] * _MONTH[day.month - 1]
    web = _WEB_WEEKDAY[day.weekday()] * _MONTH[day.month - 1]
    if day.month == 12 and day.day <= 24:
        ramp = 1.0 + 1.5 * day.day / 24
        pos, web = pos * ramp, web * ramp
    mothers_day = _nth_weekday(day.year, 5, 6, 2)
    if timedelta(0) <= mothers_day - day < timedelta(days=7):
        pos, web = pos * 1.4, web * 1.3
    if day in _cyber_days(day.year):
        pos, web = pos * 1.4, web * 4.0
    if (day.month, day.day) in _CLOSED:
        pos, web = 0.0, web * 0.5
    return pos, web


@dataclass(frozen=True)
class Calendar:
    dates: tuple[date, ...]
    pos_weight: npt.NDArray[np.float64]
    """Relative store sales per day index."""
    web_weight: npt.NDArray[np.float64]
    cyber: npt.NDArray[np.bool_]
    december: npt.NDArray[np.bool_]
    maintenance_day: int | None
    """A day whose export was empty (systems migration): its four files hold only headers."""

    @property
    def start(self) -> date:
        return self.dates[0]

    @property
    def days(self) -> int:
        return len(self.dates)

    def date_text(self, day: int) -> str:
        return f"{self.dates[day]:%d/%m/%Y}"

    def week(self, day: int) -> int:
        """Absolute week number: prices change weekly, the same way whatever the start."""
        return self.dates[day].toordinal() // 7

    def next_open_day(self, days: npt.NDArray[np.int64]) -> npt.NDArray[np.int64]:
        """Follow-ups that would fall on the empty day are sent the day after."""
        if self.maintenance_day is None:
            return days
        return np.where(days == self.maintenance_day, days + 1, days)


def build_calendar(start: date, days: int) -> Calendar:
    dates = tuple(start + timedelta(days=k) for k in range(days))
    weights = np.array([_season(d) for d in dates], dtype=np.float64).reshape(days, 2)
    maintenance = days // 3 if days >= 3 else None
    if maintenance is not None:
        weights[maintenance] = 0.0
    return Calendar(
        dates=dates,
        pos_weight=weights[:, 0].copy(),
        web_weight=weights[:, 1].copy(),
        cyber=np.array([d in _cyber_days(d.year) for d in dates], dtype=np.bool_),
        december=np.array([d.month == 12 and d.day <= 24 for d in dates], dtype=np.bool_),
        maintenance_day=maintenance,
    )
