"""Resolution after import: who is joined, who is kept apart, and why."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date

from clientela.config import Instance
from clientela.identity.explain import explain_pair, explain_profile
from clientela.identity.lookup import find_identifier, find_profile
from clientela.identity.rules import IdentityRules
from clientela.ingest.importer import ImportResult
from clientela.stores import analytics

DAY1, DAY2, DAY3 = date(2025, 3, 1), date(2025, 3, 2), date(2025, 3, 3)
Profiles = Callable[[Instance], dict[str, int]]
Import = Callable[..., ImportResult]
Groups = Callable[[Instance], set[frozenset[str]]]


def test_one_email_in_two_stores_is_one_person(
        scoped: Instance, import_customers: Import, groups: Groups,
        sha: Callable[[str], str]) -> None:
    result = import_customers(scoped, DAY1, [
        "17|S01|Ana.Diaz@Mail.com |955551234|Ana|Temuco|",
        "W9|WEB|ana.diaz@mail.com|+56 9 5555 1234|Ana||7001",
        "17|S02|pedro@mail.com||Pedro||",
    ])

    assert result.identity is not None and result.identity.profiles == 2
    assert groups(scoped) == {
        frozenset({"user_id:S01:17", "user_id:WEB:W9", "email:ana.diaz@mail.com",
                   sha("ana.diaz@mail.com"), "phone:+56955551234",
                   "custom:loyalty_card:7001"}),
        # Id 17 of S02 is another person than id 17 of S01.
        frozenset({"user_id:S02:17", "email:pedro@mail.com", sha("pedro@mail.com")}),
    }


def test_junk_and_blank_values_link_nothing(scoped: Instance, import_customers: Import,
                                            groups: Groups) -> None:
    result = import_customers(scoped, DAY1, [
        "1|S01|noemail@austral.cl|0|A||",
        "2|S01|NOEMAIL@AUSTRAL.CL|0|B||",
        "3|S02|n/a||C||",
        "4|S02|test@test.com|-1|D||",
    ])

    assert groups(scoped) == {frozenset({f"user_id:{s}:{i}"})
                              for s, i in (("S01", 1), ("S01", 2), ("S02", 3), ("S02", 4))}
    assert result.evidence is not None and result.evidence.blocked == 7


def test_an_email_on_many_customer_ids_is_quarantined(
        scoped: Instance, import_customers: Import, groups: Groups) -> None:
    rows = [f"{i}|S{i % 9 + 1:02d}|ventas@austral.cl||C{i}||" for i in range(1, 13)]
    import_customers(scoped, DAY1, rows)

    assert len(groups(scoped)) == 12
    con = analytics.connect(scoped, read_only=True)
    try:
        assert con.execute("SELECT status, fan_out FROM identifiers WHERE value = "
                           "'ventas@austral.cl'").fetchall() == [("quarantined", 12)]
        assert con.execute("SELECT action, note FROM identity_reviews").fetchall() == [
            ("quarantined", "linked to more than 10 customer ids")] * 2  # email and its hash
    finally:
        con.close()


def test_a_family_address_in_one_store_is_quarantined_not_merged(
        scoped: Instance, import_customers: Import, groups: Groups) -> None:
    import_customers(scoped, DAY1, [
        "5|S07|familia.vega@gmail.com|911111111|Rocío||",
        "6|S07|familia.vega@gmail.com|922222222|Tomás||",
        "W1|WEB|familia.vega@gmail.com|+56 9 2222 2222|Tomás||",
    ])

    # Two ids of one store are two people: the address is theirs and links nobody; Tomás's
    # web account still joins his store record through his phone.
    assert groups(scoped) == {
        frozenset({"user_id:S07:5", "phone:+56911111111"}),
        frozenset({"user_id:S07:6", "user_id:WEB:W1", "phone:+56922222222"}),
    }
    con = analytics.connect(scoped, read_only=True)
    try:
        rules = IdentityRules.of(scoped.settings)
        pair = explain_pair(con, find_identifier(con, rules, "user_id:S07:5"),
                            find_identifier(con, rules, "email:familia.vega@gmail.com"))
    finally:
        con.close()
    assert not pair.same_person
    assert pair.reason == ("email:familia.vega@gmail.com is quarantined (on 3 customer ids) "
                           "and links nothing")


def test_without_quarantine_on_conflict_the_limit_keeps_one_store_id_per_profile(
        home: object, import_customers: Import, groups: Groups) -> None:
    from pathlib import Path

    from clientela.config import create_instance, open_instance
    assert isinstance(home, Path)
    instance = create_instance("demo", timezone="America/Santiago",
                               store_scoped_customer_ids=True, home=home)
    config = instance.config_path.read_text().replace("quarantine_on_conflict = true",
                                                      "quarantine_on_conflict = false")
    instance.config_path.write_text(config)
    instance = open_instance("demo", home=home)
    import_customers(instance, DAY1, ["5|S07|f@gmail.com|||", "6|S07|f@gmail.com|||"])

    assert groups(instance) == {frozenset({"user_id:S07:5", "email:f@gmail.com",
                                           "email_sha256:" + __import__("hashlib").sha256(
                                               b"f@gmail.com").hexdigest()}),
                                frozenset({"user_id:S07:6"})}
    con = analytics.connect(instance, read_only=True)
    try:
        explanation = explain_profile(con, find_profile(con, IdentityRules.of(
            instance.settings), "user_id:S07:6"))
    finally:
        con.close()
    [conflict] = explanation.conflicts
    assert (conflict.kept, conflict.detached, conflict.limit_key) == (
        "user_id:S07:6", "email:f@gmail.com", "user_id:S07")
    assert (conflict.existing, conflict.incoming) == ("user_id:S07:6", "user_id:S07:5")
    assert conflict.source.startswith("ICOMMKT_CUSTOMERS_DEMO_20250301") and (
        conflict.source_line == 3)


def test_two_loyalty_cards_never_share_a_profile(
        scoped: Instance, import_customers: Import, groups: Groups) -> None:
    import_customers(scoped, DAY1, ["1|S01||911111111|||7001", "2|S02||911111111|||7002"])

    # Both records name the same phone; the second would bring a second card: the phone
    # (lowest priority) stays with the first.
    assert groups(scoped) == {
        frozenset({"user_id:S01:1", "custom:loyalty_card:7001", "phone:+56911111111"}),
        frozenset({"user_id:S02:2", "custom:loyalty_card:7002"}),
    }


def test_explain_a_pair_gives_the_chain_with_sources(
        scoped: Instance, import_customers: Import) -> None:
    import_customers(scoped, DAY1, ["17|S01|ana@mail.com|||"])
    import_customers(scoped, DAY2, ["W9|WEB|ana@mail.com|||", "W9b|WEB||||"])

    con = analytics.connect(scoped, read_only=True)
    try:
        rules = IdentityRules.of(scoped.settings)
        pair = explain_pair(con, find_identifier(con, rules, "user_id:S01:17"),
                            find_identifier(con, rules, "user_id:WEB:W9"))
        apart = explain_pair(con, find_identifier(con, rules, "user_id:S01:17"),
                             find_identifier(con, rules, "user_id:WEB:W9b"))
    finally:
        con.close()
    assert pair.same_person
    assert [(link.a, link.b, link.source, link.source_line) for link in pair.chain] == [
        ("user_id:S01:17", "email:ana@mail.com", "ICOMMKT_CUSTOMERS_DEMO_20250301.txt", 2),
        ("user_id:WEB:W9", "email:ana@mail.com", "ICOMMKT_CUSTOMERS_DEMO_20250302.txt", 2),
    ]
    assert not apart.same_person
    assert apart.reason == "two profiles: no evidence links them"


def test_merges_keep_the_oldest_client_id_and_the_other_resolves_as_an_alias(
        scoped: Instance, import_customers: Import, profiles: Profiles) -> None:
    import_customers(scoped, DAY1, ["1|S01|ana@mail.com|||"])
    import_customers(scoped, DAY2, ["2|S02||955551234||"])
    first, second = profiles(scoped)["user_id:S01:1"], profiles(scoped)["user_id:S02:2"]
    assert first < second

    result = import_customers(scoped, DAY3, ["2|S02|ana@mail.com|955551234||"])

    assert result.identity is not None and result.identity.merged == 1
    assert profiles(scoped)["user_id:S02:2"] == first
    con = analytics.connect(scoped, read_only=True)
    try:
        assert find_profile(con, IdentityRules.of(scoped.settings), str(second)) == first
        assert con.execute("SELECT event, others FROM profile_history WHERE client_id = ? "
                           "ORDER BY happened_at, event", [first]).fetchall() == [
            ("created", []), ("merged", [second])]
    finally:
        con.close()


def test_importing_more_days_never_renames_a_profile(
        scoped: Instance, import_customers: Import, profiles: Profiles) -> None:
    import_customers(scoped, DAY1, ["1|S01|ana@mail.com|||", "2|S02|luis@mail.com|||"])
    before = profiles(scoped)
    import_customers(scoped, DAY2, ["3|S03|ana@mail.com|||", "4|S04|nuevo@mail.com|||",
                                    "2|S02|luis@mail.com|||"])
    after = profiles(scoped)
    assert {label: after[label] for label in before} == before
