"""Identity fixtures: customers files with identifiers, and reads of the resolved profiles."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import date
from pathlib import Path

import pytest

from clientela.config import Instance, create_instance
from clientela.identity.rules import IdentityRules
from clientela.ingest.importer import ImportResult, run_import
from clientela.stores import analytics

CUSTOMERS_HEADER = "UserId|StoreCode|Email|Phone|FirstName|City|LoyaltyCard"
EMPTY = {"orders": [], "lines": [], "categories": []}

Import = Callable[..., ImportResult]


@pytest.fixture
def scoped(home: Path) -> Instance:
    """Instance `demo` in Chile: customer ids numbered per store, phones national in CL."""
    return create_instance("demo", timezone="America/Santiago", currency="CLP",
                           store_scoped_customer_ids=True, home=home)


@pytest.fixture
def import_customers(tmp_path: Path, write_day: Callable[..., dict[str, Path]]) -> Import:
    """`import_customers(instance, day, rows)`: import one day whose Customers file holds `rows`
    (`UserId|StoreCode|Email|Phone|FirstName|City|LoyaltyCard`, trailing cells may be left out)
    and no orders."""
    width = CUSTOMERS_HEADER.count("|")

    def run(instance: Instance, day: date, rows: Sequence[str]) -> ImportResult:
        folder = tmp_path / f"drop-{day:%Y%m%d}"
        padded = [row + "|" * (width - row.count("|")) for row in rows]
        body = ("\n".join([CUSTOMERS_HEADER, *padded]) + "\n").encode("utf-8")
        files = write_day(folder, instance, day, customers=body, **EMPTY)
        return run_import(instance, list(files.values()))
    return run


def _profiles(instance: Instance) -> dict[str, int]:
    """identifier label (`email:ana@x.cl`, `user_id:S01:17`) -> client id."""
    con = analytics.connect(instance, read_only=True)
    try:
        rows = con.execute("""
            SELECT i.type || ':' || CASE WHEN i.scope <> '' THEN i.scope || ':' ELSE '' END
                   || i.value, m.client_id
            FROM identity_members m JOIN identifiers i ON i.id = m.identifier
        """).fetchall()
    finally:
        con.close()
    return dict(rows)


@pytest.fixture
def profiles() -> Callable[[Instance], dict[str, int]]:
    """`profiles(instance)`: identifier label -> client id, for every linking identifier."""
    return _profiles


def _groups(instance: Instance) -> set[frozenset[str]]:
    by_client: dict[int, set[str]] = {}
    for label, client in _profiles(instance).items():
        by_client.setdefault(client, set()).add(label)
    return {frozenset(labels) for labels in by_client.values()}


@pytest.fixture
def groups() -> Callable[[Instance], set[frozenset[str]]]:
    """`groups(instance)`: the profiles as sets of identifier labels."""
    return _groups


@pytest.fixture
def rules_of() -> Callable[[Instance], IdentityRules]:
    return lambda instance: IdentityRules.of(instance.settings)


def _sha(email: str) -> str:
    import hashlib
    return "email_sha256:" + hashlib.sha256(email.encode()).hexdigest()


@pytest.fixture
def sha() -> Callable[[str], str]:
    """`sha(email)`: the label of an email's hash identifier."""
    return _sha
