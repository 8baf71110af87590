"""Receiving mail: store the raw bytes, then turn them into a ticket entry or a quarantine record.

Every transport (import, IMAP, SMTP/LMTP, the raw-MIME HTTP endpoint) calls `receive_raw`.
"""

from __future__ import annotations

import copy
import ctypes
import functools
import hashlib
import logging
import os
import sys
import threading
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager, nullcontext, suppress
from contextvars import ContextVar
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from email.parser import BytesHeaderParser
from email.policy import default as default_policy
from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.files.base import ContentFile
from django.core.files.storage import FileSystemStorage
from django.db import IntegrityError, connection, transaction
from django.db.models import F, QuerySet
from django.utils import timezone
from django_tasks import task

from sportello.core import events, lookups, prefetch
from sportello.core.models import Counter
from sportello.core.rows import bound_cursor, copy_of, insert_many
from sportello.core.rows import insert as insert_row
from sportello.core.text import clean
from sportello.customers.identity import normalize, owners_of, owners_query
from sportello.customers.models import Customer, Identity, IdentityKind
from sportello.customers.services import Sender
from sportello.mail.addresses import base_address
from sportello.mail.blocking import reason as block_reason
from sportello.mail.models import BlockedSender, Mailbox, RawMessage, RawState, raw_path
from sportello.mail.parse import (
    ParsedMail,
    decode_header_value,
    parse_addresses,
    parse_message,
    parse_message_ids,
)
from sportello.mail.pipeline import Conclusions, conclude, filing, own_addresses
from sportello.tickets.attachments import AttachmentIn
from sportello.tickets.intake import Inbound, ingest
from sportello.tickets.models import Channel, Entry

log = logging.getLogger("sportello.mail")

# Past this many messages from one sender within the window, more are quarantined: two robots
# answering each other would otherwise open tickets without end. Imports are not limited.
DEFAULT_RATE_LIMIT = 20
DEFAULT_RATE_WINDOW = 3600  # seconds


class Quarantine(Exception):
    """Processing stops on purpose; the message waits for an admin with this reason."""


def receive_raw(
    raw: bytes,
    *,
    mailbox: Mailbox | None = None,
    source: str = "import",
    envelope_to: list[str] | None = None,
    envelope_from: str = "",
) -> RawMessage:
    """Record one raw message and process it; returns its row in its final state.

    1. The bytes are written to their file (fsynced) and parsed in memory; the file is never
       read back.
    2. One transaction holds everything the message changes: one query answers every look-up
       (the same bytes already stored, a redelivery of a message processed before, the sender's
       recent count, the sender one of our addresses), intake files it, and its row is inserted
       in its final state. Transports acknowledge the message (LMTP 250, IMAP flag or delete)
       only once this returns, so a crash before the commit loses nothing: the message comes
       again.
    3. A message whose file is already there with no row is the next attempt after a process
       stopped while processing it (it may be what stops it): it takes the careful path — row
       stored and committed first, attempt counted, then processed (`process_raw`), so that the
       sweep quarantines one that keeps stopping the process (`sweep_received`). So does a
       message over the size limit or one that cannot be parsed.
    4. Any failure quarantines the message (its row recorded with the reason).
    """
    arrival = _arrive(raw, mailbox=mailbox, source=source, envelope_to=envelope_to, envelope_from=envelope_from)
    if arrival.careful:
        return _receive_carefully(raw, arrival.row)
    return _known(_file(arrival), raw)


def receive_batch(raws: Sequence[bytes], *, mailbox: Mailbox | None = None, source: str = "import") -> list[RawMessage]:
    """Record and process several messages (an import, one IMAP fetch), in order; returns their
    rows in their final states, in the order given.

    As `receive_raw`, with the fixed costs shared: the files are written first, then made durable
    together (one filesystem sync, see `PendingSync`); consecutive messages are looked up together
    (`look_up_together`) and processed in one transaction (a failure quarantines that message
    only, see `_file_together`). Nothing may be
    acknowledged before this returns: a crash rolls the whole batch back, and each of its messages
    then takes the careful path when it comes again (its file is there).
    """
    pending = PendingSync()
    arrivals = [_arrive(raw, mailbox=mailbox, source=source, pending=pending) for raw in raws]
    pending.flush()
    rows: list[RawMessage] = []
    index = 0
    while index < len(arrivals):
        if arrivals[index].careful:
            rows.append(_receive_carefully(arrivals[index].raw, arrivals[index].row))
            index += 1
            continue
        end = index
        while end < len(arrivals) and not arrivals[end].careful:
            end += 1
        filed = _file_together(arrivals[index:end])
        rows += [_known(row, arrival.raw) for row, arrival in zip(filed, arrivals[index:end], strict=True)]
        index = end
    return rows


@dataclass
class _Arrival:
    raw: bytes
    row: RawMessage  # not saved yet; its file written
    parsed: ParsedMail | None
    # Stored and committed before processing (`_receive_carefully`): not parsed (too large, or
    # unreadable: processing records why), or its file was there already with no row (an earlier
    # attempt stopped in the middle).
    careful: bool


def _arrive(
    raw: bytes,
    *,
    mailbox: Mailbox | None,
    source: str,
    envelope_to: list[str] | None = None,
    envelope_from: str = "",
    pending: PendingSync | None = None,
) -> _Arrival:
    """Parse the bytes in memory and write their file (durably; see `write_raw_file`)."""
    row = _new_row(raw, mailbox=mailbox, source=source, envelope_to=envelope_to, envelope_from=envelope_from)
    parsed = None
    if row.size <= max_message_bytes():
        with suppress(Exception):  # the careful path records the reason
            parsed = parse_message(raw)
    if parsed is not None:
        row.message_id = clean(parsed.message_id[:500])
        row.subject = clean(parsed.subject[:255])
    existed = write_raw_file(row, raw, pending=pending)
    return _Arrival(raw=raw, row=row, parsed=parsed, careful=parsed is None or existed)


class _FileAgain(Exception):
    """A message of a batch failed after it may have written: the batch is filed again, each
    message in a savepoint of its own."""


def _file_together(arrivals: Sequence[_Arrival]) -> list[RawMessage]:
    """File consecutive messages in one transaction, each as if in a savepoint of its own.

    Savepoints cost two statements a message, and are needed only by a message that fails after
    it wrote something. So the batch is filed without them first: a message held back on purpose
    (`Quarantine`: a loop, the rate limit, the block list, no sender) is refused before anything
    is written, and is recorded so at once. Any other failure (a bug, a database error) rolls the
    transaction back whole, and the batch is filed again from the rows as they arrived, each
    message in a savepoint, as before: the outcome is the same either way.
    """
    from sportello.search import backend as search  # the search app indexes every write

    unfiled = [copy.copy(arrival.row) for arrival in arrivals]  # their own state, unsaved
    try:
        # The messages' rows, their outbox rows of events and their new tickets' search
        # documents, each in one INSERT at the end: this transaction is rolled back whole on any
        # error, and no savepoint inside rolls back a message's writes.
        with transaction.atomic(), events.together(), search.together(), _rows_together():
            try:
                ahead = _Ahead(look_up_together(arrivals))
            except Exception as exc:
                raise _FileAgain from exc
            token = _ahead.set(ahead)
            try:
                filed = []
                for index, arrival in enumerate(arrivals):
                    filed.append(_file(arrival, savepoint=False, known=ahead.take(index, arrival)))
                    ahead.filed(filed[-1], new=filed[-1] is arrival.row)
                return filed
            finally:
                _ahead.reset(token)
    except _FileAgain:
        pass
    again = [replace(arrival, row=row) for arrival, row in zip(arrivals, unfiled, strict=True)]
    with transaction.atomic():
        return [_file(arrival) for arrival in again]


