"""What an identifier is: normalisation, blocked values, and what an operator may type."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from clientela.config.settings import IdentitySection, Settings
from clientela.identity.lookup import IdentityError, parse
from clientela.identity.rules import IdentityRules, compact_spelling, e164


def _rules(**identity: object) -> IdentityRules:
    settings = Settings.model_validate({"instance": {"name": "demo"}, "identity": identity,
                                        "files": {"store_scoped_customer_ids": True}})
    return IdentityRules.of(settings)


@pytest.mark.parametrize("raw", ["955551234", "(9) 5555 1234", "+56 9 5555 1234",
                                 "+56955551234", " 9 5555 1234 "])
def test_chilean_spellings_of_one_mobile_are_one_e164(raw: str) -> None:
    assert e164(raw, "CL") == "+56955551234"


@pytest.mark.parametrize("raw", ["0", "", "n/a", "12", "09 5555 1234 5555"])
def test_what_cannot_be_a_phone_is_not_an_identifier(raw: str) -> None:
    assert e164(raw, "CL") is None


@settings(max_examples=400)
@given(raw=st.text(alphabet=" ().-/+0123456789", max_size=24),
       country=st.sampled_from(["CL", "US", "GB", "IT", "AR", ""]))
def test_a_compact_spelling_is_the_same_number(raw: str, country: str) -> None:
    assert e164(compact_spelling(raw), country) == e164(raw, country)


@pytest.mark.parametrize(("raw", "compact"), [
    ("(9) 5555 1234", "955551234"), ("(+56) 9-5555/1234", "+56955551234"),
    ("9 5555 1234 ext. 2", "9 5555 1234 ext. 2"), ("9 5555+1234", "9 5555+1234")])
def test_compact_spellings_keep_digits_and_a_leading_plus(raw: str, compact: str) -> None:
    assert compact_spelling(raw) == compact


def test_national_numbers_need_a_country() -> None:
    assert e164("955551234", "") is None
    assert e164("+56955551234", "") == "+56955551234"


def test_emails_are_trimmed_lower_cased_and_checked() -> None:
    rules = _rules()
    assert rules.normalise("email", " Ana.Diaz@Mail.COM ") == "ana.diaz@mail.com"
    assert rules.normalise("email", "ana.diaz@mail") is None
    assert rules.normalise("email", "ana diaz@mail.com") is None


@pytest.mark.parametrize("value", ["", "NULL", "None", "N/A", "0", "-1", "undefined",
                                   "test@test.com", "noemail@austral.cl", "SINMAIL@x.cl"])
def test_built_in_junk_is_blocked(value: str) -> None:
    assert _rules().is_blocked(value)


def test_instance_blocks_its_own_values_and_patterns() -> None:
    rules = _rules(blocked_values=["ventas@austral.cl"], blocked_patterns=[r".*@austral\.cl"])
    assert rules.is_blocked("VENTAS@austral.cl")
    assert rules.is_blocked("caja3@austral.cl")
    assert not rules.is_blocked("ana@mail.com")


def test_a_bad_pattern_or_type_is_refused_at_start() -> None:
    with pytest.raises(ValueError, match="not an RE2 regular expression: missing \\)"):
        IdentitySection(blocked_patterns=["(unclosed"])
    with pytest.raises(ValueError, match="invalid perl operator"):
        IdentitySection(blocked_patterns=["(?!ventas).*@austral[.]cl"])
    with pytest.raises(ValueError, match="'loyalty' is not an identifier type"):
        IdentitySection(fields={"Card": "loyalty"})
    with pytest.raises(ValueError, match="use email, user_id or custom:NAME"):
        IdentitySection(main_identifier="phone")


def test_operators_write_type_colon_value() -> None:
    rules = _rules(phone_country="CL")
    assert parse("email: Ana@Mail.com", rules) == ("email", "", "ana@mail.com")
    assert parse("ana@mail.com", rules) == ("email", "", "ana@mail.com")
    assert parse("user_id:S01:17", rules) == ("user_id", "S01", "17")
    assert parse("phone:(9) 5555 1234", rules) == ("phone", "", "+56955551234")
    assert parse("custom:loyalty_card:7001", rules) == ("custom:loyalty_card", "", "7001")
    assert parse("client_id:42", rules) == 42
    assert parse("42", rules) == 42


@pytest.mark.parametrize(("text", "message"), [
    ("user_id:17", "numbered per store on this instance; write user_id:STORE:ID"),
    ("fax:123", "unknown identifier type 'fax'"),
    ("email:not-an-address", "is not a valid email"),
    ("ana", "write TYPE:VALUE"),
])
def test_unreadable_identifiers_say_how_to_write_them(text: str, message: str) -> None:
    with pytest.raises(IdentityError, match=message):
        parse(text, _rules())


def test_init_takes_the_phone_country_from_the_time_zone(home: object) -> None:
    from pathlib import Path

    from clientela.config import create_instance
    assert isinstance(home, Path)
    chile = create_instance("cl", timezone="America/Santiago", home=home)
    assert chile.settings.identity.phone_country == "CL"
    assert create_instance("utc", home=home).settings.identity.phone_country == ""
