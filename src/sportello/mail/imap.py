"""IMAP polling: fetch new messages, store each through `receive_raw`, only then flag or delete it.

Resuming: the mailbox row remembers the folder's UIDVALIDITY and the highest UID up to which
every message is stored. A poll asks for the UIDs above it. A crash after storing but before
flagging makes the next poll fetch those messages again; `receive_raw` recognises the same bytes
and returns the stored row, so nothing is lost and nothing is doubled.

Isolation: a message that cannot be processed is quarantined by `receive_raw` (it is stored, so
it is flagged like any other); a message over the size limit is recorded by its headers and left
on the server; a message whose storing fails (storage or database down) stays on the server, the
resume point stops below it and the poll goes on with the others.

Concurrency: `poll_mailboxes` polls several mailboxes in a thread pool; the scheduler enqueues
one `poll_mailbox_task` per mailbox. A lease on the mailbox row (a conditional UPDATE) keeps two
pollers off one mailbox. `watch_mailbox` keeps a connection open and waits in IDLE between polls
when the server offers it.
"""

from __future__ import annotations

import imaplib
import logging
import os
import socket
import threading
import time
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager, suppress
from dataclasses import asdict, dataclass, field
from datetime import timedelta
from typing import Any

from django.db import close_old_connections, connections
from django.db.models import Q
from django.utils.translation import gettext as _
from django.utils.translation import ngettext
from django_tasks import task
from imapclient import DELETED, SEEN, IMAPClient
from imapclient.exceptions import IMAPClientError, LoginError

from sportello.core.connection_errors import explain
from sportello.mail.models import AfterFetch, Mailbox, RawMessage, RawState
from sportello.mail.services import (
    max_message_bytes,
    receive_batch,
    receive_oversized,
    receive_raw,
    record_fetch,
)
from sportello.social.secrets import UnreadableCredentials, unseal

log = logging.getLogger("sportello.mail.imap")

# A poll fetches message bodies in batches: bounded memory, and the stored ones of a batch are
# flagged together (one round trip) before the resume point moves on.
BATCH_MESSAGES = 25
BATCH_BYTES = 20 * 1024 * 1024
# Renewed before every batch and message, so it only has to outlast storing one message; a
# poller that dies stops renewing and another takes over this soon after.
LEASE = timedelta(seconds=90)
# RFC 2177: clients should re-issue IDLE at least every 29 minutes; servers may drop it sooner.
IDLE_SECONDS = 5 * 60
TIMEOUT = 60
# "Test connection" waits less than a poll: an admin is looking at the page.
CHECK_TIMEOUT = 15


class ImapSettingsError(Exception):
    pass


@dataclass
class PollResult:
    mailbox: str
    stored: int = 0
    quarantined: int = 0
    oversized: int = 0
    failed: int = 0
    waiting: int = 0
    error: str = ""
    skipped: bool = False  # another poller holds the mailbox
    uids: list[int] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


# --- Connecting ----------------------------------------------------------------------------------


def password_for(mailbox: Mailbox) -> str:
    """The password typed on the settings page (kept encrypted), else the one in the environment
    variable named on the mailbox."""
    if mailbox.imap_password_sealed:
        try:
            return str(unseal(mailbox.imap_password_sealed).get("password", ""))
        except UnreadableCredentials:
            raise ImapSettingsError(
                _("The stored IMAP password cannot be read with this server's key; enter it again.")
            ) from None
    if not mailbox.imap_password_env:
        raise ImapSettingsError(_("No IMAP password is set: enter it on the mailbox's settings page."))
    password = os.environ.get(mailbox.imap_password_env)
    if password is None:
        raise ImapSettingsError(
            _("The environment variable %(name)s is not set; it should hold the IMAP password.")
            % {"name": mailbox.imap_password_env}
        )
    return password


def connect(mailbox: Mailbox, *, timeout: float = TIMEOUT) -> IMAPClient:
    client = IMAPClient(mailbox.imap_host, port=mailbox.imap_port, ssl=mailbox.imap_ssl, timeout=timeout)
    try:
        client.login(mailbox.imap_username or mailbox.address, password_for(mailbox))
    except Exception:
        _logout(client)
        raise
    return client


