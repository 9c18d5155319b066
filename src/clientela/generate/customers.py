"""Customers rows: how each source system writes a record's attributes on a given day."""

from __future__ import annotations

from datetime import date

import numpy as np

from clientela.generate.accounts import Accounts, BirthStyle, EmailMode
from clientela.generate.batch import IntArray
from clientela.generate.cells import DELIMITER, quote, user_id_cells
from clientela.generate.names import (
    CITIES,
    EMAIL_DOMAINS,
    EMAIL_PATTERNS,
    FEMALE_NAMES,
    JUNK_EMAILS,
    MALE_NAMES,
    SURNAMES,
    ascii_slug,
)
from clientela.generate.people import People
from clientela.generate.schedule import Schedule
from clientela.generate.stores import STORE_DEFAULT_EMAIL, STORES
from clientela.schema.records import CUSTOMERS

CUSTOM_COLUMNS = ("LoyaltyCard", "PreferredStore", "Segment")
"""Columns beyond the schema's: custom attributes of the customers."""
HEADER = (*(f.name for f in CUSTOMERS.fields), *CUSTOM_COLUMNS)

VIP_FROM = 12
GOLD_FROM = 5
"""Orders planned over the sample that make a customer VIP or GOLD."""

_FIRST_NAMES = (FEMALE_NAMES, MALE_NAMES)
_FIRST_SLUGS = tuple(tuple(ascii_slug(n) for n in names) for names in _FIRST_NAMES)
_SURNAME_SLUGS = tuple(ascii_slug(n) for n in SURNAMES)
_DOMAINS = tuple(d for d, _ in EMAIL_DOMAINS)
_CITY_NAMES = ("", *(c for c, _ in CITIES))
_GENDERS = ("F", "M", "")
_STORE_CODES = tuple(s.code for s in STORES)
_UPPERCASE = np.array([s.uppercase_names for s in STORES])
_JSON_ATTRIBUTES = np.array([s.json_attributes for s in STORES])
_BIRTH_PLACEHOLDER = "01/01/1900"
_PHONE_FORMATS = ("9%04d%04d", "(9) %04d %04d", "+56 9 %04d %04d", "+569%04d%04d", "", "0")
"""Spellings of one mobile number by phone style; the last two carry no number."""
_SEGMENTS = ("", "GOLD", "VIP")
# Plain values, or the `{"Key":...,"Value":...}` objects some ERPs write (quoted: they hold `"`).
_SEGMENT_CELLS = (
    _SEGMENTS,
    tuple(quote(f'{{"Key":"Segment","Value":"{v}"}}') if v else "" for v in _SEGMENTS),
)


def _styled(address: str, style: int) -> str:
    """How a record spells an address: 0 as given, Title.Case, UPPER, trailing, leading space."""
    match style:
        case 1:
            return address.title()
        case 2:
            return address.upper()
        case 3:
            return address + " "
        case 4:
            return " " + address
        case _:
            return address


def _emails(records: IntArray, people: People, accounts: Accounts) -> list[str]:
    owner = people.email_owner[accounts.person[records]]
    mode = accounts.email_mode[records]
    personal = (mode == EmailMode.PERSONAL) & (owner >= 0)
    o = np.where(personal, owner, 0)
    gender = people.gender[o]
    cells = []
    for is_personal, m, junk, style, g, first, last, middle, pattern, suffix, domain in zip(
            personal.tolist(), mode.tolist(), accounts.junk_email[records].tolist(),
            accounts.email_style[records].tolist(), gender.tolist(),
            people.first_name[o].tolist(), people.surname[o].tolist(),
            people.second_surname[o].tolist(), people.email_pattern[o].tolist(),
            people.email_suffix[o].tolist(), people.email_domain[o].tolist(), strict=True):
        if is_personal:
            f = _FIRST_SLUGS[g][first]
            local = EMAIL_PATTERNS[pattern].format(f=f, l=_SURNAME_SLUGS[last], i=f[0],
                                                   m=_SURNAME_SLUGS[middle])
            cells.append(_styled(f"{local}{suffix or ''}@{_DOMAINS[domain]}", style))
        elif m == EmailMode.JUNK:
            cells.append(JUNK_EMAILS[junk])
        elif m == EmailMode.STORE_DEFAULT:
            cells.append(STORE_DEFAULT_EMAIL)
        else:
            cells.append("")
    return cells


