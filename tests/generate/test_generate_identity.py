"""Customer records exercise identity resolution: what must link, and what must not."""

from __future__ import annotations

import json
import re
from collections import defaultdict
from collections.abc import Callable
from pathlib import Path

from clientela.generate import GenerationSummary
from clientela.generate.stores import STORE_DEFAULT_EMAIL

Rows = list[dict[str, str]]
RowsOf = Callable[[str], Rows]
Files = Callable[[str], list[Path]]
Reader = Callable[[Path], Rows]
Truth = dict[tuple[str, str], str]
JUNK = {"noemail@austral.cl", "sinmail@austral.cl", "test@test.com", "0", "n/a"}


def _person(truth: Truth, row: dict[str, str]) -> str:
    return truth[row["StoreCode"], row["UserId"]]


def _people_by(rows: Rows, truth: Truth, value: Callable[[dict[str, str]], str]
               ) -> dict[str, set[str]]:
    people: dict[str, set[str]] = defaultdict(set)
    for row in rows:
        if value(row):
            people[value(row)].add(_person(truth, row))
    return people


def _email(row: dict[str, str]) -> str:
    return row["Email"].strip().lower()


def _phone(row: dict[str, str]) -> str:
    digits = re.sub(r"\D", "", row["Phone"])
    return digits[-8:] if len(digits) >= 9 else ""


def test_truth_lists_every_customer_record_once(summary: GenerationSummary, truth: Truth,
                                               rows: RowsOf) -> None:
    assert len(truth) == summary.customer_records
    assert len(set(truth.values())) == summary.persons
    assert {(r["StoreCode"], r["UserId"]) for r in rows("CUSTOMERS")} == set(truth)


def test_store_ids_repeat_across_stores_for_different_people(truth: Truth) -> None:
    people_by_id: dict[str, dict[str, str]] = defaultdict(dict)
    for (store, user_id), person in truth.items():
        people_by_id[user_id][store] = person
    shared = {uid: by_store for uid, by_store in people_by_id.items() if len(by_store) > 1}
    assert all(uid.isdigit() for uid in shared)
    assert any(len(set(by_store.values())) == len(by_store) > 2 for by_store in shared.values())
    assert all(re.fullmatch(r"W\d{7}", uid) for (store, uid) in truth if store == "WEB")


def test_one_person_has_records_in_stores_and_on_the_web(truth: Truth) -> None:
    stores: dict[str, set[str]] = defaultdict(set)
    for (store, _), person in truth.items():
        stores[person].add(store)
    assert any("WEB" in s and len(s) >= 2 for s in stores.values())
    assert any("WEB" not in s and len(s) == 2 for s in stores.values())


def test_records_of_one_person_spell_email_and_phone_differently(rows: RowsOf,
                                                                truth: Truth) -> None:
    spellings: dict[str, set[str]] = defaultdict(set)
    phones: dict[str, set[str]] = defaultdict(set)
    for row in rows("CUSTOMERS"):
        if _email(row) and "@" in row["Email"]:
            spellings[_email(row)].add(row["Email"])
        if _phone(row):
            phones[_phone(row)].add(row["Phone"])
    variants = {v for s in spellings.values() if len(s) > 1 for v in s}
    assert any(v != v.strip() for v in variants)
    assert any(v != v.lower() for v in variants)
    phone_forms = {v for s in phones.values() if len(s) > 1 for v in s}
    assert any(v.startswith("+56") for v in phone_forms)
    assert any(v.startswith("9") or v.startswith("09") for v in phone_forms)


def test_families_share_an_email_but_not_phones_or_loyalty_cards(rows: RowsOf,
                                                                 truth: Truth) -> None:
    customers = rows("CUSTOMERS")
    by_email = _people_by(customers, truth, _email)
    families = {e: p for e, p in by_email.items() if "@" in e and e not in JUNK
                and e != STORE_DEFAULT_EMAIL and 2 <= len(p) <= 4}
    assert families
    cards = _people_by(customers, truth, lambda r: r["LoyaltyCard"])
    assert all(len(people) == 1 for people in cards.values())
    by_phone = _people_by(customers, truth, _phone)
    assert all(len(people) == 1 for phone, people in by_phone.items())
    family_cards = {r["LoyaltyCard"] for r in customers
                    if _email(r) in families and r["LoyaltyCard"]}
    assert len(family_cards) >= 2


def test_junk_and_store_default_emails_are_shared_by_many(rows: RowsOf, truth: Truth) -> None:
    by_email = _people_by(rows("CUSTOMERS"), truth, _email)
    assert set(by_email) >= JUNK
    assert len(by_email[STORE_DEFAULT_EMAIL]) >= 20
    assert any(not r["Email"] for r in rows("CUSTOMERS"))


def test_attributes_and_custom_columns(rows: RowsOf) -> None:
    customers = rows("CUSTOMERS")
    assert any("ñ" in r["LastName"].lower() or "ñ" in r["FirstName"].lower() for r in customers)
    assert {r["Gender"] for r in customers} == {"F", "M", ""}
    assert any(re.fullmatch(r"\d\d/\d\d/\d{4}", r["BirthDate"]) for r in customers)
    assert any(r["PreferredStore"] for r in customers)
    segments = [r["Segment"] for r in customers if r["Segment"].startswith("{")]
    assert segments
    assert {json.loads(s)["Key"] for s in segments} == {"Segment"}
    assert {r["Segment"] for r in customers} >= {"", "VIP", "GOLD"}


def test_customers_change_city_or_phone_over_time(rows: RowsOf) -> None:
    seen: dict[tuple[str, str], set[tuple[str, str]]] = defaultdict(set)
    for row in rows("CUSTOMERS"):
        seen[row["StoreCode"], row["UserId"]].add((row["City"], _phone(row)))
    assert any(len(values) > 1 for values in seen.values())


def test_every_ordering_customer_is_in_that_days_customers_file(daily_files: Files,
                                                                read: Reader) -> None:
    for customers, orders in zip(daily_files("CUSTOMERS"), daily_files("ORDERS"), strict=True):
        listed = {(r["StoreCode"], r["UserId"]) for r in read(customers)}
        assert {(o["StoreCode"], o["UserId"]) for o in read(orders)} <= listed


def test_one_customers_file_is_windows_1252(summary: GenerationSummary) -> None:
    assert len(summary.legacy_encoded_files) == 1
    raw = summary.legacy_encoded_files[0].read_bytes()
    try:
        raw.decode("utf-8")
    except UnicodeDecodeError:
        pass
    else:
        raise AssertionError("the Windows-1252 file decodes as UTF-8")
    text = raw.decode("cp1252")
    assert re.search("[ñáéíóú]", text, flags=re.IGNORECASE)
    others = [p for p in summary.files if p not in summary.legacy_encoded_files]
    for path in others:
        path.read_bytes().decode("utf-8")
