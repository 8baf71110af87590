"""Intake makes its rows with `core.made.made` (Django's positional fast path): the instances must be
the ones the keyword form makes, defaults and related objects included."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest
from django.db.models import Model

from sportello.core.made import made
from sportello.customers.models import Customer, Identity
from sportello.tickets.models import Entry, Ticket

WHEN = datetime(2026, 12, 5, 12, 0, tzinfo=UTC)


def fields_of(instance: Model) -> dict[str, Any]:
    return {f.attname: getattr(instance, f.attname) for f in type(instance)._meta.concrete_fields}


@pytest.mark.parametrize(
    ("model", "values"),
    [
        (Customer, {"name": "Rosa", "language": "it", "organization_id": None, "created_at": WHEN, "updated_at": WHEN}),
        (Ticket, {"pk": 7, "subject": "Broken", "priority": 3, "created_at": WHEN, "updated_at": WHEN}),
        (Entry, {"kind": "message", "channel": "api", "body_text": "Hello", "metadata": {"a": 1}, "created_at": WHEN}),
    ],
)
def test_an_instance_made_fast_is_the_keyword_one(model, values):
    fast, usual = made(model, **values), model(**values)
    assert fields_of(fast) == fields_of(usual)
    assert fast._state.adding and fast._state.db is None


def test_related_objects_are_cached_as_the_keyword_form_caches_them():
    customer = Customer(pk=3, name="Rosa")
    ticket = made(Ticket, customer=customer, group=None, subject="Broken", created_at=WHEN, updated_at=WHEN)
    assert ticket.customer_id == 3 and ticket.customer is customer
    assert ticket.group_id is None and Ticket.group.is_cached(ticket)  # type: ignore[attr-defined]
    identity = made(Identity, pk=5, customer=customer, kind="email", value="rosa@example.org", created_at=WHEN)
    assert identity.pk == 5 and identity.customer is customer and identity.verified is False


def test_mutable_defaults_are_not_shared():
    one, two = made(Ticket, subject="a"), made(Ticket, subject="b")
    one.custom_fields["x"] = 1
    assert two.custom_fields == {}


def test_an_unknown_name_is_refused_as_the_keyword_form_refuses_it():
    with pytest.raises(TypeError, match="colour"):
        made(Ticket, subject="a", colour="red")
