"""`sportello import helpscout` against a local server that speaks Help Scout's Mailbox API 2.0
(helpscout_server.py)."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest
from django.core.management import CommandError, call_command

from sportello.accounts.models import User
from sportello.automation.models import Macro
from sportello.csat.models import Survey
from sportello.customers.models import Customer
from sportello.importers.models import ImportedRecord
from sportello.importers.runner import run_import
from sportello.importers.sources.helpscout import HelpScoutSource
from sportello.importers.sources.tabular import SourceError
from sportello.search import backend as search
from sportello.tickets.models import Attachment, Entry, Ticket
from tests.importers.common import at, counts
from tests.importers.helpscout_server import APP_ID, APP_SECRET, HelpScoutServer

pytestmark = pytest.mark.django_db


def source(server: HelpScoutServer, sleeps: list[float] | None = None, **kwargs) -> HelpScoutSource:
    return HelpScoutSource(
        app_id=APP_ID,
        app_secret=APP_SECRET,
        url=server.url,
        sleep=(sleeps.append if sleeps is not None else lambda s: None),
        **kwargs,
    )


def test_a_conversation_arrives_with_its_thread_authors_notes_attachments_and_times(
    helpscout: HelpScoutServer,
) -> None:
    report = run_import(source(helpscout))

    ticket = Ticket.objects.get(number=310)  # Help Scout's number is free here, so it is kept
    assert ticket.subject == "Refund for order 1234"
    assert (ticket.state, ticket.channel) == ("closed", "email")
    assert ticket.created_at == at("2024-02-01T09:00:00Z") and ticket.solved_at == at("2024-02-02T12:00:00Z")
    assert ticket.customer.name == "Vernon Bear"
    assert ticket.assignee.email == "mia@example.com" and not ticket.assignee.is_active
    assert ticket.group.name == "Billing"
    assert list(ticket.tags.values_list("name", flat=True)) == ["refund"]
    thread = list(ticket.entries.order_by("created_at"))
    # Oldest first; the line item (a status change) and the unsent draft are not messages.
    assert [(e.author_name, e.direction, e.internal, e.created_at) for e in thread] == [
        ("Vernon Bear", "inbound", False, at("2024-02-01T09:00:00Z")),
        ("Jack Sprout", "internal", True, at("2024-02-01T10:00:00Z")),
        ("Mia Rossi", "outbound", False, at("2024-02-01T15:00:00Z")),
        ("Vernon Bear", "inbound", False, at("2024-02-02T11:00:00Z")),
    ]
    assert thread[0].body_text.strip() == "Please refund order 1234."
    assert "<b>finance</b>" in thread[1].body_html and "<script>" not in thread[1].body_html
    assert ticket.first_response_at == at("2024-02-01T15:00:00Z")
    files = {a.filename: a for a in Attachment.objects.filter(entry__ticket=ticket)}
    assert files["order.png"].entry == thread[0] and files["receipt.pdf"].entry == thread[2]
    assert files["order.png"].file.read() == b"\x89PNG\r\n\x1a\norder"
    assert files["receipt.pdf"].file.read() == b"%PDF-1.4 receipt\n"
    assert files["receipt.pdf"].content_type == "application/pdf"
    # A chat: the channel, both sides.
    chat = Ticket.objects.get(number=311)
    assert (chat.channel, chat.state) == ("chat", "open")
    assert [(e.author_name, e.direction) for e in chat.entries.order_by("created_at")] == [
        ("Ann Lee", "inbound"),
        ("Jack Sprout", "outbound"),
    ]
    # Customers with every address and phone; agents inactive, in their mailboxes' groups.
    vernon = Customer.objects.get(name="Vernon Bear")
    assert sorted(vernon.identities.values_list("kind", "value")) == [
        ("email", "vbear@mywork.example"),
        ("email", "vernon@home.example"),
        ("phone", "+15555551234"),
    ]
    mia = User.objects.get(email="mia@example.com")
    assert sorted(mia.support_groups.values_list("name", flat=True)) == ["Billing", "Support"]
    assert list(User.objects.get(email="jack.sprout@example.com").support_groups.values_list("name", flat=True)) == [
        "Support"
    ]
    assert report.skipped["ticket"] == 1 and report.reasons["ticket"][0]["reason"] == "deleted in Help Scout"
    assert report.created["ticket"] == 2 and report.created["comment"] == 6 and report.created["attachment"] == 2
    assert [t.number for t in search.search_tickets("refund", Ticket.objects.all())] == [310]
    # Every list was followed page by page (a page holds one row here), and threads came embedded.
    assert any("page=2" in r for r in helpscout.requests if r.startswith("GET /v2/customers"))
    listed = [r for r in helpscout.requests if "/v2/conversations?" in r and "page=" in r]
    assert len(listed) == 3 and all("embed=threads" in r and "status=all" in r for r in listed)


def test_running_again_imports_nothing_twice_and_brings_what_changed(helpscout: HelpScoutServer) -> None:
    def april() -> HelpScoutSource:  # runs on 1 April 2024, before the change below
        return source(helpscout, now=lambda: datetime(2024, 4, 1, tzinfo=UTC))

    run_import(april())
    first = counts()
    again = run_import(april())  # from the saved cursor: modified since the last run began
    assert counts() == first and sum(again.created.values()) == 0
    assert any("modifiedSince=2024-03-31T23%3A55%3A00Z" in r for r in helpscout.requests)
    restarted = run_import(april(), restart=True)
    assert counts() == first and restarted.unchanged["ticket"] == 2
    # The customer writes again in Help Scout and the conversation is reopened.
    conversation = helpscout.conversations[0]
    conversation["status"] = "active"
    conversation["_embedded"]["threads"].insert(
        0,
        {
            "id": 5010,
            "type": "customer",
            "state": "published",
            "body": "It was refunded twice!",
            "createdBy": {"id": 100, "type": "customer"},
            "createdAt": "2024-05-01T10:00:00Z",
        },
    )
    delta = run_import(source(helpscout))
    assert delta.updated["ticket"] == 1 and delta.created["comment"] == 1
    ticket = Ticket.objects.get(number=310)
    assert ticket.state == "open" and ticket.entries.count() == 5
    assert Attachment.objects.filter(entry__ticket=ticket).count() == 2


def test_an_import_killed_after_some_conversations_finishes_on_the_next_run_without_duplicates(
    helpscout: HelpScoutServer,
) -> None:
    helpscout.generate(7, threads=3)

    def die(written: int) -> None:
        if written >= 4:
            raise KeyboardInterrupt  # as a Ctrl-C in the middle of a batch's transaction

    with pytest.raises(KeyboardInterrupt):
        run_import(source(helpscout), batch=2, before_commit=die)
    partial = Ticket.objects.count()
    assert 0 < partial < 9
    helpscout.requests.clear()
    report = run_import(source(helpscout), batch=2)
    assert Ticket.objects.count() == 9
    assert not any("page=1&" in r or r.endswith("page=1") for r in helpscout.requests if "/v2/conversations?" in r)
    assert Entry.objects.filter(ticket__number__gte=700_000).count() == 21
    assert ImportedRecord.objects.filter(kind="comment").values("source_id").distinct().count() == Entry.objects.count()
    assert report.created["ticket"] == 9 - partial


def test_an_expired_token_is_renewed(helpscout: HelpScoutServer) -> None:
    src = source(helpscout)
    list(src.read("groups", since=None, cursor=None))
    helpscout.expire_tokens()
    run_import(src)
    assert Ticket.objects.count() == 2 and helpscout.issued == 2


def test_an_error_body_stops_the_import_with_its_message(helpscout: HelpScoutServer) -> None:
    with pytest.raises(SourceError, match="401 to /v2/oauth2/token: Bad client credentials"):
        run_import(HelpScoutSource(app_id=APP_ID, app_secret="wrong", url=helpscout.url, sleep=lambda s: None))
    helpscout.fail_next = [
        (403, {"logRef": "a1", "message": "Access denied", "_embedded": {"errors": [{"message": "API not enabled"}]}})
    ]
    with pytest.raises(SourceError, match="403 to /v2/oauth2/token: Access denied; API not enabled"):
        run_import(source(helpscout))


def test_the_command_prints_and_files_its_report(helpscout: HelpScoutServer, tmp_path, capsys) -> None:
    path = tmp_path / "report.json"
    args = ["import", "helpscout", "--app-id", APP_ID, "--api-url", helpscout.url, "--report", str(path)]
    call_command(*args, "--app-secret", APP_SECRET)
    out = capsys.readouterr().out
    assert "tickets: 2 were created" in out and "deleted in Help Scout" in out
    assert json.loads(path.read_text())["counts"]["ticket"]["created"] == 2
    with pytest.raises(CommandError, match="Bad client credentials"):
        call_command(*args, "--app-secret", "bad")


def test_an_attachment_that_cannot_be_read_is_reported_and_the_rest_still_comes(helpscout: HelpScoutServer) -> None:
    helpscout.files["77"] = "this is not base64!"
    del helpscout.files["76"]  # and one that is gone: a 404
    report = run_import(source(helpscout))
    assert report.skipped["attachment"] == 2
    reasons = sorted(r["reason"] for r in report.reasons["attachment"])
    assert reasons == [
        "order.png: Help Scout answered 404 to /v2/conversations/2001/attachments/76/data: Attachment not found",
        "receipt.pdf: the attachment's data is not base64",
    ]
    assert Ticket.objects.get(number=310).entries.count() == 4 and Attachment.objects.count() == 0


def test_organizations_ratings_and_saved_replies_arrive(helpscout: HelpScoutServer) -> None:
    report = run_import(source(helpscout))

    vernon = Customer.objects.get(name="Vernon Bear")
    assert vernon.organization.name == "Bear Industries" and vernon.organization.domain == "bear.example"
    assert vernon.organization.notes == "Makes honey jars.\n\nPays yearly."
    assert vernon.custom_fields == {"plan": "Gold"}  # a customer property, by its text
    # An account's free-text company (no organization id) is an organization of that name.
    assert Customer.objects.get(name="Ann Lee").organization.name == "Lee Bakery"
    survey = Survey.objects.get()  # "great" on 310; "okay" on 311 has no good/bad here
    assert (survey.ticket.number, survey.rating, survey.comment) == (310, "good", "Quick and kind, thanks!")
    assert survey.answered_at == at("2024-02-03T09:00:00Z")
    assert dict(Macro.objects.values_list("name", "body")) == {
        "Refund policy": "Refunds are possible within 30 days.",
        "Invoice copy": "Here is a copy of your invoice.",
    }
    assert report.created["organization"] == 2 and report.created["rating"] == 1 and report.created["macro"] == 2
    assert any(r.startswith("GET /v2/mailboxes/1/saved-replies/71") for r in helpscout.requests)


def test_an_account_without_organizations_or_reports_still_imports(helpscout: HelpScoutServer) -> None:
    helpscout.organizations = None  # a 404
    helpscout.ratings = None  # a 403: no reports on this plan

    report = run_import(source(helpscout))

    assert report.created["ticket"] == 2 and not Survey.objects.exists()
    assert Customer.objects.get(name="Vernon Bear").organization is None
    assert Customer.objects.get(name="Ann Lee").organization.name == "Lee Bakery"
