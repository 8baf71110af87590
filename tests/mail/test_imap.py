"""IMAP polling against a real Dovecot: mail becomes tickets, flagged only once stored, resumable."""

from __future__ import annotations

import threading

import pytest
from django.test import override_settings
from imapclient import IMAPClient

from sportello.mail import imap
from sportello.mail.models import AfterFetch, Mailbox, RawMessage, RawState
from sportello.tickets.models import Ticket
from tests.waiting import wait_for


@pytest.fixture
def mailbox(dovecot, monkeypatch, db) -> Mailbox:
    monkeypatch.setenv("SPORTELLO_TEST_IMAP_PASSWORD", dovecot.password)
    return Mailbox.objects.create(
        address="support@example.test",
        imap_host=dovecot.host,
        imap_port=dovecot.port,
        imap_ssl=False,
        imap_username=dovecot.username,
        imap_password_env="SPORTELLO_TEST_IMAP_PASSWORD",
    )


def seen(dovecot) -> list[bool]:
    return [b"\\Seen" in flags for _uid, flags in dovecot.flags()]


def subjects() -> set[str]:
    return set(Ticket.objects.values_list("subject", flat=True))


def test_appended_mail_becomes_tickets_and_is_marked_read_on_the_server(dovecot, mailbox, mail):
    for n in range(3):
        dovecot.append(mail(subject=f"Invoice {n} is wrong", sender=f"c{n}@example.com"))
    result = imap.poll_mailbox(mailbox.pk)
    assert (result.stored, result.error) == (3, "")
    assert subjects() == {"Invoice 0 is wrong", "Invoice 1 is wrong", "Invoice 2 is wrong"}
    assert seen(dovecot) == [True, True, True]
    assert set(RawMessage.objects.values_list("source", flat=True)) == {"imap"}
    mailbox.refresh_from_db()
    assert mailbox.last_fetch_at is not None and mailbox.last_error == "" and mailbox.messages_waiting == 0

    # The next poll finds nothing new, even after someone marks a message unread again.
    with IMAPClient(dovecot.host, port=dovecot.port, ssl=False) as client:
        client.login(dovecot.username, dovecot.password)
        client.select_folder("INBOX")
        client.remove_flags(client.search("ALL"), [b"\\Seen"])
    assert imap.poll_mailbox(mailbox.pk).uids == []
    assert Ticket.objects.count() == 3


def test_delete_mode_removes_stored_messages_from_the_server(dovecot, mailbox, mail):
    mailbox.imap_after_fetch = AfterFetch.DELETE
    mailbox.save()
    dovecot.append(mail(subject="Please delete me after"))
    dovecot.append(mail(subject="Me too", sender="other@example.com"))
    assert imap.poll_mailbox(mailbox.pk).stored == 2
    assert dovecot.flags() == []
    assert subjects() == {"Please delete me after", "Me too"}


def test_a_crash_between_storing_and_flagging_loses_nothing_and_doubles_nothing(dovecot, mailbox, mail, monkeypatch):
    for n in range(4):
        dovecot.append(mail(subject=f"Crash test {n}", sender=f"c{n}@example.com"))
    real = imap._mark_stored
    calls = {"n": 0}

    def crash_once(*args, **kwargs):
        calls["n"] += 1
        if calls["n"] == 1:
            raise ConnectionResetError("the connection dropped")
        return real(*args, **kwargs)

    monkeypatch.setattr(imap, "_mark_stored", crash_once)
    first = imap.poll_mailbox(mailbox.pk)
    assert "connection dropped" in first.error
    assert Ticket.objects.count() == 4  # stored before the crash
    assert seen(dovecot) == [False] * 4  # but not flagged
    mailbox.refresh_from_db()
    assert "connection dropped" in mailbox.last_error and mailbox.last_error_at is not None

    second = imap.poll_mailbox(mailbox.pk)
    assert second.error == "" and second.uids == [1, 2, 3, 4]
    assert Ticket.objects.count() == 4 and RawMessage.objects.count() == 4  # recognised, not doubled
    assert seen(dovecot) == [True] * 4
    mailbox.refresh_from_db()
    assert mailbox.last_error == "" and mailbox.imap_last_uid == 4


