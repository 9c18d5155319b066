"""An operator's decisions: release, block, split, forbid, preview; and erasure."""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import date
from pathlib import Path

import pytest

from clientela.config import Instance, Settings
from clientela.identity import operator
from clientela.identity.forget import forget
from clientela.identity.lookup import IdentityError, find_identifier, find_profile
from clientela.identity.preview import preview
from clientela.identity.rules import IdentityRules
from clientela.ingest.importer import ImportResult
from clientela.stores import analytics

DAY1, DAY2, DAY3 = date(2025, 3, 1), date(2025, 3, 2), date(2025, 3, 3)
Groups = Callable[[Instance], set[frozenset[str]]]
Profiles = Callable[[Instance], dict[str, int]]
Import = Callable[..., ImportResult]
Query = Callable[..., list[tuple[object, ...]]]


def _act(instance: Instance, action: Callable[..., object], *labels: str, note: str = "test",
         ) -> None:
    con = analytics.connect(instance)
    try:
        rules = IdentityRules.of(instance.settings)
        action(con, instance.settings, *(find_identifier(con, rules, t) for t in labels), note)
    finally:
        con.close()


def _shared_address(scoped: Instance, import_customers: Import) -> None:
    import_customers(scoped, DAY1, [f"{i}|S{i:02d}|casa@mail.com|||" for i in range(1, 12)])


def test_release_lets_a_quarantined_address_link_and_block_stops_it(
        scoped: Instance, import_customers: Import, groups: Groups, query: Query) -> None:
    _shared_address(scoped, import_customers)
    assert len(groups(scoped)) == 11

    _act(scoped, operator.release, "email:casa@mail.com", note="one family, checked")
    assert len(groups(scoped)) == 1
    # Released stays released when more evidence comes.
    import_customers(scoped, DAY2, ["12|S12|casa@mail.com|||"])
    assert len(groups(scoped)) == 1

    _act(scoped, operator.block, "email:casa@mail.com", note="changed my mind")
    assert len(groups(scoped)) == 12
    assert query(scoped, "SELECT action, note FROM identity_reviews WHERE identifier = "
                 "(SELECT id FROM identifiers WHERE value = 'casa@mail.com') "
                 "ORDER BY decided_at") == [("quarantined", "linked to more than 10 customer "
                                             "ids"), ("released", "one family, checked"),
                                            ("blocked", "changed my mind")]


def test_split_retracts_a_link_and_the_part_without_the_oldest_identifier_gets_a_new_id(
        scoped: Instance, import_customers: Import, profiles: Profiles, query: Query) -> None:
    import_customers(scoped, DAY1, ["1|S01|ana@mail.com|||"])
    import_customers(scoped, DAY2, ["2|S02|ana@mail.com|||"])
    before = profiles(scoped)
    client = before["user_id:S01:1"]
    assert before["user_id:S02:2"] == client

    _act(scoped, operator.split, "user_id:S02:2", "email:ana@mail.com", note="shared phone")

    after = profiles(scoped)
    assert after["user_id:S01:1"] == after["email:ana@mail.com"] == client
    assert after["user_id:S02:2"] > client
    assert query(scoped, "SELECT event, others, reason FROM profile_history WHERE client_id = ? "
                 "AND event = 'split'", [client]) == [
        ("split", [after["user_id:S02:2"]],
         "link user_id:S02:2 - email:ana@mail.com retracted by an operator: shared phone")]
    # The link is kept, retracted: a full rebuild does not bring it back; `restore` does.
    con = analytics.connect(scoped)
    try:
        from clientela.identity.resolve import run_resolution
        run_resolution(con, scoped.settings, reason="test", full=True)
    finally:
        con.close()
    assert profiles(scoped) == after
    _act(scoped, operator.restore, "email:ana@mail.com", "user_id:S02:2", note="my mistake")
    assert profiles(scoped)["user_id:S02:2"] == client
    with pytest.raises(IdentityError, match="no retracted link joins"):
        _act(scoped, operator.restore, "email:ana@mail.com", "user_id:S02:2")


def test_split_needs_a_direct_link(scoped: Instance, import_customers: Import) -> None:
    import_customers(scoped, DAY1, ["1|S01|ana@mail.com|||", "2|S02|ana@mail.com|||"])
    with pytest.raises(IdentityError, match="no link joins user_id:S01:1 and user_id:S02:2 "
                                            "directly"):
        _act(scoped, operator.split, "user_id:S01:1", "user_id:S02:2")


def test_forbidden_identifiers_stay_apart_now_and_later(
        scoped: Instance, import_customers: Import, groups: Groups, profiles: Profiles) -> None:
    import_customers(scoped, DAY1, ["1|S01|ana@mail.com|||", "2|S02|ana@mail.com|||"])
    _act(scoped, operator.forbid, "user_id:S01:1", "user_id:S02:2", note="two people")
    assert profiles(scoped)["user_id:S01:1"] != profiles(scoped)["user_id:S02:2"]

    import_customers(scoped, DAY2, ["2|S02||955551234||", "1|S01||955551234||"])

    assert profiles(scoped)["user_id:S01:1"] != profiles(scoped)["user_id:S02:2"]
    _act(scoped, operator.allow, "user_id:S02:2", "user_id:S01:1", note="one person after all")
    assert profiles(scoped)["user_id:S01:1"] == profiles(scoped)["user_id:S02:2"]


