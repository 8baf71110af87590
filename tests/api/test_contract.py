"""The OpenAPI document and the API agree: schemathesis over every operation, with all its checks.

A client generated from /api/v1/openapi.json must be able to trust it: every status an operation
answers is documented, responses match their schemas, input the document calls invalid is refused
and input it calls valid is not refused for its shape. The only refusals of valid-looking input
left are those no schema can express — an id that names no row, a name already taken, a ticket in
the wrong state — and they come back as 422 with the service's one-sentence `detail` (never as
field errors from validation, which would mean the document and the validation disagree).

Generation is derandomized and bounded (EXAMPLES cases per operation and mode) so that the run
takes about a minute and a failure is reproducible rather than flaky.
"""

from __future__ import annotations

import json

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis import GenerationMode
from schemathesis.checks import CheckContext
from schemathesis.core.failures import FailureGroup
from schemathesis.specs.openapi.checks import positive_data_acceptance

from tests.api.conftest import API
from tests.api.test_fuzz import wsgi_app  # noqa: F401 (a fixture)
from tests.conftest import token_for

pytestmark = pytest.mark.django_db

EXAMPLES = 10
# The operations are checked in this many interleaved parts, so the test workers share the work.
PARTS = 4


def refused_only_for_what_no_schema_says(ctx: CheckContext, response, case) -> bool | None:  # type: ignore[no-untyped-def]
    """positive_data_acceptance, except for a service's own 422 (an unknown id, a duplicate, a state rule)."""
    if response.status_code == 422:
        body = json.loads(response.content or b"{}")
        if not body.get("errors"):  # a service's refusal, not a validation that contradicts the document
            return None
    try:
        return positive_data_acceptance(ctx, response, case)
    except AssertionError as failure:
        raise AssertionError(f"{failure}\nAnswer: {response.content[:400]!r}") from failure


@pytest.mark.parametrize("part", range(PARTS))
def test_every_operation_keeps_the_documented_contract(part, wsgi_app, admin, ticket, customer):  # noqa: F811
    schema = schemathesis.openapi.from_wsgi(f"{API}/openapi.json", wsgi_app)
    real = {"number": ticket.number, "customer_id": customer.pk, "entry_id": ticket.entries.first().pk}
    headers = {"Authorization": f"Bearer {token_for(admin)}"}
    failures: dict[str, list[str]] = {}
    statuses: set[int] = set()
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) > 60  # the whole document, not a part of it

    for operation in operations[part::PARTS]:
        params = {key: value for key, value in real.items() if f"{{{key}}}" in operation.path}
        for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):
            strategy = operation.as_strategy(generation_mode=mode, path_parameters=params or None)
            run(strategy, headers, failures.setdefault(operation.label, []), statuses)

    failures = {label: found for label, found in failures.items() if found}
    assert not failures, "\n\n".join(f"{label}:\n{found[0]}" for label, found in sorted(failures.items()))
    assert {200, 404, 422} <= statuses  # each part reached the handlers, with valid input and invalid


def run(strategy, headers: dict[str, str], failures: list[str], statuses: set[int]) -> None:  # type: ignore[no-untyped-def]
    """Send EXAMPLES generated requests; note each failure (without shrinking) and each status seen."""

    @given(case=strategy)
    @settings(
        max_examples=EXAMPLES,
        deadline=None,
        database=None,
        derandomize=True,
        suppress_health_check=list(HealthCheck),
    )
    def check(case: schemathesis.Case) -> None:
        try:
            response = case.call_and_validate(
                headers=headers,
                excluded_checks=[positive_data_acceptance],
                additional_checks=[refused_only_for_what_no_schema_says],
            )
        except (FailureGroup, AssertionError) as error:
            found = error.exceptions[0] if isinstance(error, FailureGroup) else error
            failures.append(f"{str(found)[:600]}\n{case.as_curl_command()[:600]}")
            return
        statuses.add(response.status_code)

    check()


def test_no_two_schemas_share_a_name():
    """Ninja names an OpenAPI component after its schema class: a second class of the same name
    silently replaces the first in the document (a customer merge's body once showed as the
    ticket merge's)."""
    from ninja import Schema

    import sportello.api  # noqa: F401  (every router, so every schema, is imported)

    def subclasses(cls: type) -> list[type]:
        return [cls, *(s for sub in cls.__subclasses__() for s in subclasses(sub))]

    ours: dict[str, set[str]] = {}
    for cls in subclasses(Schema):
        if cls.__module__.startswith("sportello."):
            ours.setdefault(cls.__name__, set()).add(cls.__module__)
    assert {name: modules for name, modules in ours.items() if len(modules) > 1} == {}
