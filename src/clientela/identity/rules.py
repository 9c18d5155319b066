"""The identity rules of an instance: identifier types, their priority, limits and normalisation.

One place says what an identifier is, so that evidence from the daily files, from the API and
from an operator typing `email:Ana@Mail.com` on the command line is normalised the same way.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache

import phonenumbers

from clientela.config.settings import IdentitySection, Settings
from clientela.ingest.sql import literal

BUILT_IN_BLOCKED = ("", "null", "none", "n/a", "na", "0", "-1", "undefined", "test@test.com")
BLOCKED_EMAIL_PREFIXES = ("noemail@", "sinmail@", "nomail@")
"""What POS clerks type when a customer gives no address."""

EMAIL_PATTERN = r"[^@\s]+@[^@\s.]+(\.[^@\s.]+)+"
SOFT_TYPES = ("email", "email_sha256", "phone", "cookie")
"""Types whose fan-out is watched: one value shared by many customer ids gets quarantined."""


def priority(kind: str) -> int:
    """Lower wins: the anchor of a record, and what is detached last on a conflict."""
    order = {"user_id": 0, "email": 2, "email_sha256": 3, "phone": 4, "cookie": 5}
    return 1 if kind.startswith("custom:") else order[kind]


@dataclass(frozen=True)
class IdentityRules:
    main: str
    phone_country: str
    shared_fan_out: int
    quarantine_on_conflict: bool
    blocked_values: tuple[str, ...]
    blocked_patterns: tuple[str, ...]
    fields: dict[str, str]
    store_scoped: bool
    attribute_priority: dict[str, list[str]]

    @classmethod
    def of(cls, settings: Settings) -> IdentityRules:
        section: IdentitySection = settings.identity
        return cls(
            main=section.main_identifier,
            phone_country=section.phone_country,
            shared_fan_out=section.shared_fan_out,
            quarantine_on_conflict=section.quarantine_on_conflict,
            blocked_values=tuple(v.strip().lower() for v in section.blocked_values),
            blocked_patterns=tuple(section.blocked_patterns),
            fields={name.lower(): kind for name, kind in section.fields.items()},
            store_scoped=settings.files.store_scoped_customer_ids,
            attribute_priority=section.attribute_priority,
        )

    @property
    def joining_emails(self) -> bool:
        """With email as the main identifier, an email is one person; otherwise it is shared."""
        return self.main == "email"

    def blocked_sql(self, value: str) -> str:
        """A SQL condition: the normalised `value` never links."""
        exact = sorted({*BUILT_IN_BLOCKED, *self.blocked_values})
        conditions = [f"{value} IN ({', '.join(literal(v) for v in exact)})"]
        conditions += [f"starts_with({value}, {literal(p)})" for p in BLOCKED_EMAIL_PREFIXES]
        conditions += [f"regexp_full_match({value}, {literal(p)})"
                       for p in self.blocked_patterns]
        return "(" + " OR ".join(conditions) + ")"

    def is_blocked(self, value: str) -> bool:
        lowered = value.lower()
        return (lowered in BUILT_IN_BLOCKED or lowered in self.blocked_values
                or lowered.startswith(BLOCKED_EMAIL_PREFIXES)
                or any(re.fullmatch(p, value) for p in self.blocked_patterns))

    def normalise(self, kind: str, raw: str) -> str | None:
        """The normalised value, or None when `raw` is not a valid identifier of `kind`."""
        value = raw.strip()
        if kind == "email":
            value = value.lower()
            return value if re.fullmatch(EMAIL_PATTERN, value) else None
        if kind == "email_sha256":
            value = value.lower()
            return value if re.fullmatch(r"[0-9a-f]{64}", value) else None
        if kind == "phone":
            return e164(value, self.phone_country)
        if kind == "cookie":
            return value.lower() or None
        return value or None


_COMPACTABLE = re.compile(r"[ ().\-/]*\+?[ ().\-/0-9]*")
"""Digits and the separators people write between them, with at most a leading plus."""


def compact_spelling(raw: str) -> str:
    """`(9) 5555 1234` -> `955551234`, `+56 9 5555 1234` -> `+56955551234`: a spelling made
    of digits and separators only, without them. `e164` gives both spellings the same answer
    (it reads only the digits and a leading plus), so one parse serves every such spelling.
    Anything else (letters, an extension, a plus after a digit) is kept as it is."""
    if len(raw) > 64 or not _COMPACTABLE.fullmatch(raw):
        return raw
    digits = "".join(c for c in raw if c.isdigit())
    return "+" + digits if "+" in raw else digits


@lru_cache(maxsize=65536)
def e164(raw: str, country: str) -> str | None:
    """`(9) 5555 1234` in CL -> `+56955551234`; None for what cannot be a number
    (unallocated ranges are kept: a number is an identifier, not a line to dial)."""
    if not raw or sum(c.isdigit() for c in raw) < 6:
        return None
    try:
        number = phonenumbers.parse(raw, country or None)
    except phonenumbers.NumberParseException:
        return None
    if not phonenumbers.is_possible_number(number):
        return None
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)