def explain_error(exc: BaseException, mailbox: Mailbox) -> str:
    """A failed IMAP connection or poll in words for the admin (never a raw exception name)."""
    if isinstance(exc, ImapSettingsError | LeaseLost):
        return str(exc)
    if isinstance(exc, LoginError):
        return _("Wrong user name or password: %(host)s refused to sign in %(user)s.") % {
            "host": mailbox.imap_host,
            "user": mailbox.imap_username or mailbox.address,
        }
    if isinstance(exc, IMAPClientError | imaplib.IMAP4.error):
        return _("The IMAP server answered with an error: %(detail)s") % {"detail": _imap_text(exc)}
    return explain(exc, mailbox.imap_host, mailbox.imap_port)


def _imap_text(exc: BaseException) -> str:
    text = str(exc)
    if text.startswith(("b'", 'b"')):  # imaplib passes the server's bytes through str()
        text = text[2:-1]
    return text.strip() or exc.__class__.__name__


@dataclass
class ConnectionCheck:
    ok: bool
    message: str
    messages: int | None = None


def check_connection(mailbox: Mailbox, *, timeout: float | None = None) -> ConnectionCheck:
    """Sign in, open the folder and count its messages; say in words what failed. The mailbox may
    be unsaved (the settings form's values): nothing is written, nothing is fetched."""
    if not mailbox.imap_host:
        return ConnectionCheck(False, _("Enter the IMAP server's name first."))
    try:
        client = connect(mailbox, timeout=CHECK_TIMEOUT if timeout is None else timeout)
    except Exception as exc:
        return ConnectionCheck(False, explain_error(exc, mailbox))
    try:
        try:
            selected = client.select_folder(mailbox.imap_folder, readonly=True)
        except (IMAPClientError, imaplib.IMAP4.error) as exc:
            return ConnectionCheck(
                False,
                _("Signed in, but the folder %(folder)s could not be opened: %(detail)s")
                % {"folder": mailbox.imap_folder, "detail": _imap_text(exc)},
            )
        count = int(selected.get(b"EXISTS", 0))
        return ConnectionCheck(
            True,
            ngettext(
                "Connected: %(count)s message in %(folder)s.",
                "Connected: %(count)s messages in %(folder)s.",
                count,
            )
            % {"count": count, "folder": mailbox.imap_folder},
            count,
        )
    except Exception as exc:
        return ConnectionCheck(False, explain_error(exc, mailbox))
    finally:
        _logout(client)


def _logout(client: IMAPClient) -> None:
    try:
        client.logout()
    except Exception:  # the connection may be gone already: close the socket, nothing to tell anyone
        with suppress(Exception):
            client.shutdown()


# --- One mailbox -------------------------------------------------------------------------------------


class LeaseLost(Exception):
    """Another poller took the mailbox (ours expired): this poll stops where it is."""


def lease_holder() -> str:
    """host:pid:token — the token tells apart two pollers (threads) of one process."""
    return f"{socket.gethostname()[:60]}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


def holder_is_gone(holder: str) -> bool:
    """Whether the process that holds a lease is known to have ended: one of this host that no
    longer runs. Another host's process cannot be checked: its lease expires instead."""
    parts = holder.split(":")
    if len(parts) != 3:
        return False
    host, pid, _token = parts
    if host != socket.gethostname()[:60] or not pid.isdigit():
        return False
    try:
        os.kill(int(pid), 0)
    except ProcessLookupError:
        return True
    except PermissionError:  # alive, someone else's
        return False
    return False