def test_preview_tells_what_other_rules_would_do_and_changes_nothing(
        scoped: Instance, import_customers: Import, profiles: Profiles, tmp_path: Path) -> None:
    _shared_address(scoped, import_customers)
    import_customers(scoped, DAY2, ["20|S01|luis@mail.com|||", "21|S02|luis@mail.com|||"])
    before = profiles(scoped)
    config = tmp_path / "looser.toml"
    config.write_text(scoped.config_path.read_text().replace("shared_fan_out = 10",
                                                             "shared_fan_out = 20"))

    con = analytics.connect(scoped)
    try:
        result = preview(con, Settings.load(config))
    finally:
        con.close()

    assert (result.profiles_before, result.profiles_after) == (12, 2)
    assert (result.merged, result.split, result.quarantined_after) == (1, 0, 0)
    assert result.largest[0].size == 13  # 11 ids, the address and its hash
    assert result.largest[0].identifiers[:2] == ["user_id:S01:1", "email:casa@mail.com"]
    assert profiles(scoped) == before


def test_forget_erases_the_person_and_a_late_file_does_not_bring_them_back(
        scoped: Instance, import_customers: Import, profiles: Profiles, query: Query,
        write_day: Callable[..., dict[str, Path]], tmp_path: Path) -> None:
    import_customers(scoped, DAY1, ["1|S01|ana@mail.com|955551234|Ana||7001",
                                    "2|S02|luis@mail.com||Luis||"])
    client = profiles(scoped)["email:ana@mail.com"]

    con = analytics.connect(scoped)
    try:
        erasure = forget(con, scoped.settings, client)
    finally:
        con.close()

    assert (erasure.identifiers, erasure.customer_rows) == (5, 1)
    assert set(profiles(scoped)) == {"user_id:S02:2", "email:luis@mail.com",
                                     "email_sha256:" + __import__("hashlib").sha256(
                                         b"luis@mail.com").hexdigest()}
    assert query(scoped, "SELECT user_id FROM customers") == [("2",)]
    assert query(scoped, "SELECT count(*) FROM tombstones") == [(5,)]
    assert query(scoped, "SELECT event FROM profile_history WHERE client_id = ?",
                 [client]) == [("erased",)]
    assert query(scoped, "SELECT count(*) FROM phone_spellings WHERE e164 = '+56955551234'"
                 ) == [(0,)]

    # A late day naming her again, with an order: nothing of her comes back.
    folder = tmp_path / "late"
    header = "UserId|StoreCode|Email|Phone|FirstName|City|LoyaltyCard"
    files = write_day(folder, scoped, DAY2,
                      customers=f"{header}\n1|S01|ana@mail.com|||Ana||\n".encode(),
                      orders=["o9|S01|1|02/03/2025|1|1|10.00|10.00|0|0"],
                      lines=["S01|o9|1|1|SKU1|10.00"], categories=[])
    from clientela.ingest.importer import run_import
    run_import(scoped, list(files.values()))

    assert "user_id:S01:1" not in profiles(scoped)
    assert query(scoped, "SELECT count(*) FROM customers WHERE user_id = '1'") == [(0,)]
    assert query(scoped, "SELECT count(*) FROM orders") == [(0,)]
    assert query(scoped, "SELECT count(*) FROM order_lines") == [(0,)]


def test_an_alias_and_a_shared_identifier_find_their_profiles(
        scoped: Instance, import_customers: Import) -> None:
    _shared_address(scoped, import_customers)
    con = analytics.connect(scoped, read_only=True)
    try:
        rules = IdentityRules.of(scoped.settings)
        with pytest.raises(IdentityError, match=re.escape(
                "email:casa@mail.com is quarantined and belongs to no profile")):
            find_profile(con, rules, "email:casa@mail.com")
        with pytest.raises(IdentityError, match="no profile has client id 999"):
            find_profile(con, rules, "client_id:999")
        with pytest.raises(IdentityError, match=re.escape(
                "no identifier 'email:otra@mail.com' is known")):
            find_profile(con, rules, "email:otra@mail.com")
    finally:
        con.close()


def test_forget_leaves_other_profiles_rows_and_only_removes_the_address(
        scoped: Instance, import_customers: Import, profiles: Profiles, query: Query) -> None:
    import_customers(scoped, DAY1, ["1|S01|ana@mail.com||Ana||", "W1|WEB|ana@mail.com||Luis||"])
    _act(scoped, operator.forbid, "user_id:S01:1", "user_id:WEB:W1", note="two people")
    client = profiles(scoped)["user_id:S01:1"]
    assert profiles(scoped)["email:ana@mail.com"] == client

    con = analytics.connect(scoped)
    try:
        forget(con, scoped.settings, client)
    finally:
        con.close()

    assert query(scoped, "SELECT scope_store, user_id, email, first_name FROM customers") == [
        ("WEB", "W1", None, "Luis")]
    assert set(profiles(scoped)) == {"user_id:WEB:W1"}
    # The next day W1 sends the address again: it is not taken back.
    import_customers(scoped, DAY2, ["W1|WEB|ana@mail.com||Luis||"])
    assert set(profiles(scoped)) == {"user_id:WEB:W1"}
    assert query(scoped, "SELECT email FROM customers") == [(None,)]
