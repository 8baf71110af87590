"""The SMTP/LMTP listener, driven by smtplib from the test against the listener in its own thread."""

from __future__ import annotations

import smtplib

import pytest

from sportello.mail import listener as listener_module
from sportello.mail.listener import make_listener
from sportello.mail.models import Mailbox, RawMessage, RawState
from sportello.tickets.models import Ticket
from tests.servers import free_port

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def mail(mail):
    """Messages as an MTA sends them: CRLF line ends (smtplib passes bytes through unchanged)."""

    def make(**kwargs):
        return mail(**kwargs).replace(b"\n", b"\r\n")

    return make


@pytest.fixture
def mailbox(db) -> Mailbox:
    return Mailbox.objects.create(address="help@example.test", name="Help")


def running(lmtp: bool = False, max_bytes: int | None = None):
    controller = make_listener("127.0.0.1", free_port(), lmtp=lmtp, max_bytes=max_bytes)
    controller.start()
    return controller


@pytest.fixture
def smtp_listener(mailbox):
    controller = running()
    yield controller
    controller.stop()


def test_delivered_mail_is_stored_before_250_and_becomes_a_ticket(smtp_listener, mailbox, mail):
    with smtplib.SMTP(smtp_listener.hostname, smtp_listener.port, timeout=120) as client:
        refused = client.sendmail("carla@example.com", ["help@example.test"], mail(subject="Delivered by SMTP"))
        code, _ = client.noop()
    assert refused == {} and code == 250
    row = RawMessage.objects.get()
    assert (row.source, row.state, row.mailbox_id, row.envelope_to) == (
        "smtp",
        RawState.PROCESSED,
        mailbox.pk,
        ["help@example.test"],
    )
    assert Ticket.objects.get().subject == "Delivered by SMTP"


def test_the_250_reply_names_the_stored_message(smtp_listener, mail):
    with smtplib.SMTP(smtp_listener.hostname, smtp_listener.port, timeout=120) as client:
        client.ehlo()
        client.mail("carla@example.com")
        client.rcpt("help@example.test")
        code, reply = client.data(mail())
    assert code == 250 and f"Stored as message {RawMessage.objects.get().pk}".encode() in reply


def test_tagged_addresses_are_accepted_and_strangers_refused_with_550(smtp_listener, mail):
    with smtplib.SMTP(smtp_listener.hostname, smtp_listener.port, timeout=120) as client:
        refused = client.sendmail(
            "carla@example.com", ["help+billing@example.test", "nobody@example.test", "help@elsewhere.test"], mail()
        )
    assert set(refused) == {"nobody@example.test", "help@elsewhere.test"}
    assert {code for code, _ in refused.values()} == {550}
    assert RawMessage.objects.get().envelope_to == ["help+billing@example.test"]


def test_only_unknown_recipients_is_refused_entirely(smtp_listener, mail):
    with (
        smtplib.SMTP(smtp_listener.hostname, smtp_listener.port, timeout=120) as client,
        pytest.raises(smtplib.SMTPRecipientsRefused) as refused,
    ):
        client.sendmail("spammer@example.net", ["postmaster@example.test"], mail())
    assert refused.value.recipients["postmaster@example.test"][0] == 550
    assert not RawMessage.objects.exists()


def test_a_storing_failure_answers_451_so_the_mta_retries(smtp_listener, mail, monkeypatch):
    def broken(*args, **kwargs):
        raise OSError("media volume not mounted")

    monkeypatch.setattr(listener_module, "receive_raw", broken)
    with (
        smtplib.SMTP(smtp_listener.hostname, smtp_listener.port, timeout=120) as client,
        pytest.raises(smtplib.SMTPDataError) as failed,
    ):
        client.sendmail("carla@example.com", ["help@example.test"], mail(subject="Try later"))
    assert failed.value.smtp_code == 451
    monkeypatch.undo()
    with smtplib.SMTP(smtp_listener.hostname, smtp_listener.port, timeout=120) as client:
        client.sendmail("carla@example.com", ["help@example.test"], mail(subject="Try later"))
    assert Ticket.objects.get().subject == "Try later"


def test_a_message_over_the_size_limit_is_refused_with_552(mailbox, mail):
    controller = running(max_bytes=20_000)
    try:
        with smtplib.SMTP(controller.hostname, controller.port, timeout=120) as client:
            client.ehlo()
            client.mail("carla@example.com")  # no SIZE= declared: the limit is found while reading
            client.rcpt("help@example.test")
            code, reply = client.data(mail(body="a long line of text\n" * 3000))
        assert code == 552, reply
        with (
            smtplib.SMTP(controller.hostname, controller.port, timeout=120) as client,
            pytest.raises(smtplib.SMTPSenderRefused) as refused,  # SIZE= declared: refused up front
        ):
            client.sendmail("carla@example.com", ["help@example.test"], mail(body="a long line of text\n" * 3000))
        assert refused.value.smtp_code == 552
    finally:
        controller.stop()
    assert not RawMessage.objects.exists()


