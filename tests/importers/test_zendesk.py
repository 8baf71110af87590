"""`sportello import zendesk` against a local server that speaks Zendesk's API (zendesk_server.py)."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest
from django.core.management import CommandError, call_command

from sportello.csat.models import Survey
from sportello.customers.models import Customer, Identity
from sportello.fields.models import CustomField
from sportello.importers.models import ImportedRecord
from sportello.importers.runner import run_import
from sportello.importers.sources.tabular import SourceError
from sportello.importers.sources.zendesk import ZendeskSource
from sportello.search import backend as search
from sportello.tickets.models import Attachment, Entry, Ticket
from tests.importers.common import at, counts
from tests.importers.zendesk_server import EMAIL, TOKEN, ZendeskServer

pytestmark = pytest.mark.django_db


def source(server: ZendeskServer, sleeps: list[float] | None = None) -> ZendeskSource:
    return ZendeskSource(
        server.url, email=EMAIL, token=TOKEN, sleep=(sleeps.append if sleeps is not None else lambda s: None)
    )


def test_a_ticket_arrives_with_its_thread_authors_notes_attachments_and_times(zendesk: ZendeskServer) -> None:
    report = run_import(source(zendesk))

    ticket = Ticket.objects.get(number=35436)  # Zendesk's number is free here, so it is kept
    assert ticket.subject == "Help, my printer is on fire!"
    assert ticket.state == "solved" and ticket.priority == 3 and ticket.channel == "web"
    assert ticket.created_at == at("2009-07-20T22:55:29Z")
    assert ticket.solved_at == at("2011-05-05T10:38:52Z")
    assert ticket.customer.name == "Roger Wilco"
    assert ticket.customer.organization.name == "One Organization"
    assert ticket.assignee.email == "johnny@example.com" and not ticket.assignee.is_active
    assert ticket.group.name == "DJs"
    assert sorted(ticket.tags.values_list("name", flat=True)) == ["enterpise", "other_tag"]
    thread = list(ticket.entries.order_by("created_at"))
    assert [(e.author_name, e.direction, e.internal, e.created_at) for e in thread] == [
        ("Roger Wilco", "inbound", False, at("2009-07-20T22:55:29Z")),
        ("Johnny Agent", "internal", True, at("2009-07-20T23:10:00Z")),
        ("Johnny Agent", "outbound", False, at("2009-07-21T08:00:00Z")),
        ("Roger Wilco", "inbound", False, at("2009-07-22T09:15:00Z")),
    ]
    assert thread[1].body_text == "Check the toner, please."
    assert "<script>" not in thread[1].body_html and "<b>toner</b>" in thread[1].body_html
    assert thread[2].channel == "email"
    assert ticket.first_response_at == at("2009-07-21T08:00:00Z")
    files = {a.filename: a for a in Attachment.objects.filter(entry__ticket=ticket)}
    assert files["fire.jpg"].entry == thread[0] and files["manual.pdf"].entry == thread[2]
    assert files["fire.jpg"].file.read() == "\u00ff\u00d8\u00ff\u00e0 a colorful fire".encode("latin-1")
    assert files["manual.pdf"].file.read() == b"%PDF-1.4 the printer manual"
    survey = Survey.objects.get(ticket=ticket)
    assert (survey.rating, survey.comment) == ("good", "Great support!")
    # Every identity of the customer, normalised; the twitter handle too.
    roger = Customer.objects.get(name="Roger Wilco")
    assert sorted(roger.identities.values_list("kind", "value")) == [
        ("email", "roger.wilco@home.example.org"),
        ("email", "roger@example.com"),
        ("phone", "+15555551234"),
    ]
    assert Identity.objects.filter(kind="social", value="@nobodytweets").exists()
    assert report.skipped["ticket"] == 1 and report.reasons["ticket"][0]["reason"] == "deleted in Zendesk"
    assert report.created["ticket"] == 3 and report.created["comment"] == 7 and report.created["attachment"] == 2
    # Searchable at once.
    assert [t.number for t in search.search_tickets("colorful", Ticket.objects.all())] == [35436]


def test_running_again_changes_nothing_and_since_brings_only_what_changed(zendesk: ZendeskServer) -> None:
    run_import(source(zendesk))
    first = counts()
    again = run_import(source(zendesk), restart=True)
    assert counts() == first
    assert sum(again.created.values()) == 0 and again.unchanged["ticket"] == 3
    # A ticket changes in Zendesk: a new comment and a new status.
    zendesk.tickets[1] = {**zendesk.tickets[1], "status": "pending", "updated_at": "2024-05-01T10:00:00Z"}
    zendesk.comments["35437"].append(
        {
            "id": 2002,
            "author_id": 35436,
            "body": "Try resetting it.",
            "public": True,
            "attachments": [],
            "created_at": "2024-05-01T10:00:00Z",
        }
    )
    zendesk.requests.clear()
    delta = run_import(source(zendesk), since=datetime(2024, 1, 1, tzinfo=UTC))
    assert delta.updated["ticket"] == 1 and delta.created["comment"] == 1
    assert Ticket.objects.get(number=35437).state == "pending"
    assert Ticket.objects.get(number=35437).entries.count() == 2
    assert not any("/tickets/35436/comments" in r for r in zendesk.requests)  # unchanged: not read


def test_an_import_killed_after_some_tickets_finishes_on_the_next_run_without_duplicates(
    zendesk: ZendeskServer,
) -> None:
    zendesk.generate(7, comments=5)

    def die(written: int) -> None:
        if written >= 4:
            raise KeyboardInterrupt  # as a Ctrl-C in the middle of a batch's transaction

    with pytest.raises(KeyboardInterrupt):
        run_import(source(zendesk), batch=2, before_commit=die)
    partial = Ticket.objects.count()
    assert 0 < partial < 10
    report = run_import(source(zendesk), batch=2)
    assert Ticket.objects.count() == 10
    assert Entry.objects.filter(ticket__number__gte=1_000_000).count() == 35
    assert Ticket.objects.values("number").distinct().count() == 10
    assert ImportedRecord.objects.filter(kind="comment").values("source_id").distinct().count() == Entry.objects.count()
    assert report.created["ticket"] == 10 - partial


def test_an_error_body_stops_the_import_with_its_message(zendesk: ZendeskServer) -> None:
    with pytest.raises(SourceError, match=r"401.*Couldn't authenticate you"):
        run_import(ZendeskSource(zendesk.url, email=EMAIL, token="wrong", sleep=lambda s: None))
    zendesk.fail_next = [(403, {"error": {"title": "Forbidden", "message": "You do not have access"}})]
    with pytest.raises(SourceError, match="Forbidden: You do not have access"):
        run_import(source(zendesk))


def test_a_taken_number_is_mapped_and_the_old_one_stays_searchable(zendesk: ZendeskServer) -> None:
    customer = Customer.objects.create(name="Here already")
    from sportello.tickets import statuses

    Ticket.objects.create(
        number=35437, subject="Ours", customer=customer, channel="web", status=statuses.builtin("open"), state="open"
    )
    report = run_import(source(zendesk))
    assert report.renumbered == 1
    moved = Ticket.objects.get(subject="My password no longer works")
    assert moved.number != 35437
    assert ImportedRecord.objects.get(kind="ticket", source_id="35437").source_number == "35437"
    assert moved in search.search_tickets("35437", Ticket.objects.all())
    # New tickets continue above every kept number.
    from django.db import transaction

    from sportello.core.numbers import next_number

    with transaction.atomic():
        assert next_number() > 35439


def test_the_command_prints_and_files_its_report(zendesk: ZendeskServer, tmp_path, capsys) -> None:
    path = tmp_path / "report.json"
    call_command("import", "zendesk", "--url", zendesk.url, "--email", EMAIL, "--token", TOKEN, "--report", str(path))
    out = capsys.readouterr().out
    assert "tickets: 3 were created" in out and "deleted in Zendesk" in out
    saved = json.loads(path.read_text())
    assert saved["counts"]["ticket"]["created"] == 3
    with pytest.raises(CommandError, match="Couldn't authenticate"):
        call_command(
            "import", "zendesk", "--url", zendesk.url, "--email", EMAIL, "--token", "bad", "--report", str(path)
        )


def test_user_and_organization_fields_arrive_under_their_titles_and_clear_with_a_delta(
    zendesk: ZendeskServer,
) -> None:
    run_import(source(zendesk))

    roger = Customer.objects.get(name="Roger Wilco")
    assert roger.custom_fields == {"contract_start": "2012-07-23T00:00:00Z", "discount": 5.1, "support_plan": "Gold"}
    assert roger.organization.custom_fields == {"seats": 5.2, "region": "EMEA"}
    assert dict(CustomField.objects.filter(target="customer").values_list("key", "label")) == {
        "contract_start": "Contract start",
        "discount": "Discount",
        "support_plan": "Support plan",
    }
    assert not any(c.custom_fields for c in Customer.objects.exclude(pk=roger.pk))  # agents' are not read
    # In Zendesk: Roger's plan cleared, a tag taken off his ticket.
    users = {u["id"]: u for u in zendesk.users}
    users[123].update(
        user_fields={**users[123]["user_fields"], "user_dropdown": None}, updated_at="2024-05-01T10:00:00Z"
    )
    zendesk.tickets[0] = {**zendesk.tickets[0], "tags": ["enterpise"], "updated_at": "2024-05-01T10:00:00Z"}

    delta = run_import(source(zendesk), since=datetime(2024, 1, 1, tzinfo=UTC))

    assert delta.updated["customer"] == 1 and delta.updated["ticket"] == 1
    assert Customer.objects.get(pk=roger.pk).custom_fields == {
        "contract_start": "2012-07-23T00:00:00Z",
        "discount": 5.1,
    }
    assert list(Ticket.objects.get(number=35436).tags.values_list("name", flat=True)) == ["enterpise"]
