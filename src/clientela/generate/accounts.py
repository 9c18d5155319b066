"""Customer records: a person's ids in the stores' POS systems and on the web shop.

Stores number their customers independently (`17` in S01 and `17` in S02 are different
people); the web shop uses global ids (`W0000123`). How each record spells the person's
e-mail, phone and loyalty card decides what identity resolution can link.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from clientela.generate.calendar import Calendar
from clientela.generate.chance import normalised
from clientela.generate.names import CITIES, JUNK_EMAILS
from clientela.generate.people import Code, Int32, People
from clientela.generate.stores import PHYSICAL, WEB

NEVER = np.iinfo(np.int32).max
"""Change day of an attribute that never changes."""


class EmailMode:
    PERSONAL = 0
    BLANK = 1
    JUNK = 2
    STORE_DEFAULT = 3


class BirthStyle:
    SHOWN = 0
    BLANK = 1
    PLACEHOLDER = 2
    """`01/01/1900`, what a POS stores when the field is mandatory."""


@dataclass(frozen=True)
class Accounts:
    """One row per customer record, in compact columns."""

    person: Int32
    store: Code
    email_mode: Code
    email_style: Code
    """0 as given, 1 Title.Case, 2 UPPER, 3 trailing space, 4 leading space."""
    junk_email: Code
    phone_style: Code
    """0 `955551234`, 1 `(9) 5555 1234`, 2 `+56 9 5555 1234`, 3 `+56955551234`, 4 blank, 5 `0`."""
    birth_style: Code
    shows_loyalty: npt.NDArray[np.bool_]
    shows_gender: npt.NDArray[np.bool_]
    shows_city: npt.NDArray[np.bool_]
    two_surnames: npt.NDArray[np.bool_]
    shows_preferred_store: npt.NDArray[np.bool_]
    new_city: Code
    city_changes: Int32
    """Day from which the record carries `new_city` (a move), or NEVER."""
    phone_changes: Int32
    """Day from which the record carries the person's new number, or NEVER."""

    @property
    def size(self) -> int:
        return len(self.person)


def _pick(rng: np.random.Generator, n: int, shares: tuple[float, ...]) -> Code:
    return rng.choice(len(shares), size=n, p=normalised(shares)).astype(np.int8)


def _by_channel(web: npt.NDArray[np.bool_], on_web: Code, in_store: Code) -> Code:
    return np.where(web, on_web, in_store).astype(np.int8)


def _change_days(rng: np.random.Generator, n: int, share: float, calendar: Calendar) -> Int32:
    day = calendar.next_open_day(rng.integers(0, calendar.days, n).astype(np.int64))
    return np.where((rng.random(n) < share) & (day < calendar.days), day, NEVER).astype(np.int32)


def build_accounts(rng: np.random.Generator, people: People, calendar: Calendar) -> Accounts:
    """Records grouped by person, in the order home store, second store, web shop."""
    person, kind = np.nonzero(people.channels)
    n = len(person)
    home = people.home_store[person].astype(np.int64)
    second = (home + 1 + rng.integers(0, PHYSICAL - 1, n)) % PHYSICAL
    store = np.select([kind == 0, kind == 1], [home, second], WEB).astype(np.int8)
    web = store == WEB
    has_email = people.email_owner[person] >= 0
    family = people.in_family[person]
    store_email = np.where(
        family, _pick(rng, n, (0.9, 0.1, 0.0, 0.0)),
        np.where(has_email, _pick(rng, n, (0.62, 0.18, 0.12, 0.08)),
                 _pick(rng, n, (0.0, 0.6, 0.3, 0.1))))
    return Accounts(
        person=person.astype(np.int32),
        store=store,
        email_mode=np.where(web, EmailMode.PERSONAL, store_email).astype(np.int8),
        email_style=_by_channel(web, _pick(rng, n, (0.85, 0.1, 0.0, 0.05, 0.0)),
                                _pick(rng, n, (0.5, 0.2, 0.1, 0.12, 0.08))),
        junk_email=rng.integers(0, len(JUNK_EMAILS), n, dtype=np.int8),
        phone_style=_by_channel(web, _pick(rng, n, (0.2, 0.0, 0.45, 0.25, 0.1, 0.0)),
                                _pick(rng, n, (0.35, 0.25, 0.1, 0.0, 0.22, 0.08))),
        birth_style=_by_channel(web, _pick(rng, n, (0.7, 0.3, 0.0)),
                                _pick(rng, n, (0.7, 0.27, 0.03))),
        shows_loyalty=people.has_loyalty[person]
        & (rng.random(n) < np.where(web, 0.35, np.where(family, 1.0, 0.85))),
        shows_gender=rng.random(n) < 0.9,
        shows_city=rng.random(n) < np.where(web, 0.75, 0.95),
        two_surnames=rng.random(n) < np.where(web, 0.3, 0.8),
        shows_preferred_store=web & (rng.random(n) < 0.4),
        new_city=rng.integers(0, len(CITIES), n, dtype=np.int8),
        city_changes=_change_days(rng, n, 0.05, calendar),
        phone_changes=_change_days(rng, n, 0.04, calendar),
    )