@contextmanager
def leased(mailbox_id: int) -> Iterator[Mailbox | None]:
    """The mailbox if no other poller holds it (it is then ours until the block ends), else None.

    A lease that expired, or whose holder is a process of this host that is gone (a poller
    killed mid-run), is taken over; `renew_lease` keeps ours while polling.
    """
    from django.utils import timezone

    now = timezone.now()
    holder = lease_holder()
    mailboxes = Mailbox.objects.filter(pk=mailbox_id, active=True)
    free = Q(poll_lease_until__isnull=True) | Q(poll_lease_until__lt=now)
    taken = mailboxes.filter(free).update(poll_lease_until=now + LEASE, poll_lease_holder=holder)
    if not taken:
        current = mailboxes.values_list("poll_lease_holder", flat=True).first()
        if current and holder_is_gone(current):
            log.warning("mailbox %s: the poller %s is gone; taking over its lease", mailbox_id, current)
            taken = mailboxes.filter(poll_lease_holder=current).update(
                poll_lease_until=now + LEASE, poll_lease_holder=holder
            )
    if not taken:
        yield None
        return
    try:
        yield Mailbox.objects.get(pk=mailbox_id)
    finally:
        Mailbox.objects.filter(pk=mailbox_id, poll_lease_holder=holder).update(
            poll_lease_until=None, poll_lease_holder=""
        )


def renew_lease(mailbox: Mailbox) -> None:
    """Keep the lease while polling (before each batch and message); raise LeaseLost if it was taken."""
    from django.utils import timezone

    kept = Mailbox.objects.filter(pk=mailbox.pk, poll_lease_holder=mailbox.poll_lease_holder).update(
        poll_lease_until=timezone.now() + LEASE
    )
    if not kept and mailbox.poll_lease_holder:
        raise LeaseLost(f"{mailbox.address}: another poller took over the mailbox")


def poll_mailbox(mailbox_id: int, *, client: IMAPClient | None = None) -> PollResult:
    """Fetch and store what is new in one mailbox; never raises, records its health instead."""
    with leased(mailbox_id) as mailbox:
        if mailbox is None:
            label = Mailbox.objects.filter(pk=mailbox_id).values_list("address", flat=True).first() or str(mailbox_id)
            return PollResult(mailbox=label, skipped=True)
        result = PollResult(mailbox=mailbox.address)
        reached = False
        try:
            own = client is None
            imap = connect(mailbox) if client is None else client
            reached = True
            try:
                fetch_new(imap, mailbox, result)
            finally:
                if own:
                    _logout(imap)
        except Exception as exc:
            result.error = explain_error(exc, mailbox)
            log.warning("polling %s failed: %s", mailbox.address, result.error, exc_info=True)
        record_fetch(mailbox.pk, waiting=result.waiting if reached else None, error=result.error, reached=reached)
        return result


def fetch_new(client: IMAPClient, mailbox: Mailbox, result: PollResult) -> None:
    """1. Select the folder; a new UIDVALIDITY means the old UIDs mean nothing: start from 0.
    2. List the UIDs above the resume point with their sizes.
    3. Per batch: fetch the bodies (PEEK, so fetching alone marks nothing read), store each,
       then flag or delete the stored ones, then move the resume point past them.
    """
    selected = client.select_folder(mailbox.imap_folder)
    validity = int(selected[b"UIDVALIDITY"])
    if mailbox.imap_uidvalidity != validity:
        if mailbox.imap_uidvalidity is not None:
            log.warning("%s: UIDVALIDITY changed, fetching the folder again", mailbox.address)
        mailbox.imap_uidvalidity = validity
        mailbox.imap_last_uid = 0
        Mailbox.objects.filter(pk=mailbox.pk).update(imap_uidvalidity=validity, imap_last_uid=0)

    last = mailbox.imap_last_uid
    # "n:*" always includes the highest UID, even below n: filter again here.
    uids = sorted(uid for uid in client.search(["UID", f"{last + 1}:*"]) if uid > last)
    sizes = {uid: int(data.get(b"RFC822.SIZE", 0)) for uid, data in client.fetch(uids, ["RFC822.SIZE"]).items()}
    uids = [uid for uid in uids if uid in sizes]  # expunged meanwhile by someone else
    limit = max_message_bytes()
    failed: set[int] = set()
    for batch in _batches(uids, sizes, limit):
        renew_lease(mailbox)
        stored = _store_batch(client, mailbox, batch, sizes, limit, failed, result)
        if stored:
            _mark_stored(client, mailbox, stored)
        # The resume point is the highest UID below which nothing failed: a failed message is
        # fetched again next time (with the ones after it, which receive_raw then recognises).
        done = [uid for uid in batch if uid not in failed]
        if not failed and done:
            mailbox.imap_last_uid = max(done)
        elif failed:
            below = [uid for uid in uids if uid < min(failed)]
            mailbox.imap_last_uid = max(below, default=last)
        Mailbox.objects.filter(pk=mailbox.pk).update(imap_last_uid=mailbox.imap_last_uid)
    result.waiting = len(failed)
    if failed and not result.error:
        result.error = f"{len(failed)} message(s) could not be stored and stay on the server; see the log"