# Inside a batch's first pass (`_rows_together`): the rows of its messages filed so far, in their
# final states, not inserted yet (None: outside one).
_held_rows: ContextVar[list[RawMessage] | None] = ContextVar("mail_held_rows", default=None)


@contextmanager
def _rows_together() -> Iterator[None]:
    """Insert the rows of the messages filed inside the block (`_finish`) in one statement when
    it ends, in order, instead of one each; an error in the block inserts nothing (the caller's
    transaction is rolled back whole).

    What reads the rows of raw messages in the block sees the held ones: `look_up` counts them
    for the rate limit, and writes them first when one of them may be the same bytes or the same
    message (a redelivery); threading by Message-ID (`pipeline.ticket_for_message_ids`) and a
    quarantined message's row write them first too.
    """
    if _held_rows.get() is not None:
        yield
        return
    held: list[RawMessage] = []
    token = _held_rows.set(held)
    try:
        yield
    finally:
        _held_rows.reset(token)
    insert_many(held)


def write_held_rows(*, message_ids: Sequence[str] | None = None) -> None:
    """Insert the rows `_rows_together` holds now: something that reads them follows.
    `message_ids`: only if one of them has one of these Message-IDs (what threading reads: the
    others would not change its answer, and are inserted later with the rest)."""
    held = _held_rows.get()
    if held and message_ids is not None:
        wanted = set(message_ids)
        if not any(row.message_id in wanted for row in held):
            return
    if held:
        insert_many(held)
        held.clear()


def _file(arrival: _Arrival, *, savepoint: bool = True, known: Known | None = None) -> RawMessage:
    """Look up, conclude and ingest one parsed message in a transaction (a savepoint within a
    batch's); its row is inserted in its final state. Returns the row of the same bytes when they
    were stored already (processed by `_known` once committed).

    `savepoint=False` (in a batch's transaction, see `_file_together`): no savepoint; a failure
    other than a `Quarantine` raised before any write raises `_FileAgain`. `known`: its look-up,
    read with the batch's (`look_up_together`); None: read now."""
    row, parsed = arrival.row, arrival.parsed
    assert parsed is not None
    try:
        with transaction.atomic() if savepoint else nullcontext():
            if known is None:
                known = look_up(parsed, row=row)
            if known.same_bytes is not None:
                return known.same_bytes
            _process(row, retry=False, raw=arrival.raw, parsed=parsed, known=known)
    except Exception as exc:
        if not savepoint and not (isinstance(exc, Quarantine) and known is not None and not known.wrote):
            raise _FileAgain from exc
        write_held_rows()  # the rows of the batch before it come first, as they arrived
        same = RawMessage.objects.filter(sha256=row.sha256).first()
        if same is not None:  # the same bytes, stored at the same time by another process
            return same
        reason = str(exc) if isinstance(exc, Quarantine) else f"{type(exc).__name__}: {exc}"
        log.warning("mail quarantined: %s", reason, exc_info=not isinstance(exc, Quarantine))
        return _record_quarantined(arrival.raw, row, reason)
    return row


def _new_row(
    raw: bytes,
    *,
    mailbox: Mailbox | None,
    source: str,
    envelope_to: list[str] | None,
    envelope_from: str,
) -> RawMessage:
    return RawMessage(
        sha256=hashlib.sha256(raw).hexdigest(),
        size=len(raw),
        mailbox=mailbox,
        source=source[:20],
        envelope_to=[str(a).lower() for a in envelope_to or []],
        envelope_from=clean(envelope_from or "")[:254],
    )


def _known(row: RawMessage, raw: bytes) -> RawMessage:
    """The row these bytes already have; one a crash left "received" is processed now."""
    if row.state == RawState.RECEIVED:
        return process_raw(row, raw=raw)
    return row


def _receive_carefully(raw: bytes, row: RawMessage) -> RawMessage:
    """The row stored and committed on its own, then processed with its attempt counted."""
    stored, _created = store_raw(
        raw,
        mailbox=row.mailbox,
        source=row.source,
        envelope_to=row.envelope_to,
        envelope_from=row.envelope_from,
        written=row,
    )
    return _known(stored, raw)


def _record_quarantined(raw: bytes, row: RawMessage, reason: str) -> RawMessage:
    """A message whose processing failed: its row, with the reason, for an admin to retry."""
    write_held_rows()  # its row after the rows of the messages before it
    summary = _summary(raw)
    row.pk = None
    row.message_id, row.subject = summary["message_id"], summary["subject"]
    row.sender = row.sender or summary["sender"]
    row.content_sha256 = ""
    row.ticket = row.entry = row.duplicate_of = None
    row.state = RawState.QUARANTINED
    row.reason = reason[:5000]
    row.attempts = 1
    row.processed_at = timezone.now()
    try:
        with transaction.atomic():
            row.save(force_insert=True)
    except IntegrityError:
        return RawMessage.objects.get(sha256=row.sha256)
    return row


def store_raw(
    raw: bytes,
    *,
    mailbox: Mailbox | None = None,
    source: str = "import",
    envelope_to: list[str] | None = None,
    envelope_from: str = "",
    written: RawMessage | None = None,
) -> tuple[RawMessage, bool]:
    """The row of these bytes, stored "received" and committed on its own (file first); `written`:
    an unsaved row whose file `write_raw_file` wrote already."""
    digest = hashlib.sha256(raw).hexdigest()
    existing = RawMessage.objects.filter(sha256=digest).first()
    if existing is not None:
        return existing, False
    summary = _summary(raw)
    row = RawMessage(
        sha256=digest,
        size=len(raw),
        mailbox=mailbox,
        source=source[:20],
        envelope_to=[str(a).lower() for a in envelope_to or []],
        envelope_from=clean(envelope_from or "")[:254],
        **summary,
    )
    if written is not None and written.sha256 == digest and written.file.name:
        row.file.name = written.file.name
    else:
        write_raw_file(row, raw)
    try:
        with transaction.atomic():
            row.save()
    except IntegrityError:  # the same bytes arrived concurrently; theirs is the row
        if not isinstance(row.file.storage, FileSystemStorage):
            row.file.delete(save=False)
        # On a local disk both wrote the same bytes to the same name: the file is theirs too.
        return RawMessage.objects.get(sha256=digest), False
    return row, True


