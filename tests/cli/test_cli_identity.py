"""`clientela identity ...`, `profile` and `forget` through the command line."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import date
from pathlib import Path

import pytest
from typer.testing import CliRunner, Result

from clientela.cli import errors, identity, imports, instances
from clientela.cli.main import app

DAY1 = date(2025, 3, 1)
HEADER = "UserId|StoreCode|Email|Phone|FirstName|City|LoyaltyCard"
ROWS = ["17|S01|Ana.Diaz@Mail.com|955551234|Ana|Temuco|7001",
        "W9|WEB|ana.diaz@mail.com||Ana||",
        *(f"{i}|S{i:02d}|ventas@austral.cl||C||" for i in range(1, 12))]


@pytest.fixture
def run(home: Path, monkeypatch: pytest.MonkeyPatch) -> Callable[..., Result]:
    for console in (errors.err_console, imports.console, instances.console, identity.console):
        monkeypatch.setattr(console, "_width", None)
    runner = CliRunner()

    def invoke(*args: str, stdin: str | None = None) -> Result:
        return runner.invoke(app, list(args), input=stdin,
                             env={"CLIENTELA_HOME": str(home), "COLUMNS": "1000"})
    return invoke


@pytest.fixture
def loaded(run: Callable[..., Result], tmp_path: Path,
           write_day: Callable[..., dict[str, Path]]) -> Callable[..., Result]:
    assert run("init", "demo", "--timezone", "America/Santiago",
               "--store-scoped-customer-ids").exit_code == 0
    body = ("\n".join([HEADER, *ROWS]) + "\n").encode()
    files = write_day(tmp_path / "drop", "demo", DAY1, customers=body, orders=[], lines=[],
                      categories=[])
    result = run("import", *map(str, files.values()))
    assert result.exit_code == 0, result.output
    assert ("Identity: 12 profiles; 12 new, 0 merged, 0 split; 1 shared identifier(s) "
            "quarantined (`clientela identity review`)") in result.stdout
    return run


def test_explain_a_profile_and_a_pair(loaded: Callable[..., Result]) -> None:
    result = loaded("identity", "explain", "user_id:S01:17")
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    assert lines[0] == "Profile 1 (recognized), 6 identifier(s):"
    assert "Joined by:" in lines
    assert any(line.startswith("  user_id:S01:17 - email:ana.diaz@mail.com  (same_record, "
                               "ICOMMKT_CUSTOMERS_DEMO_20250301.txt:2, 2025-03-01)")
               for line in lines)

    pair = loaded("identity", "explain", "user_id:WEB:W9", "phone:(9) 5555 1234", "--json")
    data = json.loads(pair.stdout)
    assert data["same_person"] is True
    assert [(link["a"], link["b"]) for link in data["chain"]] == [
        ("user_id:WEB:W9", "email:ana.diaz@mail.com"),
        ("user_id:S01:17", "email:ana.diaz@mail.com"),
        ("user_id:S01:17", "phone:+56955551234")]


def test_review_lists_quarantined_addresses_and_release_merges_them(
        loaded: Callable[..., Result]) -> None:
    review = loaded("identity", "review", "--json")
    assert json.loads(review.stdout)[0]["identifier"] == "email:ventas@austral.cl"
    assert json.loads(review.stdout)[0]["fan_out"] == 11

    release = loaded("identity", "release", "email:ventas@austral.cl", "--note", "test")
    assert release.exit_code == 0, release.output
    assert release.stdout.startswith("Identity: 2 profiles; 0 new, 10 merged, 0 split")


def test_profile_json(loaded: Callable[..., Result]) -> None:
    result = loaded("profile", "email:ANA.DIAZ@mail.com", "--json")
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert (data["client_id"], data["recognized"], data["email"]) == (1, True,
                                                                       "ana.diaz@mail.com")
    assert data["attributes"]["City"]["value"] == "Temuco"
    assert "custom:loyalty_card:7001" in [i["label"] for i in data["identifiers"]]


def test_forget_asks_then_erases(loaded: Callable[..., Result]) -> None:
    refused = loaded("forget", "email:ana.diaz@mail.com", stdin="n\n")
    assert refused.exit_code == 1
    assert "Error: nothing erased" in refused.stderr

    erased = loaded("forget", "email:ana.diaz@mail.com", "--yes")
    assert erased.exit_code == 0, erased.output
    assert erased.stdout.strip() == ("Erased profile 1: 6 identifier(s), 2 customer row(s), "
                                     "0 order(s).")
    gone = loaded("profile", "user_id:S01:17")
    assert gone.exit_code == 1
    assert gone.stderr.strip() == "Error: no identifier 'user_id:S01:17' is known"


def test_evaluate_against_a_truth_file(loaded: Callable[..., Result], tmp_path: Path) -> None:
    truth = tmp_path / "truth.csv"
    truth.write_text("store_code,user_id,person_id\nS01,17,1\nWEB,W9,1\nS01,1,2\nS02,2,2\n")
    result = loaded("identity", "evaluate", str(truth))
    assert result.exit_code == 0, result.output
    assert result.stdout.strip() == (
        "4 records: precision 1.0000, recall 0.5000 of all true pairs, 1.0000 of the 1 pairs "
        "the evidence can link (2 true pairs).")


def test_an_unreadable_identifier_is_one_error_line(loaded: Callable[..., Result]) -> None:
    result = loaded("identity", "explain", "ana")
    assert result.exit_code == 1
    assert result.stderr.strip() == ("Error: 'ana': write TYPE:VALUE, e.g. email:ana@mail.com, "
                                     "user_id:S01:17, phone:+56955551234 or client_id:42")