def test_a_message_that_fails_to_store_stays_on_the_server_and_the_others_flow(dovecot, mailbox, mail, monkeypatch):
    for n in range(3):
        dovecot.append(mail(subject=f"Flow {n}", sender=f"c{n}@example.com"))
    real, real_batch = imap.receive_raw, imap.receive_batch

    def storage_down_for_the_second(raw, **kwargs):
        if b"Flow 1" in raw:
            raise OSError("disk full")
        return real(raw, **kwargs)

    def batch_with_the_second(raws, **kwargs):  # the batch fails whole; the poll stores one by one
        if any(b"Flow 1" in raw for raw in raws):
            raise OSError("disk full")
        return real_batch(raws, **kwargs)

    monkeypatch.setattr(imap, "receive_raw", storage_down_for_the_second)
    monkeypatch.setattr(imap, "receive_batch", batch_with_the_second)
    result = imap.poll_mailbox(mailbox.pk)
    assert (result.stored, result.failed, result.waiting) == (2, 1, 1)
    assert subjects() == {"Flow 0", "Flow 2"}
    assert seen(dovecot) == [True, False, True]
    mailbox.refresh_from_db()
    assert mailbox.messages_waiting == 1 and "could not be stored" in mailbox.last_error

    monkeypatch.setattr(imap, "receive_raw", real)
    monkeypatch.setattr(imap, "receive_batch", real_batch)
    assert imap.poll_mailbox(mailbox.pk).error == ""
    assert subjects() == {"Flow 0", "Flow 1", "Flow 2"} and Ticket.objects.count() == 3
    assert seen(dovecot) == [True, True, True]
    mailbox.refresh_from_db()
    assert mailbox.messages_waiting == 0


def test_broken_and_huge_messages_are_quarantined_while_the_rest_flow(dovecot, mailbox, mail):
    dovecot.append(mail(subject="Before"))
    dovecot.append(b"Subject: no sender at all\r\n\r\nwho wrote this?\r\n")
    big = mail(subject="Huge scan", sender="scanner@example.com", body="x" * 200_000)
    dovecot.append(big)
    dovecot.append(mail(subject="After", sender="late@example.com"))
    with override_settings(MAIL_MAX_MESSAGE_BYTES=100_000):
        result = imap.poll_mailbox(mailbox.pk)
    assert result.error == "" and (result.stored, result.quarantined, result.oversized) == (2, 1, 1)
    assert subjects() == {"Before", "After"}
    quarantined = {r.subject: r for r in RawMessage.objects.filter(state=RawState.QUARANTINED)}
    assert "no usable sender" in quarantined["no sender at all"].reason
    huge = quarantined["Huge scan"]
    assert "over the limit" in huge.reason and "left on the IMAP server" in huge.reason
    assert huge.sender == "scanner@example.com" and huge.size >= 200_000
    # The broken one is stored, so it is flagged; the huge one stays unread for a person to fetch.
    assert seen(dovecot) == [True, True, False, True]
    assert imap.poll_mailbox(mailbox.pk).uids == []  # and is not fetched again


def test_a_changed_uidvalidity_fetches_again_without_doubles(dovecot, mailbox, mail):
    dovecot.append(mail(subject="Once only"))
    imap.poll_mailbox(mailbox.pk)
    Mailbox.objects.filter(pk=mailbox.pk).update(imap_uidvalidity=1)  # as if the folder was recreated
    result = imap.poll_mailbox(mailbox.pk)
    assert result.uids == [1] and Ticket.objects.count() == 1 and RawMessage.objects.count() == 1


def test_a_missing_password_is_shown_as_the_mailbox_error(mailbox, monkeypatch):
    monkeypatch.delenv("SPORTELLO_TEST_IMAP_PASSWORD")
    result = imap.poll_mailbox(mailbox.pk)
    mailbox.refresh_from_db()
    assert "SPORTELLO_TEST_IMAP_PASSWORD is not set" in result.error == mailbox.last_error
    assert mailbox.last_fetch_at is None


def test_a_held_mailbox_is_not_polled_twice_at_once(dovecot, mailbox, mail):
    dovecot.append(mail())
    with imap.leased(mailbox.pk) as held:
        assert held is not None
        assert imap.poll_mailbox(mailbox.pk).skipped
    assert imap.poll_mailbox(mailbox.pk).stored == 1


@pytest.mark.django_db(transaction=True)
def test_several_mailboxes_are_polled_concurrently(dovecot, monkeypatch, mail):
    monkeypatch.setenv("SPORTELLO_TEST_IMAP_PASSWORD", dovecot.password)
    common = dict(
        imap_host=dovecot.host,
        imap_port=dovecot.port,
        imap_ssl=False,
        imap_username=dovecot.username,
        imap_password_env="SPORTELLO_TEST_IMAP_PASSWORD",
    )
    good = Mailbox.objects.create(address="support@example.test", **common)
    broken = Mailbox.objects.create(address="sales@example.test", **{**common, "imap_port": 1})
    dovecot.append(mail(subject="Concurrent"))
    results = {r.mailbox: r for r in imap.poll_mailboxes([good.pk, broken.pk])}
    assert results["support@example.test"].stored == 1
    assert results["sales@example.test"].error  # refused connection, recorded on its own mailbox
    assert subjects() == {"Concurrent"}
    assert Mailbox.objects.get(pk=broken.pk).last_error and not Mailbox.objects.get(pk=good.pk).last_error


