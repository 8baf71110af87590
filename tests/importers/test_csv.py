"""`sportello import csv`: the documented CSV and JSON layouts; bad rows are skipped with reasons."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from django.core import mail
from django.core.management import CommandError, call_command

from sportello.core.models import OutboxMessage
from sportello.customers.models import Customer, Organization
from sportello.importers.models import ImportedRecord
from sportello.importers.runner import run_import
from sportello.importers.sources.tabular import TabularSource
from sportello.tickets.models import Entry, Ticket

pytestmark = pytest.mark.django_db

ORGANIZATIONS = "id,name,domain\no1,Acme Corp,acme.example\n,,\n"
PEOPLE = (
    "id,name,email,phone,organization,role,groups\n"
    "c1,Alice Able,alice@acme.example;alice@home.example,+41 44 668 18 00,o1,customer,\n"
    "c2,Bob Bad,not-an-email,,o1,customer,\n"
    "a1,Agnes Agent,agnes@help.example,,,agent,Support\n"
    "x1,Who,who@example.com,,,boss,\n"
    "short,row\n"
)
TICKETS = (
    "id,number,subject,status,priority,requester,assignee,group,tags,created_at,updated_at,body,rating\n"
    "t1,501,Printer on fire,solved,high,alice@acme.example,agnes@help.example,Support,printer;fire,"
    "2024-01-02T10:00:00Z,2024-01-03T10:00:00Z,It burns,good\n"
    "t2,502,Broken date,open,normal,c1,,,,not-a-date,,x,\n"
    "t3,503,Nobody,open,normal,zz,,,,2024-01-02T10:00:00Z,,x,\n"
    "t4,abc,Bad number,open,normal,c1,,,,2024-01-02T10:00:00Z,,x,\n"
    "t5,505,Odd status,Escalated,normal,c1,,,,2024-01-02T10:00:00Z,,x,\n"
    "t6,506,An agent asks,open,normal,a1,,,,2024-01-02T10:00:00Z,,For myself,\n"
)
COMMENTS = (
    "id,ticket_id,author,public,created_at,body\n"
    "k1,t1,a1,true,2024-01-02T11:00:00Z,We are on it\n"
    "k2,t1,a1,false,2024-01-02T11:05:00Z,internal: call the fire brigade\n"
    "k3,t1,a1,true,yesterday,When?\n"
)


def files(tmp_path: Path) -> dict[str, str]:
    paths = {}
    for name, text in (
        ("organizations", ORGANIZATIONS),
        ("customers", PEOPLE),
        ("tickets", TICKETS),
        ("comments", COMMENTS),
    ):
        path = tmp_path / f"{name}.csv"
        path.write_text(text)
        paths[name] = str(path)
    return paths


def test_bad_rows_are_skipped_with_their_reasons_and_the_rest_comes(tmp_path: Path) -> None:
    report = run_import(TabularSource(**files(tmp_path)))
    reasons = {(kind, row["id"]): row["reason"] for kind, rows in report.reasons.items() for row in rows}
    assert reasons[("ticket", "line 3")] == "created_at 'not-a-date' is not an ISO 8601 time"
    assert reasons[("ticket", "t3")] == "unknown requester 'zz'"
    assert reasons[("ticket", "line 5")] == "number 'abc' is not a whole number"
    assert reasons[("customer", "line 5")] == "role 'boss' is not customer, agent or admin"
    assert reasons[("customer", "line 6")] == "fewer columns than the header"
    assert reasons[("organization", "line 3")] == "name is missing"
    assert report.unmapped[("status", "Escalated")] == 1
    assert report.unmapped[("email address", "not-an-email")] == 1
    assert reasons[("comment", "line 4")] == "created_at 'yesterday' is not an ISO 8601 time"
    assert set(Ticket.objects.values_list("number", flat=True)) == {501, 505, 506}
    # An agent who asked: a customer file with the agent's address.
    assert Ticket.objects.get(number=506).customer.identities.get().value == "agnes@help.example"
    ticket = Ticket.objects.get(number=501)
    assert ticket.state == "solved" and ticket.assignee.email == "agnes@help.example"
    assert ticket.customer.organization == Organization.objects.get(name="Acme Corp")
    assert [(e.direction, e.author_name, e.body_text) for e in ticket.entries.order_by("created_at")] == [
        ("inbound", "Alice Able", "It burns"),
        ("outbound", "Agnes Agent", "We are on it"),
        ("internal", "Agnes Agent", "internal: call the fire brigade"),
    ]
    assert Ticket.objects.get(number=505).state == "open"  # an unmapped status files the ticket as open
    assert sorted(Customer.objects.get(name="Alice Able").identities.values_list("value", flat=True)) == [
        "+41446681800",
        "alice@acme.example",
        "alice@home.example",
    ]
    assert mail.outbox == [] and not OutboxMessage.objects.exists()


def test_a_second_run_creates_nothing(tmp_path: Path) -> None:
    paths = files(tmp_path)
    run_import(TabularSource(**paths))
    before = (Ticket.objects.count(), Entry.objects.count(), Customer.objects.count(), ImportedRecord.objects.count())
    report = run_import(TabularSource(**paths))
    after = (Ticket.objects.count(), Entry.objects.count(), Customer.objects.count(), ImportedRecord.objects.count())
    assert after == before and sum(report.created.values()) == 0


def test_json_layout_with_inline_comments(tmp_path: Path) -> None:
    (tmp_path / "people.json").write_text(json.dumps([{"id": "p1", "name": "Pia", "email": "pia@example.com"}]))
    (tmp_path / "tickets.json").write_text(
        json.dumps(
            {
                "tickets": [
                    {
                        "id": "j1",
                        "subject": "From JSON",
                        "requester": "pia@example.com",
                        "status": "pending",
                        "tags": ["a", "b"],
                        "created_at": "2023-05-01T08:00:00+02:00",
                        "comments": [
                            {"id": "m1", "author": "p1", "body": "Hello", "created_at": "2023-05-01T08:00:00+02:00"}
                        ],
                    },
                    "not an object",
                ]
            }
        )
    )
    report = run_import(TabularSource(tickets=str(tmp_path / "tickets.json"), customers=str(tmp_path / "people.json")))
    ticket = Ticket.objects.get(subject="From JSON")
    assert ticket.state == "pending" and ticket.entries.get().body_text == "Hello"
    assert report.reasons["ticket"] == [{"id": "line 2", "reason": "not an object"}]


def test_dry_run_writes_nothing(tmp_path: Path) -> None:
    report = run_import(TabularSource(**files(tmp_path)), dry_run=True)
    assert report.created["ticket"] == 3 and report.created["customer"] == 2
    assert not Ticket.objects.exists() and not Customer.objects.exists() and not ImportedRecord.objects.exists()


def test_the_command_refuses_missing_files_and_a_bad_mapping(tmp_path: Path) -> None:
    with pytest.raises(CommandError, match="No such file"):
        call_command("import", "csv", "--tickets", str(tmp_path / "missing.csv"))
    with pytest.raises(CommandError, match="at least one file"):
        call_command("import", "csv")
    mapping = tmp_path / "mapping.json"
    mapping.write_text(json.dumps({"statuses": {"Escalated": "burning"}}))
    with pytest.raises(CommandError, match="not one of"):
        call_command("import", "csv", "--tickets", files(tmp_path)["tickets"], "--mapping", str(mapping))


def test_a_mapping_file_maps_a_status(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    paths = files(tmp_path)
    mapping = tmp_path / "mapping.json"
    mapping.write_text(json.dumps({"statuses": {"Escalated": "on_hold"}}))
    call_command(
        "import", "csv", "--tickets", paths["tickets"], "--customers", paths["customers"],
        "--mapping", str(mapping), "--report", str(tmp_path / "r.json"),
    )  # fmt: skip
    assert Ticket.objects.get(number=505).state == "on_hold"
    assert "Report written to" in capsys.readouterr().out
    assert json.loads((tmp_path / "r.json").read_text())["counts"]["ticket"]["skipped"] == 3
