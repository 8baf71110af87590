"""Loop and noise protection, bounces, idempotency, quarantine and retry, the command, the admin."""

from __future__ import annotations

import io
import json
import mailbox

import pytest
from django.core import mail as outbox
from django.core.management import call_command
from django.test import Client, override_settings

from sportello.customers.models import Identity
from sportello.mail.models import RawMessage, RawState
from sportello.mail.services import receive_raw, retry_raw
from sportello.tickets.models import Entry
from sportello.tickets.services import reply_to_ticket
from tests.mail.fixtures import TESTDATA

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize(
    ("headers", "flag"),
    [
        ({"Auto_Submitted": "auto-replied"}, "auto_reply"),
        ({"X_Autoreply": "yes"}, "auto_reply"),
        ({"Precedence": "bulk"}, "auto_reply"),
        ({"subject": "Automatic reply: Printer on fire"}, "auto_reply"),
        ({"subject": "Abwesenheitsnotiz: Drucker"}, "auto_reply"),
        ({"List_Id": "<users.lists.example.org>"}, "mailing_list"),
        ({"Precedence": "list"}, "mailing_list"),
    ],
)
def test_machine_mail_is_flagged_and_never_answered(mail, headers, flag, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        row = receive_raw(mail(**headers))
    assert row.state == RawState.PROCESSED
    assert row.entry.metadata["flags"][flag] is True
    assert outbox.outbox == []


def test_auto_submitted_no_is_a_person(mail, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        row = receive_raw(mail(Auto_Submitted="no"))
    assert row.entry.metadata["flags"]["auto_reply"] is False and len(outbox.outbox) == 1


def test_a_bounce_of_our_reply_lands_on_the_ticket_and_marks_the_address(mail, agent,
                                                                          django_capture_on_commit_callbacks):
    first = receive_raw(mail())
    with django_capture_on_commit_callbacks(execute=True):
        ours = reply_to_ticket(first.ticket, agent, body_text="On our way")
    our_id = Entry.objects.get(pk=ours.pk).metadata["message_id"]
    dsn = (
        "From: Mail Delivery System <MAILER-DAEMON@mx.example.com>\r\n"
        "To: support@sportello.localhost\r\nSubject: Undelivered Mail Returned to Sender\r\n"
        "Message-ID: <bounce-1@mx.example.com>\r\nMIME-Version: 1.0\r\n"
        'Content-Type: multipart/report; report-type=delivery-status; boundary="b"\r\n\r\n'
        "--b\r\nContent-Type: text/plain\r\n\r\nI'm sorry, your mail could not be delivered.\r\n"
        "--b\r\nContent-Type: message/delivery-status\r\n\r\nReporting-MTA: dns; mx.example.com\r\n\r\n"
        "Final-Recipient: rfc822; carla@example.com\r\nAction: failed\r\nStatus: 5.1.1\r\n"
        "--b\r\nContent-Type: text/rfc822-headers\r\n\r\n"
        f"From: support@sportello.localhost\r\nTo: carla@example.com\r\nMessage-ID: {our_id}\r\n"
        "--b--\r\n"
    ).encode()
    with django_capture_on_commit_callbacks(execute=True):
        row = receive_raw(dsn, source="smtp")
    assert row.state == RawState.PROCESSED, row.reason
    assert row.ticket_id == first.ticket_id
    assert row.entry.metadata["threaded_by"] == "bounce"
    bounce = row.entry.metadata["flags"]["bounce"]
    assert (bounce["recipient"], bounce["status"]) == ("carla@example.com", "5.1.1")
    assert Identity.objects.get(value="carla@example.com").undeliverable is True
    assert [m for m in outbox.outbox if "Undelivered" in m.subject] == []
    # A note for the agents: hidden from the customer, and the ticket is not reopened by a machine.
    assert row.entry.internal is True
    first.ticket.refresh_from_db()
    assert first.ticket.state == "open"


def test_a_bounce_of_unknown_mail_marks_nothing(mail):
    receive_raw(mail())
    path = TESTDATA / "flanker" / "tests" / "fixtures" / "messages" / "bounce" / "zed.eml"
    row = receive_raw(path.read_bytes())
    assert row.state == RawState.PROCESSED and row.entry.metadata["flags"]["bounce"]
    assert not Identity.objects.filter(undeliverable=True).exists()


def test_the_same_bytes_twice_are_one_entry(mail):
    raw = mail()
    first, second = receive_raw(raw), receive_raw(raw)
    assert first.pk == second.pk
    assert RawMessage.objects.count() == 1 and Entry.objects.filter(channel="email").count() == 1


def test_the_same_message_id_with_other_bytes_is_a_recorded_duplicate(mail):
    first = receive_raw(mail(message_id="<same@example.com>"))
    second = receive_raw(mail(message_id="<same@example.com>", Delivered_To="sales@sportello.localhost"))
    assert second.pk != first.pk and second.state == RawState.DUPLICATE
    assert second.duplicate_of_id == first.pk and second.entry_id == first.entry_id
    assert Entry.objects.filter(channel="email").count() == 1


def test_a_message_without_sender_is_quarantined_and_can_be_retried(mail):
    row = receive_raw(b"Subject: no sender\r\n\r\nhello\r\n")
    assert row.state == RawState.QUARANTINED and "sender" in row.reason
    assert row.file.read().startswith(b"Subject: no sender")
    assert retry_raw(row).state == RawState.QUARANTINED  # still no sender: still quarantined, never lost


def test_a_crash_in_processing_quarantines_and_a_retry_processes(mail, monkeypatch):
    from sportello.mail import services

    def boom(inbound, **options):
        raise RuntimeError("database went away")

    monkeypatch.setattr(services, "ingest", boom)
    row = receive_raw(mail())
    assert row.state == RawState.QUARANTINED and row.reason == "RuntimeError: database went away"
    monkeypatch.undo()
    again = retry_raw(row)
    assert again.state == RawState.PROCESSED and again.entry is not None and again.attempts == 2


def test_mail_from_our_own_address_is_quarantined(mail):
    row = receive_raw(mail(sender="support@sportello.localhost"))
    assert row.state == RawState.QUARANTINED and "loop" in row.reason


@override_settings(MAIL_RATE_LIMIT=3, MAIL_RATE_WINDOW=600)
def test_a_mail_loop_is_stopped_by_the_rate_limit(mail):
    rows = [receive_raw(mail(body=f"message {i}"), source="imap") for i in range(5)]
    assert [r.state for r in rows] == [RawState.PROCESSED] * 3 + [RawState.QUARANTINED] * 2
    assert "Rate limit" in rows[-1].reason
    assert retry_raw(rows[-1]).state == RawState.PROCESSED  # an admin lets one through


def test_inline_images_html_only_and_attachments(mail):
    path = TESTDATA / "stalwart-mail-parser" / "resources" / "eml" / "thirdparty" / "017.eml"
    row = receive_raw(path.read_bytes())
    entry = row.entry
    assert 'src="cid:' in entry.body_html and "<script" not in entry.body_html
    assert entry.attachments.filter(inline=True).exclude(content_id="").exists()


def test_parse_command_prints_one_json_object_per_message(mail, tmp_path):
    (tmp_path / "a.eml").write_bytes(mail(Cc="boss@example.com"))
    out = io.StringIO()
    call_command("mail", "parse", str(tmp_path / "a.eml"), stdout=out)
    value = json.loads(out.getvalue())
    assert value["from"] == {"address": "carla@example.com", "name": "Carla Rossi"}
    assert value["cc"][0]["address"] == "boss@example.com"
    assert value["threading"]["threaded_by"] == "new" and value["flags"]["bounce"] is None
    assert RawMessage.objects.count() == 0


def test_import_command_takes_folders_and_mbox_files(mail, tmp_path):
    (tmp_path / "dir").mkdir()
    (tmp_path / "dir" / "one.eml").write_bytes(mail(subject="one"))
    box = mailbox.mbox(str(tmp_path / "archive"))
    box.add(mail(subject="two", body="second"))
    box.add(b"Subject: no sender\n\nbody\n")
    box.flush()
    out = io.StringIO()
    call_command("mail", "import", str(tmp_path / "dir"), str(tmp_path / "archive"), stdout=out)
    lines = [json.loads(line) for line in out.getvalue().splitlines()]
    assert [line["state"] for line in lines] == ["processed", "processed", "quarantined"]
    assert lines[0]["ticket"] and lines[0]["entry"] and lines[2]["reason"]


@pytest.mark.urls("tests.mail.urls")
def test_raw_download_is_for_admins_only(mail, admin, agent):
    from tests.conftest import client_for

    row = receive_raw(mail())
    url = f"/mail/raw/{row.pk}/download"
    assert Client().get(url).status_code == 302
    assert client_for(agent).get(url).status_code == 302
    response = client_for(admin).get(url)
    assert response.status_code == 200 and b"".join(response.streaming_content) == row.file.open("rb").read()
    listing = client_for(admin).get("/admin/mail/rawmessage/")
    assert listing.status_code == 200 and url.encode() in listing.content


def test_admin_retry_action(mail, admin):
    from tests.conftest import client_for

    row = receive_raw(b"Subject: x\r\n\r\nbody\r\n")
    response = client_for(admin).post(
        "/admin/mail/rawmessage/", {"action": "retry", "_selected_action": [row.pk]}, follow=True
    )
    assert response.status_code == 200
    assert RawMessage.objects.get(pk=row.pk).attempts == 2


def test_parse_names_the_ticket_import_files_into_after_a_merge(mail, agent, tmp_path):
    from sportello.mail.outbound import message_id_for
    from sportello.tickets.services import merge_tickets

    merged = receive_raw(mail(subject="First copy"))
    ours = reply_to_ticket(merged.ticket, agent, body_text="Looking into it")
    kept = receive_raw(mail(subject="Second copy", body="Same problem"))
    merge_tickets(merged.ticket, kept.ticket, agent)
    # The customer answers our reply on the merged ticket: its signed Message-ID names that one.
    our_id = message_id_for(merged.ticket, ours.pk)
    (tmp_path / "reply.eml").write_bytes(mail(subject="Re: First copy", body="Any news?", In_Reply_To=our_id))
    out = io.StringIO()
    call_command("mail", "parse", str(tmp_path / "reply.eml"), stdout=out)
    threading = json.loads(out.getvalue())["threading"]
    out = io.StringIO()
    call_command("mail", "import", str(tmp_path / "reply.eml"), stdout=out)
    imported = json.loads(out.getvalue())
    assert imported["ticket"] == kept.ticket.number
    assert (threading["ticket"], threading["named"]) == (kept.ticket.number, merged.ticket.number)


def test_parse_without_a_migrated_database_prints_the_parse_and_says_so(mail, tmp_path):
    import os
    import subprocess
    import sys

    (tmp_path / "a.eml").write_bytes(mail(subject="Offline", Auto_Submitted="auto-replied"))
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "sportello.settings",
        "DATABASE_URL": f"sqlite:///{tmp_path / 'empty.sqlite3'}",
        "SPORTELLO_DATA_DIR": str(tmp_path / "data"),
    }
    done = subprocess.run(
        [sys.executable, "-m", "sportello.cli", "mail", "parse", str(tmp_path / "a.eml")],
        env=env, capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert done.returncode == 0 and "Traceback" not in done.stderr, done.stderr
    value = json.loads(done.stdout)
    assert value["subject"] == "Offline" and value["flags"]["auto_reply"] is True
    assert value["threading"]["decided"] is False and "no database" in value["threading"]["reason"]
