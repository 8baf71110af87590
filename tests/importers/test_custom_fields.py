"""A source's ticket custom fields arrive in Sportello's custom fields (fields/), defined on first
sight or sent where the mapping file says; an original number with letters stays searchable."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import pytest

from sportello.fields.models import CustomField
from sportello.importers.mapping import Mapping
from sportello.importers.models import ImportedRecord
from sportello.importers.records import Checkpoint, CommentIn, IdentityIn, PersonIn, TicketIn
from sportello.importers.runner import run_import
from sportello.importers.sources.freshdesk import FreshdeskSource
from sportello.search import backend as search
from sportello.tickets.models import Ticket
from tests.importers.freshdesk_server import API_KEY, FreshdeskServer

pytestmark = pytest.mark.django_db

AT = datetime(2024, 3, 1, 9, 0, tzinfo=UTC)


class ListSource:
    """A source of a few records made in the test."""

    name = "test:fields"

    def __init__(self, tickets: list[TicketIn]) -> None:
        self.tickets = tickets

    def total(self, stream: str) -> int | None:
        return None

    def read(self, stream: str, *, since: datetime | None, cursor: str | None) -> Iterator[Any]:
        if stream == "people":
            yield PersonIn("p1", "Ada Lovelace", [IdentityIn("email", "ada@example.com")])
        if stream == "tickets":
            yield from self.tickets
            yield Checkpoint("tickets", "end")


def ticket(source_id: str, number: int | None = None, updated_at: datetime = AT, **kwargs: Any) -> TicketIn:
    return TicketIn(
        source_id=source_id,
        number=number,
        subject=f"Ticket {source_id}",
        requester="p1",
        created_at=AT,
        updated_at=updated_at,
        status="open",
        comments=[CommentIn(f"c{source_id}", "p1", "Hello there", AT)],
        **kwargs,
    )


def test_a_freshdesk_ticket_field_is_defined_on_first_sight_and_its_value_searchable(
    freshdesk: FreshdeskServer,
) -> None:
    report = run_import(FreshdeskSource(freshdesk.url, token=API_KEY, per_page=2, sleep=lambda s: None))

    first = Ticket.objects.get(number=1)
    assert first.custom_fields == {"order_number": "A-1001", "type": "Question"}
    field = CustomField.objects.get(target="ticket", key="order_number")
    assert (field.label, field.type) == ("Order number", "text")
    assert Ticket.objects.get(number=2).custom_fields == {}  # its order number was empty
    assert [t.number for t in search.search_tickets("A-1001", Ticket.objects.all())] == [1]
    assert CustomField.objects.filter(target="ticket").count() == 2
    assert report.created["custom field"] == 4  # and the contact's Department, the company's Website


def test_each_type_is_guessed_from_the_first_value_and_a_value_that_does_not_fit_is_reported() -> None:
    tickets = [
        ticket("1", custom_fields={"Seats": 40, "VIP": True, "Renewal": "2025-01-31", "Products": ["Desk", "Chat"]}),
        ticket("2", custom_fields={"Seats": "many", "VIP": False, "Renewal": "2025-02-28T00:00:00Z"}),
        ticket("3", custom_fields={"Products": ["Phone", "Desk"], "Notes": {"nested": "object"}}),
    ]
    report = run_import(ListSource(tickets))

    types = dict(CustomField.objects.filter(target="ticket").values_list("key", "type"))
    assert types == {"seats": "number", "vip": "checkbox", "renewal": "date", "products": "multichoice"}
    assert CustomField.objects.get(key="products").choices == ["Desk", "Chat", "Phone"]
    by_source = {r.source_id: r.local_id for r in ImportedRecord.objects.filter(kind="ticket")}
    values = {s: Ticket.objects.get(pk=pk).custom_fields for s, pk in by_source.items()}
    assert values["1"] == {"seats": 40, "vip": True, "renewal": "2025-01-31", "products": ["Desk", "Chat"]}
    assert values["2"] == {"vip": False, "renewal": "2025-02-28"}  # "many" seats is not a number
    assert values["3"] == {"products": ["Desk", "Phone"]}  # in the choices' order
    assert report.unmapped[("custom field value", "Seats: many")] == 1
    assert report.unmapped[("custom field value", 'Notes: {"nested": "object"}')] == 1


def test_the_mapping_file_sends_a_field_to_an_existing_one_or_leaves_it_out(tmp_path) -> None:
    CustomField.objects.create(target="ticket", key="order_ref", label="Order", type="text")
    path = tmp_path / "mapping.json"
    path.write_text(json.dumps({"fields": {"Order number": "order_ref", "Internal score": None}}))
    run_import(
        ListSource([ticket("1", custom_fields={"Order number": "ORD-77", "Internal score": 3})]),
        mapping=Mapping.load(path),
    )

    assert Ticket.objects.get().custom_fields == {"order_ref": "ORD-77"}
    assert sorted(CustomField.objects.values_list("key", flat=True)) == ["order_ref"]


def test_an_original_number_with_letters_is_kept_and_found_by_search() -> None:
    run_import(ListSource([ticket("9", reference="ABC-000123")]))

    imported = Ticket.objects.get()
    assert imported.custom_fields == {"imported_number": "ABC-000123"}
    assert CustomField.objects.get(key="imported_number").label == "Original number"
    assert ImportedRecord.objects.get(kind="ticket").source_number == "ABC-000123"
    assert search.search_tickets("ABC-000123", Ticket.objects.all()) == [imported]


def test_a_ticket_changed_since_gets_its_new_values_and_no_field_is_defined_twice() -> None:
    run_import(ListSource([ticket("1", custom_fields={"Seats": 4, "Plan": "Basic"})]))
    CustomField.objects.create(target="ticket", key="escalated", label="Escalated", type="checkbox")
    Ticket.objects.update(custom_fields={"seats": 4, "plan": "Basic", "escalated": True})  # an agent's value
    later = datetime(2024, 3, 2, tzinfo=UTC)
    # "Plan" was cleared in the source: it is cleared here; what was set here stays.
    run_import(ListSource([ticket("1", updated_at=later, custom_fields={"Seats": 5})]), restart=True)

    assert CustomField.objects.filter(key="seats").count() == 1
    assert Ticket.objects.get().custom_fields == {"seats": 5, "escalated": True}


@pytest.fixture
def osticket() -> Iterator[Any]:
    from tests.importers.osticket_db import osticket_database

    yield from osticket_database()


def test_osticket_form_fields_and_a_custom_number_format_arrive(osticket: Any) -> None:
    from sportello.importers.sources.osticket import OsticketSource

    # A ticket form's field, as osTicket keeps it: its definition in form_field, its value in the
    # ticket__cdata column of its name; and a ticket numbered in a custom format with letters.
    osticket.execute(
        "CREATE TABLE ost_form_field (id INT UNSIGNED NOT NULL AUTO_INCREMENT PRIMARY KEY,"
        " form_id INT UNSIGNED NOT NULL, type VARCHAR(255) NOT NULL DEFAULT 'text',"
        " label VARCHAR(255) NOT NULL, name VARCHAR(64) NOT NULL) DEFAULT CHARSET=utf8mb4"
    )
    osticket.execute("INSERT INTO ost_form_field (form_id, type, label, name) VALUES (2, 'text', 'Serial', 'serial')")
    osticket.execute("ALTER TABLE ost_ticket__cdata ADD COLUMN serial MEDIUMTEXT")
    osticket.execute("UPDATE ost_ticket__cdata SET serial = 'SN-4471' WHERE ticket_id = 1")
    osticket.execute("UPDATE ost_ticket SET number = 'ABC-000123' WHERE ticket_id = 2")

    run_import(OsticketSource(osticket.url))

    first = Ticket.objects.get(number=481516)
    assert first.custom_fields == {"serial": "SN-4471"}
    assert CustomField.objects.get(key="serial").label == "Serial"
    lettered = Ticket.objects.get(subject="A quote for 40 seats")
    assert lettered.custom_fields == {"imported_number": "ABC-000123"}
    assert search.search_tickets("ABC-000123", Ticket.objects.all()) == [lettered]
    assert search.search_tickets("SN-4471", Ticket.objects.all()) == [first]


def test_a_zendesk_ticket_brings_its_custom_fields_under_their_titles(zendesk: Any) -> None:
    from sportello.importers.sources.zendesk import ZendeskSource
    from tests.importers.zendesk_server import EMAIL, TOKEN

    run_import(ZendeskSource(zendesk.url, email=EMAIL, token=TOKEN, sleep=lambda s: None))

    ticket = Ticket.objects.get(number=35436)
    # The drop-down's option by its name, not its tag; a deleted field's value is left out.
    assert ticket.custom_fields == {
        "order_number": "ORD-745",
        "hardware": "Laser printer",
        "under_warranty": True,
        "type": "incident",
    }
    labels = dict(CustomField.objects.values_list("key", "label"))
    assert labels["hardware"] == "Hardware" and labels["under_warranty"] == "Under warranty"
    assert search.search_tickets("ORD-745", Ticket.objects.all()) == [ticket]
