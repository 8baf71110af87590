"""The email channel's commands, each printing one JSON line per message or result.

sportello mail parse FILE…                      what each message parses to, nothing stored
sportello mail import PATH…                     ingest .eml files, folders, mbox files
sportello mail poll [--idle] [--mailbox NAME]   fetch from IMAP mailboxes (a loop; --once for one pass)
sportello mail listen --host H --port P [--lmtp]  the inbound SMTP/LMTP listener
sportello mail token MAILBOX                    create or rotate a mailbox's HTTP inbound token
"""

from __future__ import annotations

import json
import mailbox as mbox
import signal
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import DatabaseError

from sportello.mail.bounces import bounce_of
from sportello.mail.parse import ParsedMail, ParseError, parse_message
from sportello.mail.pipeline import Conclusions, conclude, filing, is_auto_reply, is_mailing_list, no_auto_response
from sportello.mail.services import receive_batch


class Command(BaseCommand):
    help = "Parse mail files without storing them, or import them as if they had been delivered."

    def add_arguments(self, parser: CommandParser) -> None:
        sub = parser.add_subparsers(dest="action", required=True)
        parse = sub.add_parser("parse", help="print what each message parses to and where it would be threaded")
        parse.add_argument("files", nargs="+")
        imp = sub.add_parser("import", help="ingest .eml files, folders of them, or mbox files")
        imp.add_argument("paths", nargs="+")
        poll = sub.add_parser("poll", help="fetch new mail from the IMAP mailboxes")
        poll.add_argument("--mailbox", help="only this mailbox (address or name)")
        poll.add_argument("--idle", action="store_true", help="keep connections open and wait in IMAP IDLE")
        poll.add_argument("--once", action="store_true", help="one pass over the mailboxes, then exit")
        poll.add_argument("--interval", type=float, default=None, help="seconds between polls without IDLE")
        listen = sub.add_parser("listen", help="the inbound SMTP (or LMTP) listener an MTA delivers to")
        listen.add_argument("--host", default="127.0.0.1")
        listen.add_argument("--port", type=int, default=2525)
        listen.add_argument("--lmtp", action="store_true", help="speak LMTP (RFC 2033) instead of SMTP")
        token = sub.add_parser("token", help="create or rotate the HTTP inbound token of a mailbox (shown once)")
        token.add_argument("mailbox", help="the mailbox's address")

    def handle(self, *args: Any, **options: Any) -> None:
        action = options["action"]
        if action == "poll":
            return self._poll(options)
        if action == "listen":
            return self._listen(options)
        if action == "token":
            return self._token(options["mailbox"])
        if action == "parse":
            for label, raw in messages_in(options["files"]):
                self._print(describe(label, raw))
        else:
            for batch in import_batches(messages_in(options["paths"])):
                rows = receive_batch([raw for _label, raw in batch], source="import")
                for (label, _raw), row in zip(batch, rows, strict=True):
                    self._print(
                        {
                            "file": label,
                            "raw_message": row.pk,
                            "state": row.state,
                            "ticket": row.ticket.number if row.ticket else None,
                            "entry": row.entry_id,
                            "reason": row.reason or None,
                        }
                    )

    def _print(self, value: dict[str, Any]) -> None:
        self.stdout.write(json.dumps(value, ensure_ascii=False, default=str))

    def _poll(self, options: dict[str, Any]) -> None:
        from django.conf import settings

        from sportello.mail import imap

        mailboxes = imap.imap_mailboxes(options["mailbox"])
        if not mailboxes:
            raise CommandError(
                "No active mailbox with IMAP settings" + (f" named {options['mailbox']}" if options["mailbox"] else "")
            )
        interval = options["interval"] or float(settings.MAIL_POLL_SECONDS)
        stop = _stop_on_signals()
        ids = [m.pk for m in mailboxes]
        if options["once"]:
            for result in imap.poll_mailboxes(ids):
                self._print(result.as_dict())
            return
        if options["idle"]:
            imap.watch_mailboxes(mailboxes, stop, interval=interval, on_result=lambda r: self._print(r.as_dict()))
            return
        while not stop.is_set():
            for result in imap.poll_mailboxes(ids):
                self._print(result.as_dict())
            stop.wait(interval)

    def _listen(self, options: dict[str, Any]) -> None:
        from sportello.mail.listener import make_listener

        listener = make_listener(options["host"], options["port"], lmtp=options["lmtp"])
        stop = _stop_on_signals()
        listener.start()
        kind = "LMTP" if options["lmtp"] else "SMTP"
        self.stderr.write(f"{kind} listener on {options['host']}:{options['port']}")
        try:
            stop.wait()
        finally:
            listener.stop()

    def _token(self, address: str) -> None:
        from sportello.mail.models import Mailbox
        from sportello.mail.services import rotate_inbound_token

        mailbox = Mailbox.objects.filter(address__iexact=address).first()
        if mailbox is None:
            raise CommandError(f"No mailbox {address}")
        self._print({"mailbox": mailbox.address, "token": rotate_inbound_token(mailbox)})


