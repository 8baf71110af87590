"""`sportello import csv` on an export in the documented layouts (tests/fixtures/importers/csv):
a ticket's thread, authors, internal notes, attachments, times and custom fields arrive exactly."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from django.core import mail

from sportello.accounts.models import User
from sportello.core.models import OutboxMessage
from sportello.csat.models import Survey
from sportello.customers.models import Customer, Organization
from sportello.fields.models import CustomField
from sportello.importers.runner import run_import
from sportello.importers.sources.tabular import TabularSource
from sportello.search import backend as search
from sportello.tickets.models import Attachment, Priority, Ticket
from tests.importers.common import at, counts

pytestmark = pytest.mark.django_db

EXPORT = Path(__file__).resolve().parent.parent / "fixtures" / "importers" / "csv"


def source(folder: Path = EXPORT, tickets: str = "tickets.csv") -> TabularSource:
    return TabularSource(
        organizations=str(folder / "organizations.csv"),
        customers=str(folder / "customers.csv"),
        tickets=str(folder / tickets),
        comments=str(folder / "comments.csv"),
    )


def test_a_ticket_arrives_with_its_thread_authors_notes_attachments_and_times() -> None:
    report = run_import(source())

    ticket = Ticket.objects.get(number=900)  # the export's number is free here, so it is kept
    assert ticket.subject == "Invoice 2024-17 charged twice"
    assert (ticket.state, ticket.priority, ticket.channel) == ("solved", Priority.HIGH, "web")
    assert ticket.created_at == at("2024-04-02T08:15:00Z") and ticket.solved_at == at("2024-04-03T16:40:00Z")
    assert ticket.customer.name == "Dana Ruiz" and ticket.group.name == "Second level"
    assert ticket.assignee.email == "omar@help.example" and not ticket.assignee.is_active
    assert sorted(ticket.tags.values_list("name", flat=True)) == ["billing", "refund"]
    thread = list(ticket.entries.order_by("created_at"))
    # The body first, then comments.csv's rows in time order (the file lists them out of order);
    # an author is named by id or by address; +02:00 is converted, not dropped.
    assert [(e.author_name, e.direction, e.internal, e.channel, e.created_at) for e in thread] == [
        ("Dana Ruiz", "inbound", False, "web", at("2024-04-02T08:15:00Z")),
        ("Dana Ruiz", "inbound", False, "web", at("2024-04-02T08:20:00Z")),
        ("Omar Haddad", "internal", True, "web", at("2024-04-02T09:00:00Z")),
        ("Omar Haddad", "outbound", False, "email", at("2024-04-02T09:30:00Z")),
        ("Dana Ruiz", "inbound", False, "email", at("2024-04-03T16:40:00Z")),
    ]
    assert thread[0].body_text == "My card was charged twice for invoice 2024-17, see the statement."
    assert thread[2].body_text == "Checked Stripe: two captures, refund the second."
    assert "<b>attached</b>" in thread[3].body_html and "<script>" not in thread[3].body_html
    assert ticket.first_response_at == at("2024-04-02T09:30:00Z")
    files = {a.filename: a for a in Attachment.objects.filter(entry__ticket=ticket)}
    assert sorted(files) == ["refund-receipt.pdf", "statement.png", "stripe-captures.csv"]
    assert files["statement.png"].entry == thread[1]
    assert files["statement.png"].file.read() == b"\x89PNG\r\n\x1a\nstatement"
    assert files["stripe-captures.csv"].entry == thread[2]  # an internal note's attachment stays with it
    assert files["refund-receipt.pdf"].entry == thread[3]
    assert (files["refund-receipt.pdf"].content_type, files["refund-receipt.pdf"].size) == ("application/pdf", 24)
    # A file the export names but does not hold is reported; the rest of the ticket came.
    [missing] = report.reasons["attachment"]
    assert missing["id"] == "m-1:2" and missing["reason"].startswith("missing.png: cannot read ")
    survey = Survey.objects.get(ticket=ticket)
    assert (survey.rating, survey.comment) == ("good", "Quick refund")
    # People: every address, agents inactive in their groups, an admin an admin.
    dana = Customer.objects.get(name="Dana Ruiz")
    assert sorted(dana.identities.values_list("kind", "value")) == [
        ("email", "dana.ruiz@home.example"),
        ("email", "dana@fabrikam.example"),
        ("phone", "+41446681800"),
    ]
    assert dana.organization.name == "Fabrikam Ltd" and dana.organization.notes == "Key account"
    lena = User.objects.get(email="lena@help.example")
    assert not lena.is_active and list(lena.support_groups.values_list("name", flat=True)) == ["Second level"]
    assert report.created["ticket"] == 1 and report.created["comment"] == 5 and report.created["attachment"] == 3
    assert mail.outbox == [] and not OutboxMessage.objects.exists()


def test_cf_columns_arrive_as_custom_fields_of_tickets_customers_and_organizations() -> None:
    run_import(source())

    assert Ticket.objects.get(number=900).custom_fields == {"order_number": "SO-88412", "product": "Cloud Pro"}
    # A column's name after cf_ is the field's label, in its own case.
    assert CustomField.objects.get(target="ticket", key="order_number").label == "Order number"
    assert [t.number for t in search.search_tickets("SO-88412", Ticket.objects.all())] == [900]
    assert Customer.objects.get(name="Dana Ruiz").custom_fields == {"customer_number": "K-4711", "vip": "yes"}
    # Agents' cells are empty: no field value, and agents are users here anyway.
    assert Organization.objects.get(name="Fabrikam Ltd").custom_fields == {
        "contract_tier": "Gold",
        "renewal": "2025-06-30",
    }
    renewal = CustomField.objects.get(target="organization", key="renewal")
    assert renewal.type == "date"  # guessed from its first value, as for every source


def test_a_json_custom_fields_object_keeps_its_types_and_a_bad_one_skips_its_ticket() -> None:
    report = run_import(source(tickets="tickets.json"))

    ticket = Ticket.objects.get(number=901)
    assert ticket.custom_fields == {
        "seats": 12,
        "renewal_due": "2025-01-31",
        "modules": ["Chat", "Voice"],
        "urgent": True,
    }
    types = dict(CustomField.objects.filter(target="ticket").values_list("key", "type"))
    assert types == {"seats": "number", "renewal_due": "date", "modules": "multichoice", "urgent": "checkbox"}
    thread = list(ticket.entries.order_by("created_at"))
    assert [(e.author_name, e.internal) for e in thread] == [("Dana Ruiz", False), ("Lena Vogt", True)]
    # An inline comment's files are found beside the tickets file.
    assert Attachment.objects.get(entry=thread[0]).filename == "statement.png"
    assert report.reasons["ticket"] == [{"id": "line 2", "reason": "custom_fields is not an object"}]


def test_a_second_run_writes_nothing_and_a_changed_field_is_updated(tmp_path: Path) -> None:
    folder = tmp_path / "export"
    shutil.copytree(EXPORT, folder)
    run_import(source(folder))
    before = counts()
    report = run_import(source(folder))
    assert counts() == before and sum(report.created.values()) == 0

    tickets = folder / "tickets.csv"
    tickets.write_text(
        tickets.read_text()
        .replace('2024-04-03T16:40:00Z,"My card', '2024-04-04T10:00:00Z,"My card')
        .replace("SO-88412,Cloud Pro", "SO-88412,")
    )
    run_import(source(folder))
    ticket = Ticket.objects.get(number=900)
    assert ticket.custom_fields == {"order_number": "SO-88412"}  # the export cleared Product
    assert counts() == before


def test_dry_run_reads_no_attachment_and_writes_nothing() -> None:
    report = run_import(source(), dry_run=True)
    assert report.created["ticket"] == 1 and report.created["attachment"] == 4  # missing.png is not even opened
    assert not Ticket.objects.exists() and not Attachment.objects.exists()
