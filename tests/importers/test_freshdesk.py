"""`sportello import freshdesk` against a local server that speaks Freshdesk's API v2 (freshdesk_server.py)."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest
from django.core.management import CommandError, call_command

from sportello.csat.models import Survey
from sportello.customers.models import Customer
from sportello.fields.models import CustomField
from sportello.importers.mapping import Mapping
from sportello.importers.runner import run_import
from sportello.importers.sources.freshdesk import FreshdeskSource
from sportello.importers.sources.tabular import SourceError
from sportello.search import backend as search
from sportello.tickets.models import Attachment, Entry, Ticket
from tests.importers.common import at, counts
from tests.importers.freshdesk_server import API_KEY, FreshdeskServer

pytestmark = pytest.mark.django_db


def source(server: FreshdeskServer, sleeps: list[float] | None = None, token: str = API_KEY) -> FreshdeskSource:
    # Two rows a page, so that every list is followed through its Link headers.
    return FreshdeskSource(
        server.url, token=token, per_page=2, sleep=(sleeps.append if sleeps is not None else lambda s: None)
    )


def test_a_ticket_arrives_with_its_thread_authors_notes_attachments_and_times(freshdesk: FreshdeskServer) -> None:
    report = run_import(source(freshdesk))

    ticket = Ticket.objects.get(number=1)  # Freshdesk's ticket id is free here, so it is kept
    assert ticket.subject == "Support Needed..."
    assert ticket.state == "solved" and ticket.priority == 1 and ticket.channel == "portal"
    assert ticket.created_at == at("2015-08-24T09:30:00Z")
    assert ticket.solved_at == at("2015-08-25T16:00:00Z")
    assert ticket.customer.name == "Tom Outer"
    assert ticket.assignee.email == "spiderman@freshdesk.com" and not ticket.assignee.is_active
    assert ticket.group.name == "Entertainers"
    assert ticket.assignee.support_groups.filter(name="Entertainers").exists()
    assert sorted(ticket.tags.values_list("name", flat=True)) == ["printer", "urgent-ish"]
    thread = list(ticket.entries.order_by("created_at"))
    assert [(e.author_name, e.direction, e.internal, e.created_at) for e in thread] == [
        ("Tom Outer", "inbound", False, at("2015-08-24T09:30:00Z")),
        ("Spider Man", "internal", True, at("2015-08-24T09:45:00Z")),
        ("Spider Man", "outbound", False, at("2015-08-24T10:00:00Z")),
        ("Tom Outer", "inbound", False, at("2015-08-25T15:00:00Z")),
    ]
    assert thread[0].body_text == "Details about the issue..."
    assert thread[1].body_text == "Hi tom, Still Angry" and thread[1].kind == "note"
    assert "We are working on this issue" in thread[2].body_html and thread[2].channel == "email"
    assert ticket.first_response_at == at("2015-08-24T10:00:00Z")
    files = {a.filename: a for a in Attachment.objects.filter(entry__ticket=ticket)}
    assert files["screenshot.png"].entry == thread[0] and files["guide.pdf"].entry == thread[2]
    assert files["screenshot.png"].file.read() == "\u0089PNG a broken printer".encode("latin-1")
    assert files["guide.pdf"].file.read() == b"%PDF-1.4 the repair guide"
    survey = Survey.objects.get(ticket=ticket)
    assert (survey.rating, survey.comment) == ("good", "Quick and kind")
    # The custom status "Waiting on Customer" (6) is mapped by its name.
    assert Ticket.objects.get(number=2).state == "pending"
    assert Ticket.objects.get(number=3).state == "closed" and Ticket.objects.get(number=3).channel == "phone"
    superman = Customer.objects.get(name="Super Man")
    assert superman.organization.name == "SuperNova"
    assert sorted(superman.identities.values_list("kind", "value")) == [
        ("email", "lex@freshdesk.com"),
        ("email", "louis@freshdesk.com"),
        ("email", "superman@freshdesk.com"),
        ("phone", "+14155552671"),
        ("social", "@superman"),
    ]
    assert report.created["ticket"] == 3 and report.created["comment"] == 7 and report.created["attachment"] == 2
    assert not [what for what, _value in report.unmapped if what != "macro action"]  # macros: test_freshdesk_kb.py
    # Followed through the Link headers: the tickets came two a page.
    assert any("&page=2" in r for r in freshdesk.requests if r.startswith("/api/v2/tickets?"))
    assert [t.number for t in search.search_tickets("spaceship", Ticket.objects.all())] == [2]


def test_running_again_changes_nothing_and_since_brings_only_what_changed(freshdesk: FreshdeskServer) -> None:
    run_import(source(freshdesk))
    first = counts()
    again = run_import(source(freshdesk), restart=True)
    assert counts() == first
    assert sum(again.created.values()) == 0 and again.unchanged["ticket"] == 3
    tickets = freshdesk.rows("tickets")
    tickets[1] = {**tickets[1], "status": 4, "updated_at": "2024-05-01T10:00:00Z"}
    freshdesk.data["conversations"]["2"].append(
        {
            "id": 7,
            "body_text": "Refund sent.",
            "private": False,
            "user_id": 1,
            "source": 0,
            "attachments": [],
            "created_at": "2024-05-01T10:00:00Z",
        }
    )
    freshdesk.requests.clear()
    delta = run_import(source(freshdesk), since=datetime(2024, 1, 1, tzinfo=UTC))
    assert delta.updated["ticket"] == 1 and delta.created["comment"] == 1 and delta.created["ticket"] == 0
    assert Ticket.objects.get(number=2).state == "solved"
    assert Ticket.objects.get(number=2).entries.count() == 2
    assert "updated_since=2024-01-01T00%3A00%3A00Z" in next(r for r in freshdesk.requests if "/tickets?" in r)
    assert not any("/tickets/1/" in r for r in freshdesk.requests)  # unchanged: not even listed


def test_a_run_started_again_resumes_from_the_last_tickets_page_written(freshdesk: FreshdeskServer) -> None:
    freshdesk.generate(5, conversations=3)

    def die(written: int) -> None:
        if written >= 4:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        run_import(source(freshdesk), batch=2, before_commit=die)
    partial = Ticket.objects.count()
    assert 0 < partial < 8
    report = run_import(source(freshdesk), batch=2)
    assert Ticket.objects.count() == 8
    assert Ticket.objects.values("number").distinct().count() == 8
    assert Entry.objects.filter(ticket__number__gte=100_000).count() == 5 * 4
    assert report.created["ticket"] == 8 - partial


def test_error_bodies_stop_the_import_with_freshdesks_message(freshdesk: FreshdeskServer) -> None:
    with pytest.raises(SourceError, match=r"401.*You have to be logged in"):
        run_import(source(freshdesk, token="wrong"))
    freshdesk.fail_next = [
        (
            400,
            {
                "description": "Validation failed",
                "errors": [{"field": "page", "message": "It should be a Positive Integer", "code": "invalid_value"}],
            },
        )
    ]
    with pytest.raises(SourceError, match="Validation failed: page It should be a Positive Integer"):
        run_import(source(freshdesk))
    assert Ticket.objects.count() == 0


def test_bad_and_unknown_rows_are_reported_not_crashed_on(freshdesk: FreshdeskServer) -> None:
    tickets = freshdesk.rows("tickets")
    tickets.append({**tickets[0], "id": 9, "created_at": "yesterday", "updated_at": "2016-01-01T00:00:00Z"})
    tickets.append({**tickets[0], "id": 10, "requester_id": 999, "updated_at": "2016-01-02T00:00:00Z"})
    tickets.append({**tickets[0], "id": 11, "status": 42, "updated_at": "2016-01-03T00:00:00Z"})
    freshdesk.data["conversations"]["11"] = [{"id": 99, "body_text": "no time"}, "not an object"]
    freshdesk.rows("contacts").append({"name": "No id at all", "updated_at": "2016-01-01T00:00:00Z"})
    freshdesk.rows("contacts").append(
        {"id": 434, "name": "Gone", "deleted": True, "updated_at": "2016-01-01T00:00:00Z"}
    )
    report = run_import(source(freshdesk))
    reasons = {(kind, row["id"]): row["reason"] for kind, rows in report.reasons.items() for row in rows}
    assert "not an ISO 8601 time" in reasons[("ticket", "9")]
    assert reasons[("ticket", "10")] == "unknown requester '999'"
    assert reasons[("customer", "?")].startswith("cannot read it")
    assert reasons[("customer", "434")] == "deleted in Freshdesk"
    assert report.unmapped[("status", "42")] == 1
    assert Ticket.objects.get(number=11).state == "open"  # an unknown status is filed as open
    assert Ticket.objects.get(number=11).entries.count() == 1  # the description; the bad rows left out
    assert Ticket.objects.count() == 4


def test_a_mapping_file_names_custom_statuses(freshdesk: FreshdeskServer, tmp_path) -> None:
    path = tmp_path / "mapping.json"
    path.write_text(json.dumps({"statuses": {"Waiting on Customer": "on_hold"}}))
    run_import(source(freshdesk), mapping=Mapping.load(path))
    assert Ticket.objects.get(number=2).state == "on_hold"


def test_the_command_prints_and_files_its_report(freshdesk: FreshdeskServer, tmp_path, capsys) -> None:
    path = tmp_path / "report.json"
    call_command("import", "freshdesk", "--url", freshdesk.url, "--token", API_KEY, "--report", str(path))
    out = capsys.readouterr().out
    assert "tickets: 3 were created" in out
    assert json.loads(path.read_text())["counts"]["ticket"]["created"] == 3
    with pytest.raises(CommandError, match="You have to be logged in"):
        call_command("import", "freshdesk", "--url", freshdesk.url, "--token", "bad", "--report", str(path))


def test_a_list_past_the_page_cap_is_asked_again_from_the_last_time_seen(
    freshdesk: FreshdeskServer, monkeypatch
) -> None:
    from sportello.importers.sources import freshdesk as module

    monkeypatch.setattr(module, "MAX_PAGE", 1)  # Freshdesk's cap, made one page of two tickets
    freshdesk.generate(3, conversations=1)
    report = run_import(source(freshdesk))
    assert report.created["ticket"] == 6 and Ticket.objects.count() == 6
    windows = [r for r in freshdesk.requests if r.startswith("/api/v2/tickets?")]
    assert not any("&page=" in r for r in windows)  # never a second page: a new window instead
    assert len({r.split("updated_since=")[1].split("&")[0] for r in windows}) == len(windows) >= 3


def test_the_api_key_is_never_sent_to_the_attachments_storage_host(freshdesk: FreshdeskServer) -> None:
    freshdesk.attachment_host = "localhost"  # this server, by another name: another host
    report = run_import(source(freshdesk))
    assert report.created["attachment"] == 2
    assert freshdesk.attachment_credentials == [False, False]
    assert Attachment.objects.get(filename="guide.pdf").file.read() == b"%PDF-1.4 the repair guide"


def test_contact_and_company_fields_arrive_under_their_labels_and_clear_with_a_delta(
    freshdesk: FreshdeskServer,
) -> None:
    run_import(source(freshdesk))

    superman = Customer.objects.get(name="Super Man")
    assert superman.custom_fields == {"department": "Production"}  # the empty "fax" is nothing
    assert superman.organization.custom_fields == {"website": "https://www.supernova.org"}
    assert CustomField.objects.get(target="customer").label == "Department"
    contact = next(r for r in freshdesk.rows("contacts") if r["id"] == 432)
    contact.update(custom_fields={"department": None}, updated_at="2024-05-01T10:00:00Z")

    delta = run_import(source(freshdesk), since=datetime(2024, 1, 1, tzinfo=UTC))

    assert delta.updated["customer"] == 1
    assert Customer.objects.get(pk=superman.pk).custom_fields == {}
