"""Schemathesis against the running server's own OpenAPI document: no 5xx, and every answer
conforms to the document (status codes, content types, bodies, headers). Bounded in time:
a few examples per operation."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis import Case, checks
from schemathesis.specs.openapi import checks as openapi_checks
from tests.api.conftest import Running, new_key, order, start_server

from clientela.api.keys import Scope
from clientela.config import create_instance

EXAMPLES = 15
"""Per operation: the whole run takes well under a minute."""
CHECKS = [checks.not_a_server_error, openapi_checks.status_code_conformance,
          openapi_checks.content_type_conformance, openapi_checks.response_schema_conformance,
          openapi_checks.response_headers_conformance]


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Running, str]]:
    home: Path = tmp_path_factory.mktemp("schema") / "home"
    instance = create_instance("shop", home=home)
    key = new_key(instance, Scope.ADMIN)
    running = start_server(home, "shop")
    with running.client(key) as api:
        api.post("/v1/orders?wait=true", json=order())
    yield running, key
    running.stop()


def test_the_api_keeps_its_openapi_contract(server: tuple[Running, str]) -> None:
    running, key = server
    schema = schemathesis.openapi.from_url(f"{running.url}/openapi.json")
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) >= 10

    for operation in operations:
        @given(case=operation.as_strategy())
        @settings(max_examples=EXAMPLES, deadline=None, derandomize=True, database=None,
                  suppress_health_check=list(HealthCheck))
        def keeps_contract(case: Case) -> None:
            case.call_and_validate(base_url=running.url,
                                   headers={"Authorization": f"Bearer {key}"}, checks=CHECKS)

        keeps_contract()