def test_the_scheduler_job_polls_every_imap_mailbox(dovecot, mailbox, mail):
    Mailbox.objects.create(address="push-only@example.test")  # no IMAP host: nothing to poll
    dovecot.append(mail(subject="Scheduled"))
    assert imap.enqueue_polls() == 1  # tests run tasks at once
    assert subjects() == {"Scheduled"}


@pytest.mark.django_db(transaction=True)
def test_idle_wakes_up_on_a_new_message(dovecot, monkeypatch, mail):
    monkeypatch.setenv("SPORTELLO_TEST_IMAP_PASSWORD", dovecot.password)
    box = Mailbox.objects.create(
        address="support@example.test",
        imap_host=dovecot.host,
        imap_port=dovecot.port,
        imap_ssl=False,
        imap_username=dovecot.username,
        imap_password_env="SPORTELLO_TEST_IMAP_PASSWORD",
    )
    polls: list[imap.PollResult] = []
    stop = threading.Event()
    # A long interval: only IDLE can make the second poll happen within the test's wait.
    watcher = threading.Thread(
        target=imap._in_thread,
        args=(imap.watch_mailbox, box.pk, stop),
        kwargs={"interval": 600, "idle_seconds": 600, "on_result": polls.append},
    )
    watcher.start()
    try:
        wait_for(lambda: polls, "the first poll")
        dovecot.append(mail(subject="Pushed while idling"))
        # Far below the 600 s interval: only IDLE brings the message in before the bound.
        wait_for(lambda: Ticket.objects.filter(subject="Pushed while idling").exists(), "the pushed mail's ticket")
    finally:
        stop.set()
        watcher.join(timeout=120)
    assert not watcher.is_alive()


def database_url_of_this_test() -> str:
    from django.db import connection

    db = connection.settings_dict
    if db["ENGINE"].endswith("sqlite3"):
        return f"sqlite:///{db['NAME']}"
    return f"postgres://{db['USER']}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}/{db['NAME']}"


@pytest.mark.django_db(transaction=True)
def test_a_poller_killed_mid_run_does_not_keep_the_mailbox(tmp_path):
    """A poller process SIGKILLed while it holds the mailbox: the next poll on this host takes over at
    once instead of skipping the mailbox until the lease runs out."""
    import os
    import subprocess
    import sys

    box = Mailbox.objects.create(address="support@example.test", imap_host="imap.example.test")
    code = (
        "import django, sys, time; django.setup()\n"
        "from sportello.mail.imap import leased\n"
        f"with leased({box.pk}) as held:\n"
        "    print('held' if held else 'skipped', flush=True)\n"
        "    time.sleep(600)\n"
    )
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "sportello.settings",
        "DATABASE_URL": database_url_of_this_test(),
        "SPORTELLO_DATA_DIR": str(tmp_path),
    }
    poller = subprocess.Popen([sys.executable, "-c", code], env=env, stdout=subprocess.PIPE, text=True)
    try:
        assert poller.stdout.readline().strip() == "held"
        with imap.leased(box.pk) as second:
            assert second is None  # alive: it keeps the mailbox
    finally:
        poller.kill()
        poller.wait()
    assert Mailbox.objects.get(pk=box.pk).poll_lease_holder.split(":")[1] == str(poller.pid)
    with imap.leased(box.pk) as taken:
        assert taken is not None
    assert Mailbox.objects.get(pk=box.pk).poll_lease_holder == ""


def test_a_lease_is_renewed_while_polling_and_lost_when_taken(db):
    from datetime import timedelta

    from django.utils import timezone

    box = Mailbox.objects.create(address="support@example.test", imap_host="imap.example.test")
    with imap.leased(box.pk) as held:
        Mailbox.objects.filter(pk=box.pk).update(poll_lease_until=timezone.now() + timedelta(seconds=1))
        imap.renew_lease(held)
        assert Mailbox.objects.get(pk=box.pk).poll_lease_until > timezone.now() + imap.LEASE - timedelta(seconds=10)
        Mailbox.objects.filter(pk=box.pk).update(poll_lease_holder="elsewhere:1:abcdef12")
        with pytest.raises(imap.LeaseLost):
            imap.renew_lease(held)
    assert timedelta(minutes=2) >= imap.LEASE