def _batches(uids: list[int], sizes: dict[int, int], limit: int) -> Iterator[list[int]]:
    batch: list[int] = []
    total = 0
    for uid in uids:
        size = min(sizes[uid], limit)
        if batch and (len(batch) >= BATCH_MESSAGES or total + size > BATCH_BYTES):
            yield batch
            batch, total = [], 0
        batch.append(uid)
        total += size
    if batch:
        yield batch


def _store_batch(
    client: IMAPClient,
    mailbox: Mailbox,
    batch: list[int],
    sizes: dict[int, int],
    limit: int,
    failed: set[int],
    result: PollResult,
) -> list[int]:
    """Store each message of the batch; return the UIDs that may now be flagged or deleted."""
    small = [uid for uid in batch if sizes[uid] <= limit]
    large = [uid for uid in batch if sizes[uid] > limit]
    bodies = client.fetch(small, ["BODY.PEEK[]"]) if small else {}
    headers = client.fetch(large, ["BODY.PEEK[HEADER]"]) if large else {}
    stored = []
    result.uids += batch
    fetched = [uid for uid in batch if uid in bodies]
    if fetched:
        # The batch's messages in one transaction (`receive_batch`); when that fails as a whole,
        # each is tried alone, so that one bad message keeps only itself on the server.
        try:
            raws = [bytes(bodies[uid][b"BODY[]"]) for uid in fetched]
            rows = dict(zip(fetched, receive_batch(raws, mailbox=mailbox, source="imap"), strict=True))
        except Exception:
            log.warning("%s: storing a batch failed; storing its messages one by one", mailbox.address, exc_info=True)
            rows = {}
        for uid in fetched:
            try:
                row = rows.get(uid) or _store_one(mailbox, bytes(bodies[uid][b"BODY[]"]))
            except Exception:
                log.exception("%s: storing UID %s failed; it stays on the server", mailbox.address, uid)
                failed.add(uid)
                result.failed += 1
                continue
            stored.append(uid)
            if row.state == RawState.QUARANTINED:
                result.quarantined += 1
            else:
                result.stored += 1
    for uid in batch:
        if uid in bodies:
            continue
        renew_lease(mailbox)
        try:
            if uid in headers:
                # Too large to fetch: recorded for admins, left on the server (never deleted).
                receive_oversized(
                    bytes(headers[uid][b"BODY[HEADER]"]),
                    sizes[uid],
                    mailbox=mailbox,
                    where=f"It was left on the IMAP server ({mailbox.imap_folder}, UID {uid}).",
                )
                result.oversized += 1
            # Neither: expunged on the server between listing and fetching; nothing to store.
        except Exception:
            log.exception("%s: storing UID %s failed; it stays on the server", mailbox.address, uid)
            failed.add(uid)
            result.failed += 1
    return stored


def _store_one(mailbox: Mailbox, raw: bytes) -> RawMessage:
    renew_lease(mailbox)
    return receive_raw(raw, mailbox=mailbox, source="imap")


def _mark_stored(client: IMAPClient, mailbox: Mailbox, uids: list[int]) -> None:
    """Flag (\\Seen) or delete messages that are stored. Runs only after storing."""
    if mailbox.imap_after_fetch == AfterFetch.DELETE:
        client.add_flags(uids, [DELETED], silent=True)
        if client.has_capability("UIDPLUS"):
            client.uid_expunge(uids)  # only ours: a message someone else flagged \\Deleted is theirs
        else:
            client.expunge()
    else:
        client.add_flags(uids, [SEEN], silent=True)