def test_lmtp_delivers_through_the_same_path(mailbox, mail):
    controller = running(lmtp=True)
    try:
        with smtplib.LMTP(controller.hostname, controller.port, timeout=120) as client:
            refused = client.sendmail("carla@example.com", ["help@example.test"], mail(subject="Over LMTP"))
            assert client.noop()[0] == 250  # one DATA reply per recipient: nothing left over
    finally:
        controller.stop()
    assert refused == {}
    row = RawMessage.objects.get()
    assert row.source == "lmtp" and row.ticket.subject == "Over LMTP"


def test_lmtp_answers_data_once_per_recipient(mailbox, mail):
    Mailbox.objects.create(address="sales@example.test")
    controller = running(lmtp=True)
    try:
        with smtplib.LMTP(controller.hostname, controller.port, timeout=120) as client:
            client.ehlo_or_helo_if_needed()
            client.mail("carla@example.com")
            client.rcpt("help@example.test")
            client.rcpt("sales@example.test")
            first = client.data(mail(subject="Two recipients"))
            second = client.getreply()
    finally:
        controller.stop()
    assert first[0] == second[0] == 250
    assert RawMessage.objects.count() == 1 and Ticket.objects.count() == 1


def test_the_null_envelope_sender_reaches_the_pipeline(smtp_listener, mail):
    """MAIL FROM:<> (bounces, automatic answers) is kept: such mail gets no acknowledgement."""
    from django.core import mail as outbox

    with smtplib.SMTP(smtp_listener.hostname, smtp_listener.port, timeout=120) as client:
        refused = client.sendmail("", ["help@example.test"], mail(subject="I am away"))
    assert refused == {}
    row = RawMessage.objects.get()
    assert row.envelope_from == "<>" and row.state == RawState.PROCESSED
    assert "null envelope sender" in row.entry.metadata["flags"]["auto_reply_reason"]
    assert outbox.outbox == []


def raw_files() -> list[str]:
    from pathlib import Path

    from django.core.files.storage import default_storage

    root = Path(default_storage.location) / "mail"
    return sorted(str(p.relative_to(root)) for p in root.rglob("*") if p.is_file()) if root.exists() else []


def test_the_file_and_its_folder_are_fsynced_before_250(smtp_listener, mail, monkeypatch):
    from sportello.mail import services

    synced: list[str] = []
    real_fsync, real_directory = services._fsync, services._fsync_directory
    monkeypatch.setattr(services, "_fsync", lambda fd: (synced.append("fsync"), real_fsync(fd))[1])
    monkeypatch.setattr(services, "_fsync_directory", lambda d: (synced.append(f"dir {d.name}"), real_directory(d))[1])
    with smtplib.SMTP(smtp_listener.hostname, smtp_listener.port, timeout=120) as client:
        client.ehlo()
        client.mail("carla@example.com")
        client.rcpt("help@example.test")
        code, _reply = client.data(mail(subject="Durable"))
        assert code == 250
        row = RawMessage.objects.get()
        # The file's bytes, then the folder holding its new name, were on disk before the answer.
        assert synced[0] == "fsync" and f"dir {row.file.name.split('/')[-2]}" in synced
    assert row.file.name.split("/")[-1] in {name.split("/")[-1] for name in raw_files()}
    assert not [name for name in raw_files() if name.endswith(".tmp")]


def test_a_full_disk_answers_451_and_leaves_no_partial_file(smtp_listener, mail, monkeypatch):
    import errno
    import os

    from sportello.mail import services

    def disk_full(descriptor, data):
        os.write(descriptor, bytes(data[: len(data) // 2]))  # half of it made it to the disk
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(services, "_write_all", disk_full)
    before = raw_files()
    with (
        smtplib.SMTP(smtp_listener.hostname, smtp_listener.port, timeout=120) as client,
        pytest.raises(smtplib.SMTPDataError) as failed,
    ):
        client.sendmail("carla@example.com", ["help@example.test"], mail(subject="Disk full"))
    assert failed.value.smtp_code == 451
    assert raw_files() == before and not RawMessage.objects.exists()
    monkeypatch.undo()  # space was freed: the MTA's next try is stored whole
    with smtplib.SMTP(smtp_listener.hostname, smtp_listener.port, timeout=120) as client:
        client.sendmail("carla@example.com", ["help@example.test"], mail(subject="Disk full"))
    row = RawMessage.objects.get()
    assert row.size == len(row.file.open("rb").read())
    assert Ticket.objects.get().subject == "Disk full"