def _names(records: IntArray, people: People, accounts: Accounts) -> tuple[list[str], list[str]]:
    person = accounts.person[records]
    firsts, lasts = [], []
    for g, first, last, second, two, upper in zip(
            people.gender[person].tolist(), people.first_name[person].tolist(),
            people.surname[person].tolist(), people.second_surname[person].tolist(),
            accounts.two_surnames[records].tolist(),
            _UPPERCASE[accounts.store[records]].tolist(), strict=True):
        name = _FIRST_NAMES[g][first]
        surname = f"{SURNAMES[last]} {SURNAMES[second]}" if two else SURNAMES[last]
        firsts.append(name.upper() if upper else name)
        lasts.append(surname.upper() if upper else surname)
    return firsts, lasts


def _phones(day: int, records: IntArray, people: People, accounts: Accounts) -> list[str]:
    person = accounts.person[records]
    changed = day >= accounts.phone_changes[records]
    digits = people.phone(np.where(changed, person + people.size, person))
    return [_PHONE_FORMATS[style] % (number // 10_000, number % 10_000) if style < 4
            else _PHONE_FORMATS[style]
            for number, style in zip(digits.tolist(), accounts.phone_style[records].tolist(),
                                     strict=True)]


class CustomerRows:
    """Customers rows of records as their source systems write them on a given day."""

    def __init__(self, people: People, accounts: Accounts, schedule: Schedule) -> None:
        self._people = people
        self._accounts = accounts
        self._schedule = schedule
        # Birth dates repeat a lot: format each calendar date once.
        self._first_birth = int(people.birth.min())
        self._births = [f"{date.fromordinal(d):%d/%m/%Y}"
                        for d in range(self._first_birth, int(people.birth.max()) + 1)]

    def _birth_cells(self, records: IntArray) -> list[str]:
        offset = self._people.birth[self._accounts.person[records]] - self._first_birth
        births = self._births
        return [births[b] if style == BirthStyle.SHOWN
                else _BIRTH_PLACEHOLDER if style == BirthStyle.PLACEHOLDER else ""
                for b, style in zip(offset.tolist(),
                                    self._accounts.birth_style[records].tolist(), strict=True)]

    def export_order(self, records: IntArray) -> IntArray:
        """Sorted by store and id, as an export lists them."""
        return records[np.lexsort((self._schedule.local_id[records],
                                   self._accounts.store[records]))]

    def rows(self, day: int, records: IntArray) -> list[str]:
        """The records' rows with the attributes they carry on `day` (moves, new phones)."""
        people, accounts, schedule = self._people, self._accounts, self._schedule
        person = accounts.person[records]
        store = accounts.store[records]
        moved = day >= accounts.city_changes[records]
        city = np.where(moved, accounts.new_city[records], people.city[person]) + 1
        card = people.loyalty_card(person)
        segment = (people.orders[person] >= GOLD_FROM).astype(np.int64) + (
            people.orders[person] >= VIP_FROM)
        firsts, lasts = _names(records, people, accounts)
        columns = (
            user_id_cells(schedule.local_id[records], store),
            [_STORE_CODES[s] for s in store.tolist()],
            _emails(records, people, accounts),
            firsts,
            lasts,
            [_CITY_NAMES[c] for c in np.where(accounts.shows_city[records], city, 0).tolist()],
            self._birth_cells(records),
            _phones(day, records, people, accounts),
            [_GENDERS[g] for g in np.where(accounts.shows_gender[records], people.gender[person],
                                           2).tolist()],
            [str(c) if shown else "" for c, shown in zip(
                card.tolist(), accounts.shows_loyalty[records].tolist(), strict=True)],
            [_STORE_CODES[s] if shown else "" for s, shown in zip(
                people.home_store[person].tolist(),
                accounts.shows_preferred_store[records].tolist(), strict=True)],
            [_SEGMENT_CELLS[j][s] for j, s in zip(_JSON_ATTRIBUTES[store].tolist(),
                                                  segment.tolist(), strict=True)],
        )
        return [DELIMITER.join(cells) for cells in zip(*columns, strict=True)]