# --- Many mailboxes, and the long-running watch ------------------------------------------------------


def imap_mailboxes(name: str | None = None) -> list[Mailbox]:
    mailboxes = Mailbox.objects.filter(active=True).exclude(imap_host="")
    if name:
        mailboxes = mailboxes.filter(Q(address__iexact=name) | Q(name__iexact=name))
    return list(mailboxes)


def _in_thread(function: Any, *args: Any, **kwargs: Any) -> Any:
    """Run with this thread's own database connection, closed afterwards (threads do not share one)."""
    close_old_connections()
    try:
        return function(*args, **kwargs)
    finally:
        connections.close_all()


def poll_mailboxes(mailbox_ids: list[int], *, workers: int = 4) -> list[PollResult]:
    """Poll several mailboxes at once: one slow or broken server does not hold up the others."""
    if not mailbox_ids:
        return []
    with ThreadPoolExecutor(max_workers=max(1, min(workers, len(mailbox_ids))), thread_name_prefix="imap") as pool:
        return list(pool.map(lambda pk: _in_thread(poll_mailbox, pk), mailbox_ids))


@task()
def poll_mailbox_task(mailbox_id: int) -> dict[str, Any]:
    return poll_mailbox(mailbox_id).as_dict()


def enqueue_polls() -> int:
    """The scheduler's job: one poll task per IMAP mailbox (workers on any machine take them)."""
    mailboxes = imap_mailboxes()
    for mailbox in mailboxes:
        poll_mailbox_task.enqueue(mailbox.pk)
    return len(mailboxes)


def watch_mailbox(
    mailbox_id: int,
    stop: threading.Event,
    *,
    interval: float = 60,
    idle_seconds: float = IDLE_SECONDS,
    on_result: Any = None,
) -> None:
    """Poll, then wait in IDLE (or sleep `interval` when the server lacks IDLE), until `stop` is set.

    A lost connection is reopened after a pause that grows up to `interval`.
    """
    pause = 1.0
    while not stop.is_set():
        client: IMAPClient | None = None
        try:
            mailbox = Mailbox.objects.get(pk=mailbox_id)
            client = connect(mailbox)
            while not stop.is_set():
                result = poll_mailbox(mailbox_id, client=client)
                if on_result is not None:
                    on_result(result)
                if result.error and not result.failed:
                    break  # the connection is suspect: open a new one
                pause = 1.0
                if client.has_capability("IDLE"):
                    wait_idle(client, stop, idle_seconds)
                else:
                    stop.wait(interval)
        except Exception as exc:
            log.warning("watching mailbox %s: %s", mailbox_id, exc)
            record_fetch(mailbox_id, error=f"{type(exc).__name__}: {exc}", reached=False)
        finally:
            if client is not None:
                _logout(client)
        stop.wait(pause)
        pause = min(pause * 2, interval)


def wait_idle(client: IMAPClient, stop: threading.Event, seconds: float) -> bool:
    """Wait in IDLE until the server reports new mail (True), `seconds` pass or `stop` is set."""
    client.idle()
    try:
        deadline = time.monotonic() + seconds
        while not stop.is_set() and time.monotonic() < deadline:
            # Short checks so that `stop` is noticed within a second.
            for response in client.idle_check(timeout=1):
                if len(response) > 1 and response[1] in (b"EXISTS", b"RECENT"):
                    return True
        return False
    finally:
        client.idle_done()


def watch_mailboxes(mailboxes: list[Mailbox], stop: threading.Event, **options: Any) -> None:
    """One thread per mailbox, each watching its own; returns when `stop` is set and all have ended."""
    threads = [
        threading.Thread(
            target=_in_thread,
            args=(watch_mailbox, mailbox.pk, stop),
            kwargs=options,
            name=f"imap-{mailbox.pk}",
            daemon=True,
        )
        for mailbox in mailboxes
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