def write_raw_file(row: RawMessage, raw: bytes, *, pending: PendingSync | None = None) -> bool:
    """Store the raw bytes so that they survive a power cut once this returns (the listener
    answers 250 only then), and never leave a partial file behind. Returns whether a file of
    that name (the same bytes) was there already: an earlier attempt wrote it.

    On a local disk: 1. write to a temporary name in the target folder, 2. fsync the file,
    3. rename it to its name (atomic; the name is the content's hash, so an existing file with
    it holds the same bytes), 4. fsync the folder (and any folder created for it), so that the
    rename itself is durable. Any OSError (a full disk) removes the temporary file and is raised:
    transports then refuse the message for now (451) or leave it on the server. Other storages
    (S3) write whole objects: Django's save is used. With `pending`, steps 2 and 4 are left to
    the caller, who must `pending.flush()` before anything is acknowledged (a batch syncs once).
    """
    field = RawMessage._meta.get_field("file")
    storage = field.storage
    if not isinstance(storage, FileSystemStorage):
        name = field.generate_filename(row, f"{row.sha256}.eml")
        existed = storage.exists(name)
        row.file.save(f"{row.sha256}.eml", ContentFile(raw), save=False)
        return existed
    # The name `generate_filename` gives (raw_path's: a month's folder and the hash, nothing for
    # the storage to make valid), without its checks of a name from outside.
    name = raw_path(row, "")
    path = Path(storage.location, name)
    existed = os.path.exists(path)
    created: list[Path] = []
    known = path.parent in _FOLDERS
    if not known:  # a month's folder is made (and made durable) once
        folder = path.parent
        while not folder.exists():
            created.append(folder)
            folder = folder.parent
        path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(f".{path.name}.{os.getpid()}.{threading.get_ident()}.tmp")
    try:
        try:
            descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
        except FileNotFoundError:
            if not known:
                raise
            _FOLDERS.discard(path.parent)  # removed since: made again
            return write_raw_file(row, raw, pending=pending)
        try:
            _write_all(descriptor, raw)
            if pending is None:
                _fsync(descriptor)
        finally:
            os.close(descriptor)
        if storage.file_permissions_mode is not None:
            os.chmod(temporary, storage.file_permissions_mode)
        os.replace(temporary, path)
    except BaseException:
        with suppress(OSError):
            temporary.unlink()
        raise
    for directory in [path.parent, *(c.parent for c in created)]:
        if pending is None:
            _fsync_directory(directory)
        else:
            pending.folders.add(directory)
    if pending is not None:
        pending.files.append(path)
    _FOLDERS.add(path.parent)
    row.file.name = name
    return existed


# The folders of raw files this process wrote into: they exist, and their entries in their
# parents were made durable by the write that made them.
_FOLDERS: set[Path] = set()


