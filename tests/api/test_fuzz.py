"""Schemathesis generates requests from the OpenAPI document: none may end in a server error.

Valid and invalid inputs (wrong types, missing fields, odd strings) go to the ticket and customer
operations with a valid agent token; bad input must come back as a 4xx JSON answer, never a 500.
Generation is derandomized so that a failure is reproducible rather than flaky.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import schemathesis
from django.core.handlers.wsgi import WSGIHandler
from django.core.signals import request_finished, request_started
from django.db import close_old_connections
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error

from tests.api.conftest import API
from tests.conftest import token_for

pytestmark = pytest.mark.django_db


@pytest.fixture
def wsgi_app() -> Iterator[WSGIHandler]:
    """Django as a WSGI app that keeps the test's transaction, as Django's test client does.

    Django closes "old" database connections when a request starts and ends; inside a test's
    transaction that would roll it back, so the signal handlers are off while the test runs.
    """
    request_started.disconnect(close_old_connections)
    request_finished.disconnect(close_old_connections)
    try:
        yield WSGIHandler()
    finally:
        request_started.connect(close_old_connections)
        request_finished.connect(close_old_connections)


def test_generated_requests_never_cause_a_server_error(wsgi_app, agent, ticket, customer):
    statuses = fuzz(
        wsgi_app, agent, rf"^{API}/(tickets|customers)", {"number": ticket.number, "customer_id": customer.pk}
    )
    # The run reached the handlers with valid input, and bad input was answered as such.
    assert {200, 201} & statuses and 422 in statuses


def test_generated_report_and_survey_queries_never_cause_a_server_error(wsgi_app, agent, ticket):
    # Periods of every shape (dates out of range, reversed, far apart, not dates) and odd filters.
    statuses = fuzz(wsgi_app, agent, rf"^{API}/(reports|csat)", {"number": ticket.number}, examples=80)
    assert 200 in statuses and 422 in statuses


def fuzz(wsgi_app, agent, path_regex: str, real: dict[str, int], examples: int = 150) -> set[int]:  # type: ignore[no-untyped-def]
    """Run generated requests against the operations under `path_regex`; the statuses seen."""
    schema = schemathesis.openapi.from_wsgi(f"{API}/openapi.json", wsgi_app).include(
        path_regex=path_regex, method=["GET", "POST", "PATCH"]
    )
    cases = st.one_of(
        schema.as_strategy(GenerationMode.POSITIVE, path_parameters=real),
        schema.as_strategy(GenerationMode.NEGATIVE, path_parameters=real),
        schema.as_strategy(GenerationMode.NEGATIVE),
    )
    headers = {"Authorization": f"Bearer {token_for(agent)}"}
    statuses: set[int] = set()

    @given(case=cases)
    @settings(
        max_examples=examples,
        deadline=None,
        database=None,
        derandomize=True,
        suppress_health_check=list(HealthCheck),
    )
    def check(case: schemathesis.Case) -> None:
        response = case.call_and_validate(headers=headers, checks=[not_a_server_error])
        statuses.add(response.status_code)

    check()
    return statuses
