"""Migration reports 0010 filled the facts' custom field values and options from the tickets: on
PostgreSQL in one statement (its OPTIONS_SQL), elsewhere in Python. Either way the facts hold the
`field_values` the facts code (reports/facts.py, through `rollup.field_values`) computes for the
same tickets, whatever the values hold: repeats, values of the wrong type, unknown or inactive
fields, another target's field, options at and past 200 characters, texts outside ASCII."""

from __future__ import annotations

import importlib
from types import SimpleNamespace

import pytest
from django.apps import apps
from django.db import connection

from sportello.customers.services import Sender
from sportello.reports import facts
from sportello.reports.models import TicketFact
from sportello.tickets.intake import Inbound, ingest
from sportello.tickets.models import Ticket
from tests.fields.conftest import make_field

pytestmark = pytest.mark.django_db

migration = importlib.import_module("sportello.reports.migrations.0010_organization_and_field_grains")

VALUES = [
    {"product": "Widget", "colours": ["Red", "Blue", "Red"], "gift": True, "order_number": "A-77"},
    {"product": 5, "colours": "Red", "gift": "yes", "quantity": 3},  # not what the fields hold: no option
    {"colours": ["Zebra", "apple", "Äpfel", "Émile", "zz", 3, None, ["Red"]], "gift": False},
    {"product": "x" * 192, "colours": ["y" * 193, "Green"]},  # "product=" + 192 is 200 characters
    {"product": "", "unknown": "field", "tier": "gold", "legacy": "Old"},
    {"product": None, "gift": None, "colours": [], "legacy": ["Old"]},
    {"product": "日本", "colours": ["Émile", "émile", "Emile"]},
    {"order_number": "only a text"},
]


def test_the_migrations_fill_gives_the_field_values_of_the_facts_code(db):
    make_field("product", "choice", choices=["Widget", "Gadget"])
    make_field("colours", "multichoice", choices=["Red", "Green", "Blue"])
    make_field("gift", "checkbox")
    make_field("order_number", "text")
    make_field("quantity", "number")
    make_field("legacy", "choice", choices=["Old"], active=False)  # inactive: its options still count
    make_field("tier", "choice", target="customer", choices=["gold"])  # a customer's field: none
    ids = []
    for n, values in enumerate(VALUES):
        ticket = ingest(
            Inbound(channel="web", sender=Sender(name=f"C{n}", email=f"c{n}@example.com"), subject=f"#{n}",
                    body_text="Hello", acknowledge=False)
        ).ticket  # fmt: skip
        Ticket.objects.filter(pk=ticket.pk).update(custom_fields=values)
        ids.append(ticket.pk)
    facts.refresh(ids)
    by_facts_code = dict(TicketFact.objects.filter(pk__in=ids).values_list("pk", "field_values"))
    assert by_facts_code[ids[0]] == ["colours=Blue", "colours=Red", "gift=yes", "product=Widget"]
    assert by_facts_code[ids[1]] == []
    assert by_facts_code[ids[3]] == ["colours=Green", "product=" + "x" * 192]
    assert by_facts_code[ids[4]] == ["legacy=Old", "product="]
    TicketFact.objects.filter(pk__in=ids).update(custom_fields={}, field_values=[])

    if connection.vendor == "postgresql":  # the test's deferred checks, or its CREATE INDEX is refused
        with connection.cursor() as cursor:
            cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")
    migration.fill_custom_fields(apps, SimpleNamespace(connection=connection))

    kept = TicketFact.objects.filter(pk__in=ids)
    assert dict(kept.values_list("pk", "field_values")) == by_facts_code, connection.vendor
    assert dict(kept.values_list("pk", "custom_fields")) == dict(zip(ids, VALUES, strict=True))
