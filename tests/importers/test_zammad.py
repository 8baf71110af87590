"""`sportello import zammad` against a local server that speaks Zammad's REST API (zammad_server.py)."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest
from django.core.management import CommandError, call_command

from sportello.accounts.models import Group
from sportello.automation.models import Macro
from sportello.customers.models import Customer
from sportello.fields.models import CustomField
from sportello.importers.mapping import Mapping
from sportello.importers.runner import run_import
from sportello.importers.sources.tabular import SourceError
from sportello.importers.sources.zammad import ZammadSource
from sportello.search import backend as search
from sportello.tickets.models import Attachment, Entry, Status, Ticket
from tests.importers.common import at, counts
from tests.importers.zammad_server import TOKEN, ZammadServer

pytestmark = pytest.mark.django_db


def source(server: ZammadServer, sleeps: list[float] | None = None, token: str = TOKEN) -> ZammadSource:
    # Two rows a page, so that every list is read page by page.
    return ZammadSource(
        server.url, token=token, per_page=2, sleep=(sleeps.append if sleeps is not None else lambda s: None)
    )


def test_a_ticket_arrives_with_its_thread_authors_notes_attachments_and_times(zammad: ZammadServer) -> None:
    report = run_import(source(zammad))

    ticket = Ticket.objects.get(number=31001)  # Zammad's number is free here, so it is kept
    assert ticket.subject == "Welcome to Zammad!"
    assert ticket.state == "closed" and ticket.priority == 2 and ticket.channel == "email"
    assert ticket.created_at == at("2024-01-02T09:00:00Z")
    assert ticket.solved_at == at("2024-01-03T12:00:00Z")
    assert ticket.customer.name == "Nicole Braun"
    assert ticket.customer.organization.name == "Zammad Foundation"
    assert ticket.assignee.email == "anna@example.com" and not ticket.assignee.is_active
    assert ticket.assignee.support_groups.filter(name="Users").exists()
    assert ticket.group.name == "Users"
    assert sorted(ticket.tags.values_list("name", flat=True)) == ["feedback", "welcome"]
    thread = list(ticket.entries.order_by("created_at"))
    assert [(e.author_name, e.direction, e.internal, e.created_at) for e in thread] == [
        ("Nicole Braun", "inbound", False, at("2024-01-02T09:00:00Z")),
        ("Anna Agent", "internal", True, at("2024-01-02T09:30:00Z")),
        ("Anna Agent", "outbound", False, at("2024-01-02T10:00:00Z")),
    ]
    assert thread[0].body_text.strip() == "Welcome to Zammad! Our invoice is attached."
    assert "<b>attached</b>" in thread[0].body_html
    assert thread[1].body_text.strip() == "Check the invoice number first." and thread[1].kind == "note"
    assert thread[2].body_text == "Thank you, Nicole. It is paid."
    assert ticket.first_response_at == at("2024-01-02T10:00:00Z")
    files = {a.filename: a for a in Attachment.objects.filter(entry__ticket=ticket)}
    assert files["invoice.pdf"].entry == thread[0] and files["receipt.png"].entry == thread[2]
    assert files["invoice.pdf"].file.read() == b"%PDF-1.4 the paid invoice"
    assert files["receipt.png"].content_type == "image/png"
    assert files["receipt.png"].file.read() == "\u0089PNG the receipt".encode("latin-1")
    # A phone ticket an agent opened for Nicole: her words (origin_by_id), nobody assigned (owner "-").
    phoned = Ticket.objects.get(number=31002)
    assert phoned.channel == "phone" and phoned.assignee is None and phoned.priority == 3
    assert [(e.author_name, e.direction) for e in phoned.entries.all()] == [("Nicole Braun", "inbound")]
    pending = Ticket.objects.get(number=31003)
    assert pending.state == "pending" and pending.channel == "web" and pending.assignee.email == "admin@example.com"
    nicole = Customer.objects.get(name="Nicole Braun")
    assert sorted(nicole.identities.values_list("kind", "value")) == [
        ("email", "nicole.braun@zammad.org"),
        ("phone", "+49301234567"),
    ]
    assert not Customer.objects.filter(name="-").exists()  # the system user is nobody
    assert not Group.objects.filter(name="Retired").exists()
    assert report.skipped["ticket"] == 1 and report.reasons["ticket"][0]["reason"] == "removed in Zammad"
    assert report.created["ticket"] == 3 and report.created["comment"] == 5 and report.created["attachment"] == 2
    assert not [what for what in report.unmapped if what[0] != "macro action"]  # the macros' are below
    assert any("&page=2" in r for r in zammad.requests if r.startswith("/api/v1/tickets?"))
    assert [t.number for t in search.search_tickets("printer", Ticket.objects.all())] == [31002]


def test_running_again_changes_nothing_and_since_brings_only_what_changed(zammad: ZammadServer) -> None:
    run_import(source(zammad))
    first = counts()
    again = run_import(source(zammad), restart=True)
    assert counts() == first
    assert sum(again.created.values()) == 0 and again.unchanged["ticket"] == 3
    tickets = zammad.rows("tickets")
    tickets[1] = {**tickets[1], "state_id": 4, "updated_at": "2025-05-01T10:00:00.000Z"}
    zammad.data["articles"]["2"].append(
        {
            "id": 6,
            "content_type": "text/plain",
            "body": "The fire is out.",
            "internal": False,
            "created_by_id": 3,
            "type": "email",
            "sender": "Agent",
            "attachments": [],
            "created_at": "2025-05-01T10:00:00.000Z",
        }
    )
    zammad.requests.clear()
    delta = run_import(source(zammad), since=datetime(2025, 1, 1, tzinfo=UTC))
    assert delta.updated["ticket"] == 1 and delta.created["comment"] == 1 and delta.created["ticket"] == 0
    assert Ticket.objects.get(number=31002).state == "closed"
    assert Ticket.objects.get(number=31002).entries.count() == 2
    assert not any("by_ticket/1" in r or "by_ticket/3" in r for r in zammad.requests)  # unchanged: not read


def test_the_run_after_a_complete_one_brings_only_what_changed_since_it(zammad: ZammadServer) -> None:
    run_import(source(zammad))
    zammad.requests.clear()
    quiet = run_import(source(zammad))  # no --since: from the time the last run began
    assert sum(quiet.created.values()) + sum(quiet.updated.values()) == 0
    assert not any("by_ticket" in r for r in zammad.requests)
    later = (datetime.now(UTC) + timedelta(hours=1)).strftime("%Y-%m-%dT%H:%M:%S.000Z")
    tickets = zammad.rows("tickets")
    tickets[2] = {**tickets[2], "state_id": 2, "updated_at": later}
    zammad.requests.clear()
    delta = run_import(source(zammad))
    assert delta.updated["ticket"] == 1 and Ticket.objects.get(number=31003).state == "open"
    assert [r for r in zammad.requests if "by_ticket" in r] == ["/api/v1/ticket_articles/by_ticket/3"]


def test_an_import_killed_after_some_tickets_finishes_on_the_next_run_without_duplicates(
    zammad: ZammadServer,
) -> None:
    zammad.generate(5, articles=4)

    def die(written: int) -> None:
        if written >= 4:
            raise KeyboardInterrupt  # as a Ctrl-C in the middle of a batch's transaction

    with pytest.raises(KeyboardInterrupt):
        run_import(source(zammad), batch=2, before_commit=die)
    partial = Ticket.objects.count()
    assert 0 < partial < 8
    report = run_import(source(zammad), batch=2)
    assert Ticket.objects.count() == 8
    assert Ticket.objects.values("number").distinct().count() == 8
    assert Entry.objects.filter(ticket__number__gte=90_000).count() == 5 * 4
    assert report.created["ticket"] == 8 - partial


def test_error_bodies_stop_the_import_with_zammads_message(zammad: ZammadServer) -> None:
    with pytest.raises(SourceError, match=r"401.*Authentication required"):
        run_import(source(zammad, token="wrong"))
    zammad.fail_next = [(403, {"error": "Not authorized", "error_human": "Not authorized (token)!"})]
    with pytest.raises(SourceError, match=r"403.*Not authorized \(token\)!"):
        run_import(source(zammad))
    zammad.fail_next = [(502, "<html>Bad Gateway</html>")]
    sleeps: list[float] = []
    run_import(source(zammad, sleeps))  # a server error is asked again
    assert sleeps == [2] and Ticket.objects.count() == 3


def test_bad_and_unknown_rows_are_reported_not_crashed_on(zammad: ZammadServer) -> None:
    tickets = zammad.rows("tickets")
    tickets.append({**tickets[0], "id": 9, "number": "31009", "created_at": "yesterday"})
    tickets.append({**tickets[0], "id": 10, "number": "31010", "customer_id": 999})
    tickets.append({**tickets[0], "id": 11, "number": "31011", "state_id": 42, "state": "escalated"})
    zammad.data["articles"]["11"] = [{"id": 99, "body": "no time"}, "not an object"]
    zammad.rows("users").append({"firstname": "No id"})
    report = run_import(source(zammad))
    reasons = {(kind, row["id"]): row["reason"] for kind, rows in report.reasons.items() for row in rows}
    assert "not an ISO 8601 time" in reasons[("ticket", "9")]
    assert reasons[("ticket", "10")] == "unknown requester '999'"
    assert reasons[("customer", "?")].startswith("cannot read it")
    assert report.unmapped[("status", "escalated")] == 1
    assert Ticket.objects.get(number=31011).state == "open"  # an unknown state is filed as open
    assert Ticket.objects.get(number=31011).entries.count() == 0  # the unreadable articles left out
    assert Ticket.objects.count() == 4


def test_a_mapping_file_names_a_custom_state(zammad: ZammadServer, tmp_path) -> None:
    zammad.rows("ticket_states").append({"id": 8, "name": "waiting for parts", "active": True})
    zammad.rows("tickets")[1]["state_id"] = 8
    path = tmp_path / "mapping.json"
    path.write_text(json.dumps({"statuses": {"waiting for parts": "on_hold"}}))
    run_import(source(zammad), mapping=Mapping.load(path))
    assert Ticket.objects.get(number=31002).state == "on_hold"


def test_the_command_prints_and_files_its_report(zammad: ZammadServer, tmp_path, capsys) -> None:
    path = tmp_path / "report.json"
    call_command("import", "zammad", "--url", zammad.url, "--token", TOKEN, "--report", str(path))
    out = capsys.readouterr().out
    assert "tickets: 3 were created" in out and "removed in Zammad" in out
    assert json.loads(path.read_text())["counts"]["ticket"]["created"] == 3
    with pytest.raises(CommandError, match="Authentication required"):
        call_command("import", "zammad", "--url", zammad.url, "--token", "bad", "--report", str(path))


def test_custom_attributes_of_users_organizations_and_tickets_arrive_and_clear_with_a_delta(
    zammad: ZammadServer,
) -> None:
    run_import(source(zammad))

    nicole = Customer.objects.get(name="Nicole Braun")
    assert nicole.custom_fields == {"customer_number": "K-1001"}
    assert nicole.organization.custom_fields == {"region": "EMEA"}
    ticket = Ticket.objects.get(number=31001)
    assert ticket.custom_fields == {"product": "Scanner"}
    assert sorted(CustomField.objects.values_list("target", "label")) == [
        ("customer", "Customer number"),
        ("organization", "Region"),
        ("ticket", "Product"),
    ]
    # In Zammad: the product cleared, a tag taken off.
    tickets = zammad.rows("tickets")
    tickets[0] = {**tickets[0], "product": "", "updated_at": "2025-05-01T10:00:00.000Z"}
    zammad.data["tags"]["1"] = ["welcome"]

    delta = run_import(source(zammad), since=datetime(2025, 1, 1, tzinfo=UTC))

    assert delta.updated["ticket"] == 1
    ticket = Ticket.objects.get(number=31001)
    assert ticket.custom_fields == {}
    assert list(ticket.tags.values_list("name", flat=True)) == ["welcome"]


def test_macros_arrive_with_their_actions_and_what_cannot_be_mapped_is_reported(zammad: ZammadServer) -> None:
    report = run_import(source(zammad))

    spam = Macro.objects.get(name="Close & Tag as Spam")
    assert spam.actions == [
        {"type": "set_status", "status": Status.objects.get(category="closed", builtin=True).slug},
        {"type": "add_tags", "tags": ["spam"]},
    ]
    answered = Macro.objects.get(name="Invoice answered")
    assert answered.body == "We sent the invoice again."
    assert [a["type"] for a in answered.actions] == ["set_status", "set_priority", "set_group", "remove_tags"]
    assert answered.actions[2]["group"] == Group.objects.get(name="Users").pk
    assert answered.actions[3]["tags"] == ["billing", "urgent"]
    assert report.created["macro"] == 2
    unmapped = {value for (what, value) in report.unmapped if what == "macro action"}
    assert any(v.startswith("ticket.owner_id=") for v in unmapped)  # "the agent who runs it": none here
    assert any(v.startswith("only for groups [1]") for v in unmapped)
    again = run_import(source(zammad))
    assert again.unchanged["macro"] == 2 and Macro.objects.count() == 2
