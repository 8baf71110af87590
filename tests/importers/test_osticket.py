"""`sportello import osticket` against a real MariaDB loaded with osTicket's schema (osticket_db.py)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime

import pytest
from django.core import mail
from django.core.management import CommandError, call_command

from sportello.accounts.models import User
from sportello.core.models import OutboxMessage
from sportello.customers.models import Customer
from sportello.importers.mapping import Mapping
from sportello.importers.runner import run_import
from sportello.importers.sources.osticket import OsticketSource
from sportello.importers.sources.tabular import SourceError
from sportello.search import backend as search
from sportello.sla.models import TicketSLA
from sportello.tickets.models import Attachment, Ticket
from tests.importers.common import counts
from tests.importers.osticket_db import OsticketDb, osticket_database

pytestmark = pytest.mark.django_db


@pytest.fixture
def osticket() -> Iterator[OsticketDb]:
    yield from osticket_database()


def at(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


def test_a_ticket_arrives_with_its_thread_authors_notes_attachments_and_times(osticket: OsticketDb) -> None:
    report = run_import(OsticketSource(osticket.url))

    ticket = Ticket.objects.get(number=481516)  # osTicket's number is free here, so it is kept
    assert ticket.subject == "Printer jams on page 2"
    assert (ticket.state, ticket.priority, ticket.channel) == ("solved", 3, "email")  # Resolved, high
    assert ticket.created_at == at("2023-03-01 09:00:00")
    assert ticket.solved_at == at("2023-03-02 16:00:00")
    assert ticket.customer.name == "Carla Customer"
    assert ticket.customer.organization.name == "Acme Corp"
    assert ticket.customer.organization.domain == "acme.example"
    assert ticket.assignee.get_full_name() == "Bob Agent" and not ticket.assignee.is_active
    assert ticket.group.name == "Support"
    thread = list(ticket.entries.order_by("created_at"))
    assert [(e.author_name, e.direction, e.internal, e.created_at) for e in thread] == [
        ("Carla Customer", "inbound", False, at("2023-03-01 09:00:00")),
        ("Ada Admin", "internal", True, at("2023-03-01 10:30:00")),
        ("Bob Agent", "outbound", False, at("2023-03-01 11:00:00")),
        ("Carla Customer", "inbound", False, at("2023-03-02 15:00:00")),
    ]
    assert thread[0].body_text.strip() == "The printer jams on page 2."
    assert "<b>page 2</b>" in thread[0].body_html and "<script>" not in thread[0].body_html
    assert thread[1].body_text == "Known issue with the second tray." and thread[1].body_html == ""
    assert (thread[0].channel, thread[3].channel) == ("email", "web")
    assert ticket.first_response_at == at("2023-03-01 11:00:00")
    files = {a.filename: a for a in Attachment.objects.filter(entry__ticket=ticket)}
    assert sorted(files) == ["jam.jpg", "tray-guide.pdf"]
    assert files["jam.jpg"].entry == thread[0] and files["tray-guide.pdf"].entry == thread[2]
    assert files["jam.jpg"].file.read() == b"\xff\xd8\xff\xe0jammed paper on p2."  # two chunks, in order
    assert files["jam.jpg"].content_type == "image/jpeg"
    assert files["tray-guide.pdf"].file.read() == b"%PDF-1.4 tray guide\n"
    # A file osTicket keeps on its own disk cannot be read from the database: reported, not a crash.
    assert report.skipped["attachment"] == 1 and "on-disk.txt" in report.reasons["attachment"][0]["reason"]
    # Every address of the customer; the default one is the first.
    carla = Customer.objects.get(name="Carla Customer")
    assert sorted(carla.identities.values_list("value", flat=True)) == ["carla.home@example.org", "carla@acme.example"]
    # Agents: inactive, in their department and those they have access to.
    bob = User.objects.get(email="bob@helpdesk.example")
    assert not bob.is_active and sorted(bob.support_groups.values_list("name", flat=True)) == ["Sales", "Support"]
    # Statuses: a custom one by its osTicket state, deleted tickets skipped; a task's thread is no ticket's.
    assert Ticket.objects.get(number=481519).state == "open"
    assert Ticket.objects.get(number=481519).priority == 4  # emergency
    assert not Ticket.objects.filter(number=481518).exists()
    assert report.skipped["ticket"] == 1 and report.reasons["ticket"][0]["reason"] == "deleted in osTicket"
    assert report.created["ticket"] == 3 and report.created["comment"] == 6
    assert report.created["agent"] == 2 and report.created["customer"] == 2 and report.created["group"] == 3
    assert [t.number for t in search.search_tickets("jams", Ticket.objects.all())] == [481516]


def test_imported_history_mails_nobody_and_starts_no_clock_on_closed_tickets(osticket: OsticketDb) -> None:
    before = OutboxMessage.objects.count()
    run_import(OsticketSource(osticket.url))
    assert mail.outbox == [] and OutboxMessage.objects.count() == before
    closed = Ticket.objects.filter(state__in=["solved", "closed"])
    assert closed.count() == 1 and not TicketSLA.objects.filter(ticket__in=closed).exists()


def test_running_again_imports_nothing_twice_and_picks_up_what_changed(osticket: OsticketDb) -> None:
    run_import(OsticketSource(osticket.url))
    first = counts()
    again = run_import(OsticketSource(osticket.url))  # from the saved cursor: nothing new
    assert counts() == first and sum(again.created.values()) == 0
    restarted = run_import(OsticketSource(osticket.url), restart=True)  # everything read again
    assert counts() == first and sum(restarted.created.values()) == 0
    assert restarted.unchanged["ticket"] == 3 and restarted.unchanged["customer"] == 2
    # In osTicket the customer writes again and the ticket is reopened.
    osticket.execute(
        "INSERT INTO ost_thread_entry (id, thread_id, user_id, type, source, body, format, created, updated) "
        "VALUES (9, 1, 1, 'M', 'Email', 'It jams again.', 'text', '2023-04-01 09:00:00', '2023-04-01 09:00:00')"
    )
    osticket.execute(
        "UPDATE ost_ticket SET status_id = 1, closed = NULL, lastupdate = '2023-04-01 09:00:00' WHERE ticket_id = 1"
    )
    delta = run_import(OsticketSource(osticket.url))
    assert delta.updated["ticket"] == 1 and delta.created["comment"] == 1 and delta.unchanged["ticket"] == 0
    ticket = Ticket.objects.get(number=481516)
    assert ticket.state == "open" and ticket.entries.count() == 5
    assert Attachment.objects.filter(entry__ticket=ticket).count() == 2  # not downloaded twice


def test_since_brings_only_what_changed_after(osticket: OsticketDb) -> None:
    report = run_import(OsticketSource(osticket.url), since=datetime(2023, 3, 6, tzinfo=UTC))
    assert sorted(Ticket.objects.values_list("number", flat=True)) == [481519]
    assert report.skipped["ticket"] == 1  # the deleted one, changed on the 6th


def test_a_small_page_reads_every_ticket_once(osticket: OsticketDb) -> None:
    report = run_import(OsticketSource(osticket.url, page=1))
    assert report.created["ticket"] == 3 and Ticket.objects.count() == 3


def test_dry_run_writes_nothing_and_says_what_would_come(osticket: OsticketDb) -> None:
    before = counts()
    report = run_import(OsticketSource(osticket.url), dry_run=True)
    assert counts() == before
    assert report.created["ticket"] == 3 and report.created["customer"] == 2 and report.created["agent"] == 2
    assert report.created["attachment"] == 3  # counted, none read


def test_the_connection_is_read_only(osticket: OsticketDb) -> None:
    import pymysql

    source = OsticketSource(osticket.url)
    with pytest.raises(pymysql.MySQLError), source.connection.cursor() as cursor:
        cursor.execute("UPDATE ost_ticket SET number = 'x' WHERE ticket_id = 1")
    source.close()


def test_a_mapping_file_names_a_custom_status(osticket: OsticketDb, tmp_path) -> None:
    path = tmp_path / "mapping.json"
    path.write_text(json.dumps({"statuses": {"Waiting for parts": "on_hold"}}))
    run_import(OsticketSource(osticket.url, mapping=Mapping.load(path)), mapping=Mapping.load(path))
    assert Ticket.objects.get(number=481519).state == "on_hold"


def test_the_command_imports_and_says_clearly_what_is_wrong(osticket: OsticketDb, tmp_path, capsys) -> None:
    path = tmp_path / "report.json"
    call_command("import", "osticket", "--db", osticket.url, "--report", str(path))
    assert "tickets: 3 were created" in capsys.readouterr().out
    assert json.loads(path.read_text())["counts"]["ticket"]["created"] == 3
    with pytest.raises(CommandError, match="not an osTicket database with the prefix 'ot_'"):
        call_command("import", "osticket", "--db", osticket.url, "--prefix", "ot_", "--report", str(path))
    with pytest.raises(CommandError, match="Not a database address"):
        call_command("import", "osticket", "--db", "postgres://x/y", "--report", str(path))
    with pytest.raises(CommandError, match="Unknown time zone"):
        call_command("import", "osticket", "--db", osticket.url, "--db-timezone", "Mars/Olympus", "--report", str(path))
    with pytest.raises(SourceError, match="Cannot open the osTicket database"):
        OsticketSource(osticket.url.rsplit("/", 1)[0] + "/no_such_database_here")
