"""A delta import (`--since`, or a run after a complete one) takes away what the source took away:
a tag removed there, a custom field cleared there (on tickets, customers and organizations), a
customer's notes emptied. What people added here stays."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from sportello.customers.models import Customer, Organization
from sportello.fields.models import CustomField
from sportello.importers.records import CommentIn, IdentityIn, OrganizationIn, PersonIn, TicketIn
from sportello.importers.runner import run_import
from sportello.tickets.models import Tag, Ticket
from tests.importers.common import ListSource

pytestmark = pytest.mark.django_db

AT = datetime(2024, 3, 1, 9, 0, tzinfo=UTC)
LATER = datetime(2024, 4, 1, 9, 0, tzinfo=UTC)


def records(at: datetime, *, tags: list[str], ticket_fields: dict[str, Any], person: dict[str, Any], **kw: Any) -> Any:
    return ListSource(
        name="test:delta",
        organizations=[OrganizationIn("o1", "Acme", updated_at=at, custom_fields=kw.get("organization_fields", {}))],
        people=[
            PersonIn(
                "p1",
                "Ada Lovelace",
                [IdentityIn("email", "ada@example.com")],
                organization="o1",
                notes=kw.get("notes", ""),
                updated_at=at,
                custom_fields=person,
            )
        ],
        tickets=[
            TicketIn(
                source_id="t1",
                subject="The printer",
                requester="p1",
                created_at=AT,
                updated_at=at,
                status="open",
                tags=tags,
                custom_fields=ticket_fields,
                comments=[CommentIn("c1", "p1", "It jams.", AT)],
            )
        ],
    )


def test_a_tag_removed_and_fields_cleared_in_the_source_are_removed_here_and_local_ones_stay() -> None:
    run_import(
        records(
            AT,
            tags=["printer", "vip"],
            ticket_fields={"Model": "LaserJet", "Seats": 3},
            person={"Plan": "Gold", "Account manager": "Bob"},
            organization_fields={"Region": "EMEA", "Tier": "1"},
            notes="Prefers mail",
        )
    )
    ticket = Ticket.objects.get()
    ticket.tags.add(Tag.objects.create(name="escalated"))  # an agent's, here
    CustomField.objects.create(target="ticket", key="internal_score", label="Score", type="number")
    Ticket.objects.update(custom_fields={**ticket.custom_fields, "internal_score": 7})
    assert Customer.objects.get().custom_fields == {"plan": "Gold", "account_manager": "Bob"}
    assert Organization.objects.get().custom_fields == {"region": "EMEA", "tier": "1"}

    report = run_import(
        records(LATER, tags=["printer"], ticket_fields={"Seats": 4}, person={"Plan": "Silver"}),
        since=datetime(2024, 3, 15, tzinfo=UTC),
    )

    ticket = Ticket.objects.get()
    assert sorted(ticket.tags.values_list("name", flat=True)) == ["escalated", "printer"]
    assert ticket.custom_fields == {"seats": 4, "internal_score": 7}
    customer = Customer.objects.get()
    assert customer.custom_fields == {"plan": "Silver"} and customer.notes == ""
    assert Organization.objects.get().custom_fields == {}
    assert report.updated["ticket"] == 1 and report.updated["customer"] == 1 and report.updated["organization"] == 1
    assert ticket.entries.count() == 1


def test_a_run_that_changes_nothing_takes_nothing_away() -> None:
    given = records(AT, tags=["printer"], ticket_fields={"Model": "LaserJet"}, person={"Plan": "Gold"})
    run_import(given)
    report = run_import(given, restart=True)

    assert sum(report.updated.values()) == 0
    assert list(Ticket.objects.get().tags.values_list("name", flat=True)) == ["printer"]
    assert Ticket.objects.get().custom_fields == {"model": "LaserJet"}
    assert Customer.objects.get().custom_fields == {"plan": "Gold"}


def test_an_existing_customer_keeps_the_values_set_here_beside_the_imported_ones() -> None:
    CustomField.objects.create(target="customer", key="vat_number", label="VAT", type="text")
    here = Customer.objects.create(name="Ada", custom_fields={"vat_number": "IT123"})
    here.identities.create(kind="email", value="ada@example.com", verified=True)

    run_import(records(AT, tags=[], ticket_fields={}, person={"Plan": "Gold"}))

    assert Customer.objects.get().custom_fields == {"vat_number": "IT123", "plan": "Gold"}
