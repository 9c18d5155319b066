"""The resolved profile: attributes under merges, tags, consents, the main identifier."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, date, datetime
from pathlib import Path

from clientela.config import Instance, create_instance, open_instance
from clientela.identity.lookup import find_profile
from clientela.identity.profile import Profile, load_profile
from clientela.identity.rules import IdentityRules
from clientela.ingest.importer import ImportResult
from clientela.stores import analytics

DAY1, DAY2, DAY3 = date(2025, 3, 1), date(2025, 3, 2), date(2025, 3, 3)
Import = Callable[..., ImportResult]
Groups = Callable[[Instance], set[frozenset[str]]]


def _profile(instance: Instance, identifier: str) -> Profile:
    con = analytics.connect(instance, read_only=True)
    try:
        rules = IdentityRules.of(instance.settings)
        return load_profile(con, rules, find_profile(con, rules, identifier))
    finally:
        con.close()


def _configured(home: Path, **replacements: str) -> Instance:
    instance = create_instance("demo", timezone="America/Santiago",
                               store_scoped_customer_ids=True, home=home)
    text = instance.config_path.read_text()
    for old, new in replacements.items():
        assert old in text
        text = text.replace(old, new)
    instance.config_path.write_text(text)
    return open_instance("demo", home=home)


def test_attributes_are_the_newest_by_business_day_across_merged_records(
        scoped: Instance, import_customers: Import) -> None:
    import_customers(scoped, DAY1, ["1|S01|ana@mail.com||Ana|Temuco|"])
    import_customers(scoped, DAY2, ["W1|WEB|ana@mail.com||Ana María||"])
    import_customers(scoped, DAY3, ["1|S01|ana@mail.com|||Valdivia|"])

    profile = _profile(scoped, "email:ana@mail.com")

    values = {a.name: (a.value, a.day, a.source) for a in profile.attributes}
    assert values == {"FirstName": ("Ana María", DAY2, "WEB"),
                      "City": ("Valdivia", DAY3, "S01")}
    assert profile.recognized and profile.email == "ana@mail.com"
    assert [i.label for i in profile.identifiers][:2] == ["user_id:S01:1", "email:ana@mail.com"]


def test_a_source_priority_beats_newer_values(home: Path, import_customers: Import) -> None:
    instance = _configured(home, **{"attribute_priority = {}":
                                    'attribute_priority = { "City" = ["WEB"] }'})
    import_customers(instance, DAY1, ["W1|WEB|ana@mail.com|||Santiago|"])
    import_customers(instance, DAY2, ["1|S01|ana@mail.com|||Temuco|"])

    values = {a.name: a.value for a in _profile(instance, "user_id:S01:1").attributes}
    assert values == {"City": "Santiago"}


def test_custom_attributes_are_kept_and_reserved_names_are_not(
        scoped: Instance, tmp_path: Path, write_day: Callable[..., dict[str, Path]],
        query: Callable[..., list[tuple[object, ...]]]) -> None:
    from clientela.ingest.importer import run_import
    body = (b"UserId|StoreCode|Email|Segment|client_id\n"
            b'1|S01|ana@mail.com|"{""Key"":""Tier"",""Value"":""GOLD""}"|99\n')
    files = write_day(tmp_path / "d", scoped, DAY1, customers=body, orders=[], lines=[],
                      categories=[])
    result = run_import(scoped, list(files.values()))

    assert result.reports[0].reserved_columns == ["client_id"]
    values = {a.name: a.value for a in _profile(scoped, "user_id:S01:1").attributes}
    assert values == {"Tier": "GOLD"}
    assert query(scoped, "SELECT name, type FROM attribute_definitions") == [("Tier", "text")]


def test_consents_take_the_newest_statement_and_a_withdrawal_wins_a_tie(
        scoped: Instance, import_customers: Import) -> None:
    import_customers(scoped, DAY1, ["1|S01|ana@mail.com|||", "W1|WEB|ana@mail.com|||"])
    con = analytics.connect(scoped)
    try:
        ids = dict(con.execute("SELECT value, id FROM identifiers WHERE type = 'user_id'"
                               ).fetchall())
        noon = datetime(2025, 3, 1, 12, tzinfo=UTC)
        later = datetime(2025, 3, 2, 9, tzinfo=UTC)
        con.executemany("INSERT INTO consent_events VALUES (?, ?, ?, ?, ?, ?)", [
            (ids["1"], "email", True, noon, "pos", "Acepto recibir ofertas"),
            (ids["W1"], "email", False, noon, "web", "unsubscribe link"),
            (ids["1"], "sms", False, noon, "pos", "no SMS"),
            (ids["W1"], "sms", True, later, "web", "form: SMS opt-in"),
        ])
        con.executemany("INSERT INTO tag_events VALUES (?, ?, ?, ?, ?)", [
            (ids["1"], "vip", True, noon, "api"), (ids["W1"], "vip", False, later, "api"),
            (ids["W1"], "newsletter", True, noon, "api"),
        ])
    finally:
        con.close()

    profile = _profile(scoped, "user_id:WEB:W1")

    assert [(c.channel, c.granted, c.source, c.proof) for c in profile.consents] == [
        ("email", False, "web", "unsubscribe link"), ("sms", True, "web", "form: SMS opt-in")]
    assert profile.tags == ["newsletter"]


def test_with_user_id_as_main_identifier_an_email_is_shared_not_joining(
        home: Path, import_customers: Import, groups: Groups) -> None:
    instance = _configured(home, **{'main_identifier = "email"': 'main_identifier = "user_id"'})
    import_customers(instance, DAY1, ["1|S01|casa@mail.com|911111111||",
                                      "2|S02|casa@mail.com|||", "3|S03||911111111||"])

    assert groups(instance) == {frozenset({"user_id:S01:1", "user_id:S03:3",
                                           "phone:+56911111111"}),
                                frozenset({"user_id:S02:2"})}
    profile = _profile(instance, "user_id:S02:2")
    assert profile.recognized and profile.email == "casa@mail.com"
    assert [(i.label, i.status) for i in profile.shared] == [("email:casa@mail.com", "active")]
    con = analytics.connect(instance, read_only=True)
    try:
        import pytest

        from clientela.identity.lookup import IdentityError
        with pytest.raises(IdentityError, match="shared by 2 profiles"):
            find_profile(con, IdentityRules.of(instance.settings), "email:casa@mail.com")
    finally:
        con.close()


def test_a_profile_without_email_is_anonymous(scoped: Instance,
                                              import_customers: Import) -> None:
    import_customers(scoped, DAY1, ["1|S01||955551234|Luis||"])
    profile = _profile(scoped, "phone:955551234")
    assert not profile.recognized and profile.email is None