def _stop_on_signals() -> threading.Event:
    """An event set by SIGTERM or Ctrl-C, so loops end cleanly between messages."""
    stop = threading.Event()
    if threading.current_thread() is threading.main_thread():
        for number in (signal.SIGTERM, signal.SIGINT):
            signal.signal(number, lambda *_: stop.set())
    return stop


def messages_in(paths: list[str]) -> Iterator[tuple[str, bytes]]:
    """(label, raw bytes) for each message in files, folders (*.eml, recursively) and mbox files."""
    for name in paths:
        path = Path(name)
        if path.is_dir():
            for item in sorted(path.rglob("*.eml")):
                yield str(item), item.read_bytes()
        elif path.is_file():
            if _is_mbox(path):
                box = mbox.mbox(str(path), create=False)
                for index, key in enumerate(box.keys()):
                    yield f"{path}#{index + 1}", box.get_bytes(key)
            else:
                yield str(path), path.read_bytes()
        else:
            raise CommandError(f"No such file or folder: {name}")


# An import receives this many messages (or bytes) at once: one transaction and one fsync of
# the folder for them all (`receive_batch`), with a bounded amount of mail held in memory.
IMPORT_BATCH = 100
IMPORT_BATCH_BYTES = 64 * 1024 * 1024


def import_batches(messages: Iterator[tuple[str, bytes]]) -> Iterator[list[tuple[str, bytes]]]:
    batch: list[tuple[str, bytes]] = []
    size = 0
    for label, raw in messages:
        batch.append((label, raw))
        size += len(raw)
        if len(batch) >= IMPORT_BATCH or size >= IMPORT_BATCH_BYTES:
            yield batch
            batch, size = [], 0
    if batch:
        yield batch


def _is_mbox(path: Path) -> bool:
    with path.open("rb") as handle:
        return handle.read(5) == b"From " and path.suffix.lower() != ".eml"


def describe(label: str, raw: bytes) -> dict[str, Any]:
    try:
        parsed = parse_message(raw)
    except ParseError as exc:
        return {"file": label, "error": str(exc)}
    return {
        "file": label,
        "from": parsed.from_.as_dict() if parsed.from_ else None,
        "to": [a.as_dict() for a in parsed.to],
        "cc": [a.as_dict() for a in parsed.cc],
        "subject": parsed.subject,
        "date": parsed.date.isoformat() if parsed.date else None,
        "message_id": parsed.message_id,
        "text": parsed.full_text,
        "visible_text": parsed.visible_text,
        "html": _sanitized(parsed.html),
        "attachments": [
            {"filename": p.filename, "content_type": p.content_type, "size": p.size, "inline": p.inline}
            for p in parsed.attachments
        ],
        **_decisions(parsed),
    }


def _decisions(parsed: ParsedMail) -> dict[str, Any]:
    """The flags and where `mail import` would file the message (`pipeline.filing`, the function
    receiving uses): the ticket a merged ticket was merged into, a follow-up of a closed one.

    Threading needs the database; without one (not migrated, not reachable) the parse is still
    printed, with the flags that need none, and says threading could not be decided.
    """
    try:
        found = conclude(parsed)
        plan = filing(found, parsed.from_.address.lower() if parsed.from_ else "")
    except DatabaseError as exc:
        offline = Conclusions(
            auto_reply=is_auto_reply(parsed),
            mailing_list=is_mailing_list(parsed),
            bounce=bounce_of(parsed),
            no_auto_response=no_auto_response(parsed),
        )
        reason = " ".join(str(exc).split())[:300]
        return {
            "flags": {**offline.flags(), "from_us": None, "loop": None},
            "threading": {"decided": False, "reason": f"no database ({type(exc).__name__}: {reason})"},
        }
    named = found.threading.ticket
    return {
        "flags": found.flags(),
        "threading": {
            **found.threading.as_dict(),
            "decided": True,
            "ticket": plan.ticket.number if plan.ticket else None,
            "named": named.number if named else None,
            "follow_up_of": plan.follow_up_of.number if plan.follow_up_of else None,
            "quarantine": plan.quarantine or None,
        },
    }


def _sanitized(html: str) -> str:
    from sportello.core.html import sanitize_html

    return sanitize_html(html)