def _write_all(descriptor: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        written = os.write(descriptor, view[: 1024 * 1024])
        view = view[written:]


def _fsync(descriptor: int) -> None:
    os.fsync(descriptor)


@dataclass
class PendingSync:
    """Files written (renamed to their names) but not yet durable, and the folders whose entries
    changed: a batch makes them durable together before it is acknowledged.

    On Linux one `syncfs` per filesystem does it: a hundred files cost one journal commit instead
    of a hundred and one fsyncs (measured on this machine kind: ~35 ms against ~450 ms for 100
    files of 12 kB). A crash before the flush may leave a file short under its final name; that
    is safe because nothing was acknowledged or committed for it: the message comes again, its
    file is rewritten (a temporary name renamed over it), and it is processed from the bytes in
    memory. Elsewhere (no `syncfs`), every file and then every folder is fsynced.
    """

    files: list[Path] = field(default_factory=list)
    folders: set[Path] = field(default_factory=set)

    def flush(self) -> None:
        if not self.files and not self.folders:
            return
        # Every file's folder is among `folders`: one sync per filesystem they are on.
        if not _syncfs_each({folder.stat().st_dev: folder for folder in self.folders}):
            for path in self.files:
                descriptor = os.open(path, os.O_RDONLY)
                try:
                    _fsync(descriptor)
                finally:
                    os.close(descriptor)
            for folder in sorted(self.folders, key=lambda f: len(f.parts), reverse=True):
                _fsync_directory(folder)
        self.files, self.folders = [], set()


def _syncfs_each(folders: dict[int, Path]) -> bool:
    """`syncfs(2)` on the filesystem of each folder; False where the call is not available."""
    syncfs = _libc_syncfs()
    if syncfs is None:
        return False
    for folder in folders.values():
        descriptor = os.open(folder, os.O_RDONLY)
        try:
            if syncfs(descriptor) != 0:
                error = ctypes.get_errno()
                raise OSError(error, os.strerror(error), str(folder))
        finally:
            os.close(descriptor)
    return True


@functools.cache
def _libc_syncfs() -> Callable[[int], int] | None:
    if not sys.platform.startswith("linux"):
        return None
    try:
        return ctypes.CDLL(None, use_errno=True).syncfs  # type: ignore[no-any-return]
    except (OSError, AttributeError):
        return None


def _fsync_directory(directory: Path) -> None:
    descriptor = os.open(directory, os.O_RDONLY)
    try:
        _fsync(descriptor)
    finally:
        os.close(descriptor)


def _summary(raw: bytes) -> dict[str, str]:
    """Message-ID, sender and subject for the row, from the headers only; never raises."""
    try:
        headers = BytesHeaderParser(policy=default_policy).parsebytes(raw)
        items = [(k.lower(), str(v)) for k, v in headers.raw_items()]
    except Exception:
        return {"message_id": "", "sender": "", "subject": ""}

    def first(name: str) -> str:
        return next((v for k, v in items if k == name), "")

    ids = parse_message_ids(decode_header_value(first("message-id")))
    senders = parse_addresses([first("from")]) if first("from") else []
    return {
        "message_id": clean(ids[0][:500]) if ids else "",
        "sender": clean(senders[0].address.lower()[:254]) if senders else "",
        "subject": clean(decode_header_value(first("subject"))[:255]),
    }


def max_message_bytes() -> int:
    return int(settings.MAIL_MAX_MESSAGE_BYTES)


def _megabytes(size: int) -> str:
    return f"{size / (1024 * 1024):.1f} MB"


def receive_oversized(
    headers: bytes, size: int, *, mailbox: Mailbox | None = None, source: str = "imap", where: str = ""
) -> RawMessage:
    """Record a message too large to fetch: its headers only, quarantined with the reason.

    The message itself stays where it is (`where` says so in the reason); admins see who sent
    what and can fetch it by hand. Idempotent like receive_raw (by the headers' hash).
    """
    row, created = store_raw(headers, mailbox=mailbox, source=source)
    if created or row.state == RawState.RECEIVED:
        reason = (
            f"The message has {_megabytes(size)}, over the limit of {_megabytes(max_message_bytes())} "
            f"(SPORTELLO_MAIL_MAX_MESSAGE_MB); only its headers were stored. {where}"
        ).strip()
        RawMessage.objects.filter(pk=row.pk).update(
            size=size, state=RawState.QUARANTINED, reason=reason, processed_at=timezone.now()
        )
        row.refresh_from_db()
    return row


# --- Mailboxes: addresses, tokens, health ------------------------------------------------------


def mailbox_for_address(address: str) -> Mailbox | None:
    """The active mailbox an envelope recipient belongs to: its address or a +tag form of it."""
    local, _, domain = (address or "").strip().strip("<>").lower().rpartition("@")
    if not local or not domain:
        return None
    base = f"{local.split('+', 1)[0]}@{domain}"
    return Mailbox.objects.filter(active=True, address__iexact=base).first()


def accepts_address(address: str) -> bool:
    """Whether inbound mail to `address` is ours: a mailbox, the default sender, or a +tag of either."""
    local, _, domain = (address or "").strip().strip("<>").lower().rpartition("@")
    if not local or not domain:
        return False
    base = f"{local.split('+', 1)[0]}@{domain}"
    # Replies to tickets without a mailbox go to the signed form of the default sender's address.
    return base == base_address().lower() or mailbox_for_address(base) is not None


def rotate_inbound_token(mailbox: Mailbox) -> str:
    """A new secret for the raw-MIME HTTP endpoint; the old one stops working. Shown once."""
    key = Mailbox.new_token()
    mailbox.inbound_token_hash, mailbox.inbound_token_hint = Mailbox.hash_token(key), key[:8]
    mailbox.inbound_token_created_at = timezone.now()
    # A save of these fields only, not an update: the audit trail sees the change (never the token).
    mailbox.save(update_fields=["inbound_token_hash", "inbound_token_hint", "inbound_token_created_at"])
    return key


def mailbox_for_token(key: str) -> Mailbox | None:
    key = (key or "").strip()
    if not key.startswith(Mailbox.TOKEN_PREFIX):
        return None
    return Mailbox.objects.filter(active=True, inbound_token_hash=Mailbox.hash_token(key)).first()


def record_fetch(mailbox_id: int, *, waiting: int | None = None, error: str = "", reached: bool = True) -> None:
    """The outcome of one poll, for the health page: a clean poll clears the last error.

    `reached` says the server answered (the fetch time moves on even when one message failed).
    """
    now = timezone.now()
    fields: dict[str, Any] = {"last_error": error[:5000]}
    if error:
        fields["last_error_at"] = now
    if reached:
        fields["last_fetch_at"] = now
    if waiting is not None:
        fields["messages_waiting"] = waiting
    Mailbox.objects.filter(pk=mailbox_id).update(**fields)


def retry_raw(raw_message: RawMessage) -> RawMessage:
    """Process a quarantined message again (after a fix, or to let a rate-limited one through)."""
    return process_raw(raw_message, retry=True)


def process_raw(raw_message: RawMessage, *, retry: bool = False, raw: bytes | None = None) -> RawMessage:
    """Process a stored row; `raw`: its bytes when in hand (else its file is read)."""
    allowed = [RawState.RECEIVED, RawState.QUARANTINED] if retry else [RawState.RECEIVED]
    # The attempt is counted (and committed) before processing, so that a process killed while
    # processing leaves a count the sweep can see (`sweep_received`).
    RawMessage.objects.filter(pk=raw_message.pk, state__in=allowed).update(attempts=F("attempts") + 1)
    try:
        with transaction.atomic():
            # The row lock makes two workers that got the same message process it once.
            row = RawMessage.objects.select_for_update().get(pk=raw_message.pk)
            if row.state not in allowed:
                return row
            _process(row, retry=retry, raw=raw)
    except Exception as exc:
        reason = str(exc) if isinstance(exc, Quarantine) else f"{type(exc).__name__}: {exc}"
        log.warning("mail %s quarantined: %s", raw_message.pk, reason, exc_info=not isinstance(exc, Quarantine))
        RawMessage.objects.filter(pk=raw_message.pk).update(
            state=RawState.QUARANTINED, reason=reason[:5000], processed_at=timezone.now()
        )
    return RawMessage.objects.get(pk=raw_message.pk)


# A row still "received" this long after it arrived was left by a process that stopped while
# processing it (a crash, a kill, a restart): the sweep processes it again, and quarantines one
# whose processing was already started this many times (it may be what kills the process).
STALE_RECEIVED = timedelta(minutes=10)
MAX_ATTEMPTS = 3


def stuck_received(now: datetime | None = None) -> QuerySet[RawMessage]:
    return RawMessage.objects.filter(state=RawState.RECEIVED, received_at__lt=(now or timezone.now()) - STALE_RECEIVED)


def sweep_received(now: datetime | None = None, *, limit: int = 200) -> int:
    """The periodic sweep (scheduler job "mail.sweep_received"): finish or quarantine the rows a
    crash left "received"; returns how many it handled. Each is processed by a task (a worker),
    so a message that crashes its process does not take the scheduler with it."""
    handled = 0
    for pk, attempts in stuck_received(now).order_by("id").values_list("pk", "attempts")[:limit]:
        handled += 1
        if attempts >= MAX_ATTEMPTS:
            RawMessage.objects.filter(pk=pk, state=RawState.RECEIVED).update(
                state=RawState.QUARANTINED,
                processed_at=timezone.now(),
                reason=f"Processing was started {attempts} times and never finished (the process stopped while "
                "processing it); held so that it does not stop the workers again. Retry to try once more.",
            )
            log.warning("mail %s quarantined by the sweep after %s unfinished attempts", pk, attempts)
        else:
            process_raw_task.enqueue(pk)
    return handled


@task()
def process_raw_task(raw_message_id: int) -> str:
    """Process a stored message that is still "received" (the sweep's task; safe to run twice)."""
    row = RawMessage.objects.filter(pk=raw_message_id).first()
    if row is None or row.state != RawState.RECEIVED:
        return "skipped"
    return str(process_raw(row).state)


def _process(
    row: RawMessage,
    *,
    retry: bool,
    raw: bytes | None = None,
    parsed: ParsedMail | None = None,
    known: Known | None = None,
) -> None:
    """Conclude, look up and file one message; its row is saved (inserted when new) in its final
    state. Runs in the caller's transaction."""
    limit = max_message_bytes()
    if row.size > limit:
        raise Quarantine(
            f"The message has {_megabytes(row.size)}, over the limit of {_megabytes(limit)} "
            "(SPORTELLO_MAIL_MAX_MESSAGE_MB); it was not processed"
        )
    if raw is None:
        with row.file.open("rb") as handle:
            raw = handle.read()
    if len(raw) < row.size:  # receive_oversized kept only the headers
        raise Quarantine(f"Only the headers of this {_megabytes(row.size)} message were stored")
    if parsed is None:
        parsed = parse_message(raw)
    if known is None:
        known = look_up(parsed, row=row)
    found = conclude(
        parsed,
        envelope_to=list(row.envelope_to or []),
        envelope_from=row.envelope_from or None,
        from_us=known.from_us,
    )
    sender = sender_of(parsed, found)
    row.sender = sender.email[:254]
    if sender.email != known.sender:  # a bounce without a sender of its own: its MTA's address
        # In place: the caller keeps this object (`_file` reads `wrote` from it).
        vars(known).update(vars(look_up(parsed, row=row, sender=sender.email)))
    row.content_sha256 = known.content_sha256

    original = _same_message(row, known)
    if original is not None:
        # The same message again with other bytes (delivered to two of our mailboxes, or re-sent
        # by a server with new trace headers): recorded, not ingested twice.
        _finish(
            row,
            RawState.DUPLICATE,
            ticket_id=original.ticket_id,
            entry_id=original.entry_id,
            reason=f"Same Message-ID and content as raw message {original.pk}",
            duplicate_of=original,
        )
        return
    plan = filing(found, sender.email)
    if plan.quarantine and not plan.retry_files:
        raise Quarantine(plan.quarantine)
    if plan.quarantine and not retry:
        # Machine mail for a closed ticket: held with its reason, linked to the ticket; a bounce
        # still marks the address.
        _mark_bounced(found)
        _finish(
            row,
            RawState.QUARANTINED,
            ticket_id=plan.follow_up_of.pk if plan.follow_up_of else None,
            entry_id=None,
            reason=plan.quarantine,
        )
        return
    if not retry and known.blocked:
        raise Quarantine(block_reason(sender.email, known.blocked))  # no ticket, no acknowledgement
    if not retry and row.source != "import":
        _check_rate(sender.email, known)

    inbound = build_inbound(parsed, found, sender, mailbox=row.mailbox, raw_message=row)
    inbound.stamp, inbound.owners = known.stamp, known.owners
    inbound.batched = _held_rows.get() is not None  # in a batch's first pass (`_file_together`)
    # No savepoint of intake's own: every caller runs this in a transaction (or savepoint) per
    # message that any error leaves whole, so a refused message rolls back with its row.
    result = ingest(inbound, savepoint=False)
    _mark_bounced(found)
    _finish(row, RawState.PROCESSED, ticket_id=result.ticket.pk, entry_id=result.entry.pk, reason="")
    # The caller (an import, the HTTP endpoint) shows the ticket: it is in hand, not read again.
    row.ticket, row.entry = result.ticket, result.entry


@dataclass
class Known:
    """What the database knows about a message, from `look_up`'s one query."""

    sender: str  # the sender address the look-up was made for
    content_sha256: str
    # The row these very bytes have already (None: first time, or not asked).
    same_bytes: RawMessage | None = None
    # Processed messages with its Message-ID and sender whose content is the same, or not hashed
    # yet (rows from before the content hash), oldest first.
    redeliveries: list[RawMessage] = field(default_factory=list)
    # Messages from the sender processed within the rate window.
    recent: int = 0
    # The From address is one of our mailboxes or the default sender (None: no From at all).
    from_us: bool | None = None
    # The block-list entry (address or domain) the sender falls under, if any.
    blocked: str | None = None
    # The version of the cached lookups (core/lookups.py; None: its row is not made yet), and the
    # sender's (kind, value) pairs with every identity of their owners: intake reads neither again.
    stamp: int | None = None
    owners: tuple[list[tuple[str, str]], list[Identity]] | None = None
    # Processing wrote a row already (a redelivery candidate's content hash, `_same_message`).
    wrote: bool = False


def look_up(parsed: ParsedMail, *, row: RawMessage, sender: str | None = None) -> Known:
    """Every look-up of a message in one statement (a UNION ALL of small indexed reads): the row
    of the same bytes (unless `row` is stored already), redeliveries of the same message, the
    sender's recent count for the rate limit, whether the From address is one of ours, the block
    list, the version of the cached lookups, and the identities of the sender's customer (with
    it) for intake (`Known.stamp`, `Known.owners`)."""
    if sender is None:
        written_by = _written_by(parsed)
        sender = written_by.email if written_by is not None else ""
    known = Known(sender=sender, content_sha256=content_hash(parsed))
    held = _held_rows.get() or []
    if held and row.pk is None:
        message_ids = {parsed.message_id[:500], clean(parsed.message_id[:500])}
        if any(r.sha256 == row.sha256 or (r.message_id in message_ids and r.sender == sender[:254]) for r in held):
            write_held_rows()  # the same bytes or the same message, filed earlier in the batch
            held = []
    quote = connection.ops.quote_name
    raw_table = quote(RawMessage._meta.db_table)
    pairs = Sender(email=sender).identities() if sender else []
    owner_columns, nulls, owners_clause, owners_params = owners_query(pairs) if pairs else ([], [], "", [])
    # The owners' identities need columns of their own: the other parts fill them with NULLs.
    pad = "".join(f", {null}" for null in nulls)
    # SQLite would read the rows by the (state, received_at) index, every processed message of the
    # window (or of all time) for each one received, unless told the state is no way in.
    state = "+state" if connection.vendor == "sqlite" else "state"
    parts: list[str] = []
    params: list[Any] = []
    columns = f"id, state, content_sha256, ticket_id, entry_id{pad}"
    if row.pk is None:
        parts.append(f"SELECT 0 AS part, {columns} FROM {raw_table} WHERE sha256 = %s")
        params.append(row.sha256)
    if parsed.message_id and sender:
        parts.append(
            f"SELECT 1 AS part, {columns} FROM {raw_table} WHERE message_id = %s AND sender = %s "
            f"AND {state} = %s AND content_sha256 IN (%s, '') AND id <> %s"
        )
        params += [parsed.message_id[:500], sender[:254], RawState.PROCESSED, known.content_sha256, row.pk or 0]
    if sender:
        since = timezone.now() - timedelta(seconds=int(settings.MAIL_RATE_WINDOW))
        parts.append(
            f"SELECT 2 AS part, COUNT(*), NULL, NULL, NULL, NULL{pad} FROM {raw_table} "
            f"WHERE sender = %s AND received_at >= %s AND {state} = %s AND id <> %s"
        )
        params += [sender[:254], connection.ops.adapt_datetimefield_value(since), RawState.PROCESSED, row.pk or 0]
        # The batch's rows not inserted yet count too.
        known.recent = sum(
            1 for r in held if r.sender == sender[:254] and r.state == RawState.PROCESSED and r.received_at >= since
        )
    author = parsed.from_.address.lower() if parsed.from_ is not None else ""
    if author:
        mailbox_table = quote(Mailbox._meta.db_table)
        parts.append(
            f"SELECT 3 AS part, COUNT(*), NULL, NULL, NULL, NULL{pad} FROM {mailbox_table} WHERE LOWER(address) = %s"
        )
        params.append(author)
    if sender:  # the block list: the address itself, or its domain
        blocked_table = quote(BlockedSender._meta.db_table)
        parts.append(f"SELECT 4 AS part, id, value, NULL, NULL, NULL{pad} FROM {blocked_table} WHERE value IN (%s, %s)")
        params += [sender.lower(), sender.lower().rpartition("@")[2]]
    counters = quote(Counter._meta.db_table)
    parts.append(f"SELECT 5 AS part, value, NULL, NULL, NULL, NULL{pad} FROM {counters} WHERE name = %s")
    params.append(lookups.STAMP)
    if pairs:
        parts.append(f"SELECT 6 AS part, NULL, NULL, NULL, NULL, NULL, {', '.join(owner_columns)} {owners_clause}")
        params += owners_params
    with bound_cursor() as cursor:  # prepared: its text is one of a few
        cursor.execute(" UNION ALL ".join(parts), params)
        results = cursor.fetchall()
    owners = []
    for part, pk, state, content, ticket_id, entry_id, *owner in results:
        if part == 6:
            owners.append(owner)
        elif part == 5:
            known.stamp = None if pk is None else int(pk)
        elif part in (0, 1):
            found = RawMessage(
                pk=pk,
                sha256=row.sha256 if part == 0 else "",
                state=state,
                content_sha256=content,
                ticket_id=ticket_id,
                entry_id=entry_id,
            )
            if part == 0:
                known.same_bytes = RawMessage.objects.get(pk=pk)  # the row returned: read whole
            else:
                known.redeliveries.append(found)
        elif part == 2:
            known.recent += pk
        elif part == 3:
            known.from_us = pk > 0  # a mailbox's address; the other addresses of ours below
        elif part == 4 and (known.blocked is None or state == sender.lower()):
            known.blocked = state  # the matching entry; the address's own wins over its domain's
    if author and not known.from_us:
        known.from_us = author in own_addresses(known.stamp)
    known.redeliveries.sort(key=lambda r: r.pk)
    if pairs:
        identities = owners_of(owners)
        identities.sort(key=lambda identity: (identity.kind, identity.pk))  # as find_or_create_customer reads them
        known.owners = (pairs, identities)
    return known


# The statement of `look_up_together` answers for this many messages at most (its parameters:
# eight or so a message).
LOOK_UP_TOGETHER = 100


def look_up_together(arrivals: Sequence[_Arrival]) -> list[Known | None]:
    """`look_up` for each of a batch's messages, read together before the first is filed: one
    statement per `LOOK_UP_TOGETHER` messages instead of one each (~0.5 ms of this process's CPU
    and ~0.2 ms of the server's a message, measured on PostgreSQL). None for a message not parsed.

    The answers are what `look_up` reads before any of the batch is filed; `_Ahead.take` hands
    one out only while no message filed before it in the batch could have changed it."""
    found: list[Known | None] = []
    for first in range(0, len(arrivals), LOOK_UP_TOGETHER):
        found += _look_up_chunk(arrivals[first : first + LOOK_UP_TOGETHER])
    return found


def _look_up_chunk(arrivals: Sequence[_Arrival]) -> list[Known | None]:
    """`look_up_together`'s statement for a few messages: `look_up`'s parts, each for all of them
    (an IN list), the rows naming what they answer for (`key`, `key2`)."""
    knowns: list[Known | None] = []
    authors: dict[int, str] = {}
    for index, arrival in enumerate(arrivals):
        parsed = arrival.parsed
        if parsed is None:
            knowns.append(None)
            continue
        written_by = _written_by(parsed)
        knowns.append(
            Known(sender=written_by.email if written_by is not None else "", content_sha256=content_hash(parsed))
        )
        if parsed.from_ is not None and parsed.from_.address:
            authors[index] = parsed.from_.address.lower()
    mails = [(arrival, known) for arrival, known in zip(arrivals, knowns, strict=True) if known is not None]
    if not mails:
        return knowns
    senders = list(dict.fromkeys(known.sender for _arrival, known in mails if known.sender))
    pairs_of = {sender: Sender(email=sender).identities() for sender in senders}
    pairs = list(dict.fromkeys(pair for sender_pairs in pairs_of.values() for pair in sender_pairs))
    owner_columns, nulls, owners_clause, owners_params = owners_query(pairs) if pairs else ([], [], "", [])
    pad = "".join(f", {null}" for null in nulls)
    quote = connection.ops.quote_name
    raw_table = quote(RawMessage._meta.db_table)
    state = "+state" if connection.vendor == "sqlite" else "state"  # see look_up

    def some(values: Sequence[object]) -> str:
        return ", ".join(["%s"] * len(values))

    # Every part has the same columns: part, key, key2, number, content, ticket_id, entry_id, and
    # the owners' identities; typed NULLs, as PostgreSQL types a UNION's columns pairwise.
    text, number = "CAST(NULL AS text)", "CAST(NULL AS bigint)"
    parts: list[str] = []
    params: list[Any] = []
    digests = list(dict.fromkeys(arrival.row.sha256 for arrival, _known in mails))
    parts.append(
        f"SELECT 0 AS part, sha256, {text}, id, {text}, {number}, {number}{pad} FROM {raw_table} "
        f"WHERE sha256 IN ({some(digests)})"
    )
    params += digests
    message_ids = list(
        dict.fromkeys(a.parsed.message_id[:500] for a, k in mails if a.parsed and a.parsed.message_id and k.sender)
    )
    if message_ids:
        parts.append(
            f"SELECT 1, message_id, sender, id, content_sha256, ticket_id, entry_id{pad} FROM {raw_table} "
            f"WHERE message_id IN ({some(message_ids)}) AND {state} = %s"
        )
        params += [*message_ids, RawState.PROCESSED]
    since = timezone.now() - timedelta(seconds=int(settings.MAIL_RATE_WINDOW))
    if senders:
        cut = list(dict.fromkeys(sender[:254] for sender in senders))
        parts.append(
            f"SELECT 2, sender, {text}, COUNT(*), {text}, {number}, {number}{pad} FROM {raw_table} "
            f"WHERE sender IN ({some(cut)}) AND received_at >= %s AND {state} = %s GROUP BY sender"
        )
        params += [*cut, connection.ops.adapt_datetimefield_value(since), RawState.PROCESSED]
        blockable = list(dict.fromkeys(v for s in senders for v in (s.lower(), s.lower().rpartition("@")[2])))
        parts.append(
            f"SELECT 4, value, {text}, id, {text}, {number}, {number}{pad} FROM {quote(BlockedSender._meta.db_table)} "
            f"WHERE value IN ({some(blockable)})"
        )
        params += blockable
    if authors:
        wanted = list(dict.fromkeys(authors.values()))
        parts.append(
            f"SELECT 3, LOWER(address), {text}, id, {text}, {number}, {number}{pad} "
            f"FROM {quote(Mailbox._meta.db_table)} WHERE LOWER(address) IN ({some(wanted)})"
        )
        params += wanted
    parts.append(
        f"SELECT 5, {text}, {text}, value, {text}, {number}, {number}{pad} FROM {quote(Counter._meta.db_table)} "
        "WHERE name = %s"
    )
    params.append(lookups.STAMP)
    if pairs:
        heading = f"SELECT 6, {text}, {text}, {number}, {text}, {number}, {number}"
        parts.append(f"{heading}, {', '.join(owner_columns)} {owners_clause}")
        params += owners_params
    with bound_cursor() as cursor:
        cursor.execute(" UNION ALL ".join(parts), params)
        results = cursor.fetchall()

    same_bytes: dict[str, int] = {}
    redeliveries: dict[tuple[str, str], list[tuple[RawMessage, str]]] = {}
    recent: dict[str, int] = {}
    ours: set[str] = set()
    blocked: set[str] = set()
    stamp: int | None = None
    owner_rows: list[tuple[Any, ...]] = []
    for part, key, key2, value, content, ticket_id, entry_id, *owner in results:
        if part == 0:
            same_bytes[key] = value
        elif part == 1:
            found = RawMessage(
                pk=value, state=RawState.PROCESSED, content_sha256=content, ticket_id=ticket_id, entry_id=entry_id
            )
            redeliveries.setdefault((key, key2), []).append((found, content))
        elif part == 2:
            recent[key] = value
        elif part == 3:
            ours.add(key)
        elif part == 4:
            blocked.add(key)
        elif part == 5:
            stamp = None if value is None else int(value)
        else:
            owner_rows.append(tuple(owner))
    kind_at, value_at, customer_at = _identity_positions()
    owned_by: dict[tuple[str, str], set[int]] = {}
    rows_of: dict[int, list[tuple[Any, ...]]] = {}  # a customer's identities
    for owner in owner_rows:
        owned_by.setdefault((owner[kind_at], owner[value_at]), set()).add(owner[customer_at])
        rows_of.setdefault(owner[customer_at], []).append(owner)
    own = None
    for index, known in enumerate(knowns):
        if known is None:
            continue
        arrival, sender = arrivals[index], known.sender
        known.stamp = stamp
        if arrival.row.sha256 in same_bytes:
            known.same_bytes = RawMessage.objects.get(pk=same_bytes[arrival.row.sha256])  # read whole
        author = authors.get(index, "")
        if author:
            if author in ours:
                known.from_us = True
            else:
                own = own_addresses(stamp) if own is None else own
                known.from_us = author in own
        if not sender:
            continue
        message_id = arrival.parsed.message_id[:500] if arrival.parsed else ""
        if message_id:
            known.redeliveries = sorted(
                (
                    r
                    for r, content in redeliveries.get((message_id, sender[:254]), [])
                    if content in (known.content_sha256, "")
                ),
                key=lambda r: r.pk,
            )
        known.recent = recent.get(sender[:254], 0)
        lower = sender.lower()
        if lower in blocked:
            known.blocked = lower  # the address's own entry wins over its domain's
        elif (domain := lower.rpartition("@")[2]) in blocked:
            known.blocked = domain
        sender_pairs = pairs_of[sender]
        customers = set().union(*(owned_by.get(pair, set()) for pair in sender_pairs))
        # New objects for each message, as its own look-up would give it.
        identities = owners_of([owner for customer in customers for owner in rows_of[customer]])
        identities.sort(key=lambda identity: (identity.kind, identity.pk))  # as look_up
        known.owners = (sender_pairs, identities)
    return knowns


@functools.cache
def _identity_positions() -> tuple[int, int, int]:
    """Where an identity's kind, value and customer stand among `owners_query`'s columns."""
    names = [f.attname for f in Identity._meta.concrete_fields]
    return names.index("kind"), names.index("value"), names.index("customer_id")


# Inside a batch's first pass (`_file_together`): its look-ups read ahead.
_ahead: ContextVar[_Ahead | None] = ContextVar("mail_ahead", default=None)


@dataclass
class _Ahead:
    """A batch's look-ups, read before its first message is filed (`look_up_together`), and the
    keys of the rows filed since: a message that shares one with a row filed before it in the
    batch (the same bytes, the same message again; a customer that wrote from another address:
    her name may be set now) is looked up at its turn instead, as it would be alone. A sender
    who wrote before in the batch takes the look-up read ahead with what their own rows changed
    in it (`_again`), as a look-up now would read it."""

    known: list[Known | None]
    digests: set[str] = field(default_factory=set)
    messages: set[tuple[str, str]] = field(default_factory=set)
    senders: set[str] = field(default_factory=set)
    customers: set[int] = field(default_factory=set)  # the authors of the entries filed
    # Of the rows filed anew: each sender's processed ones (the rate limit counts them), the
    # customer of each sender's last entry, and the senders whose entries each customer got.
    processed: dict[str, int] = field(default_factory=dict)
    authors: dict[str, Customer] = field(default_factory=dict)
    written_for: dict[int, set[str]] = field(default_factory=dict)
    unsure: set[str] = field(default_factory=set)  # looked up again always (a bounce marked them; no author)

    def take(self, index: int, arrival: _Arrival) -> Known | None:
        known = self.known[index]
        if known is None or arrival.parsed is None:
            return None
        sender = known.sender[:254]
        message_id = arrival.parsed.message_id[:500]
        if arrival.row.sha256 in self.digests or any(
            (m, sender) in self.messages for m in (message_id, clean(message_id))
        ):
            return None
        touched = known.owners is not None and any(
            identity.customer_id in self.customers for identity in known.owners[1]
        )
        if not (sender and sender in self.senders) and not touched:
            return known
        return self._again(known, sender, touched)

    def _again(self, known: Known, sender: str, touched: bool) -> Known | None:
        """`known` (read before the batch) for a sender whose rows or customer the batch changed
        since, as `look_up` would read it now: the rate limit's count with their rows processed
        since, and their customer (the one owning their one address) as their last entry left
        her, with her addresses. None, to look up again, where that is not known for sure: the
        customer got entries from another address too, or an entry of another sender touched
        one of the customers read ahead."""
        if not sender or sender in self.unsure or known.owners is None or len(known.owners[0]) != 1:
            return None
        owners = known.owners
        author = self.authors.get(sender)
        if author is not None:
            held = prefetch.held(author, "identities")
            if self.written_for.get(author.pk) != {sender} or held is None:
                return None
            customer = copy_of(author)
            identities = [copy_of(identity) for identity in held]
            for identity in identities:
                identity.customer = customer
            identities.sort(key=lambda identity: (identity.kind, identity.pk))  # as look_up
            owners = (owners[0], identities)
        elif touched:
            return None
        return replace(known, recent=known.recent + self.processed.get(sender, 0), owners=owners)

    def filed(self, row: RawMessage, *, new: bool = True) -> None:
        """`row` was filed (`new`: this message's own row; else the row of the same bytes, stored
        before)."""
        self.digests.add(row.sha256)
        self.messages.add((row.message_id, row.sender))
        if row.sender:
            self.senders.add(row.sender)
        if not new:
            return
        if row.sender and row.state == RawState.PROCESSED:
            self.processed[row.sender] = self.processed.get(row.sender, 0) + 1
        # Its entry, when filed now (a duplicate's is an earlier one: nothing changed).
        entry = row.entry if RawMessage.entry.is_cached(row) else None
        if entry is not None and entry.author_customer_id is not None:
            self.customers.add(entry.author_customer_id)
            if row.sender:
                self.written_for.setdefault(entry.author_customer_id, set()).add(row.sender)
                if Entry.author_customer.is_cached(entry):  # type: ignore[attr-defined]
                    self.authors[row.sender] = entry.author_customer  # type: ignore[assignment]
                else:
                    self.unsure.add(row.sender)


def _mark_bounced(found: Conclusions) -> None:
    bounce = found.bounce
    if bounce and bounce.permanent and bounce.recipient and found.threading.threaded_by == "bounce":
        # Only a bounce of mail we sent (matched by its Message-ID) may mark an address: a forged
        # bounce must not be able to cut a customer off.
        Identity.objects.filter(kind=IdentityKind.EMAIL, value=bounce.recipient.lower()).update(undeliverable=True)
        if (ahead := _ahead.get()) is not None:  # its identity, read ahead, changed: read it again
            ahead.senders.add(bounce.recipient.lower()[:254])
            ahead.unsure.add(bounce.recipient.lower()[:254])


def content_hash(parsed: ParsedMail) -> str:
    """SHA-256 of the bodies and the attachments (name, type, bytes): what a redelivery keeps
    while its trace headers (Received, Delivered-To, DKIM…) change."""
    digest = hashlib.sha256()
    for value in (parsed.full_text, parsed.html):
        data = value.encode("utf-8", "surrogatepass")
        digest.update(len(data).to_bytes(8, "big") + data)
    for part in parsed.attachments:
        for data in (part.filename.encode("utf-8", "surrogatepass"), part.content_type.encode(), part.content):
            digest.update(len(data).to_bytes(8, "big") + data)
    return digest.hexdigest()


def _same_message(row: RawMessage, known: Known) -> RawMessage | None:
    """The processed message this one is a redelivery of: same Message-ID, sender and content.

    The same Message-ID with other content is another message (a broken or reused id) and is
    ingested: nothing is dropped on the strength of a header. Rows from before the content hash
    existed get theirs from their stored file the first time they are compared.
    """
    for candidate in known.redeliveries[:20]:
        if not candidate.content_sha256:
            candidate = RawMessage.objects.get(pk=candidate.pk)
            try:
                with candidate.file.open("rb") as handle:
                    candidate.content_sha256 = content_hash(parse_message(handle.read()))
            except Exception:
                log.warning("mail %s: its stored file could not be read again", candidate.pk, exc_info=True)
                continue
            RawMessage.objects.filter(pk=candidate.pk).update(content_sha256=candidate.content_sha256)
            known.wrote = True
        if candidate.content_sha256 == row.content_sha256:
            return candidate
    return None


def _finish(
    row: RawMessage,
    state: str,
    *,
    ticket_id: int | None,
    entry_id: int | None,
    reason: str,
    duplicate_of: RawMessage | None = None,
) -> None:
    """The row in its final state: updated when stored already, else inserted (one statement)."""
    if row.pk is None:
        row.attempts = 1
    row.state = state
    row.ticket_id = ticket_id
    row.entry_id = entry_id
    row.reason = reason
    row.duplicate_of = duplicate_of
    row.processed_at = timezone.now()
    if row.pk is not None:
        row.save()
    elif (held := _held_rows.get()) is not None:
        held.append(row)  # inserted with the batch's others (`_rows_together`)
    else:
        insert_row(row)


def _check_rate(address: str, known: Known) -> None:
    limit = int(settings.MAIL_RATE_LIMIT)
    window = int(settings.MAIL_RATE_WINDOW)
    if known.recent >= limit:
        raise Quarantine(
            f"Rate limit: {limit} messages from {address} in the last {window // 60} minutes; "
            "a mail loop is likely (retry lets this one through)"
        )


def _written_by(parsed: ParsedMail) -> Sender | None:
    """The first usable address of From, Sender, Reply-To."""
    for candidate in [parsed.from_, parsed.sender, *parsed.reply_to]:
        if candidate is None:
            continue
        try:
            return Sender(name=candidate.name[:200], email=normalize(IdentityKind.EMAIL, candidate.address))
        except ValidationError:
            continue
    return None


def sender_of(parsed: ParsedMail, found: Conclusions) -> Sender:
    """Who wrote: From, else Sender, else Reply-To; a bounce without one is from its MTA."""
    written_by = _written_by(parsed)
    if written_by is not None:
        return written_by
    if found.bounce is not None and "@" in parsed.message_id:
        host = parsed.message_id.strip("<>").rpartition("@")[2]
        try:
            return Sender(name="Mail Delivery System", email=normalize(IdentityKind.EMAIL, f"mailer-daemon@{host}"))
        except ValidationError:
            pass
    raise Quarantine("The message has no usable sender address (From, Sender, Reply-To)")


def build_inbound(
    parsed: ParsedMail,
    found: Conclusions,
    sender: Sender,
    *,
    mailbox: Mailbox | None = None,
    raw_message: RawMessage | None = None,
) -> Inbound:
    limit = settings.MAX_ATTACHMENT_BYTES
    attachments = [
        AttachmentIn(
            filename=p.filename,
            content=p.content,
            content_type=p.content_type,
            inline=p.inline,
            content_id=p.content_id,
        )
        for p in parsed.attachments
        if p.size <= limit
    ]
    omitted = [{"filename": p.filename, "size": p.size} for p in parsed.attachments if p.size > limit]
    body_text = parsed.full_text
    if not body_text.strip() and not parsed.html.strip() and not attachments:
        body_text = "(empty message)"
    metadata: dict[str, Any] = {
        "message_id": parsed.message_id,
        "in_reply_to": parsed.in_reply_to,
        "references": parsed.references[-20:],
        "from": {"address": sender.email, "name": sender.name},
        "to": [a.address.lower() for a in parsed.to],
        "cc": [a.address.lower() for a in parsed.cc],
        "reply_to": [a.address.lower() for a in parsed.reply_to],
        "visible_text": parsed.visible_text,
        "flags": found.flags(),
        "threaded_by": found.threading.threaded_by,
        "threading_detail": found.threading.detail,
    }
    if raw_message is not None:
        metadata["raw_message"] = raw_message.pk
    if mailbox is not None:
        metadata["mailbox"] = mailbox.address
    if omitted:
        metadata["omitted_attachments"] = omitted
    if parsed.defects:
        metadata["defects"] = parsed.defects[:10]
    return Inbound(
        channel=Channel.EMAIL,
        sender=sender,
        subject=parsed.subject,
        body_text=body_text,
        body_html=parsed.html,
        attachments=attachments,
        ticket=found.threading.ticket,
        metadata=metadata,
        received_at=received_at(parsed.date, historical=raw_message is not None and raw_message.source == "import"),
        group=mailbox.group if mailbox is not None else None,
        acknowledge=not found.automatic,
        # Machine mail on a ticket (a bounce, an out-of-office) is a note for the agents: it neither
        # reopens the ticket nor starts an SLA clock (those count public messages), nor shows to the customer.
        internal=found.machine and found.threading.ticket is not None,
    )


def received_at(date: datetime | None, *, historical: bool = False) -> datetime:
    """The Date header when it is sane, else now.

    Live mail may say it was written at most a week ago (clocks are wrong, queues are slow, but
    a thread must not be reordered by a sender's clock); imported mail keeps any past date.
    Nothing is ever dated in the future.
    """
    now = timezone.now()
    if date is None:
        return now
    earliest = datetime(1980, 1, 1, tzinfo=date.tzinfo) if historical else now - timedelta(days=7)
    if date < earliest or date > now:
        return now
    return date
