"""The inbound SMTP/LMTP listener (aiosmtpd): an MTA delivers to it, `receive_raw` stores.

What the sending MTA is told, and why:
- RCPT: 550 for an address that is not one of our mailboxes (or a +tag form of one), so we are
  never an open relay and a typo bounces at once.
- DATA: 250 only once the message is stored (file and row committed); 451 when storing fails, so
  the MTA keeps the message and tries again later — nothing is dropped; 552 past the size limit
  (aiosmtpd's own check while reading, so a huge message is never held in memory whole).
- LMTP (RFC 2033) answers DATA once per accepted recipient; the message is stored once for all.

The database is only touched from a small thread pool: Django's ORM is synchronous and the
connection of a thread is its own.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TypeVar

from aiosmtpd.controller import Controller
from aiosmtpd.lmtp import LMTP
from aiosmtpd.smtp import SMTP, Envelope, Session
from django.db import close_old_connections, connections

from sportello.mail.services import accepts_address, mailbox_for_address, max_message_bytes, receive_raw

log = logging.getLogger("sportello.mail.listener")

T = TypeVar("T")


class Handler:
    def __init__(self, *, lmtp: bool = False, workers: int = 4) -> None:
        self.source = "lmtp" if lmtp else "smtp"
        self.lmtp = lmtp
        self.pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix=f"{self.source}-store")

    async def _in_pool(self, function: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        def call() -> T:
            # Give the connection back after each call: a pool thread that kept it would hold one
            # of PostgreSQL's pooled connections for good (and a listener restarted in-process leaks).
            close_old_connections()
            try:
                return function(*args, **kwargs)
            finally:
                connections.close_all()

        return await asyncio.get_running_loop().run_in_executor(self.pool, call)

    async def handle_RCPT(
        self, server: SMTP, session: Session, envelope: Envelope, address: str, rcpt_options: list[str]
    ) -> str:
        try:
            known = await self._in_pool(accepts_address, address)
        except Exception:
            log.exception("looking up recipient %s failed", address)
            return "451 4.3.0 Temporary failure looking up the recipient; try again later"
        if not known:
            return f"550 5.1.1 <{address}>: no such mailbox here"
        envelope.rcpt_tos.append(address)
        return "250 2.1.5 OK"

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        raw = envelope.original_content or b""
        recipients = list(envelope.rcpt_tos)
        try:
            # MAIL FROM:<> (bounces, automatic answers) arrives as "<>": kept, the pipeline reads it.
            row = await self._in_pool(self._store, raw, recipients, envelope.mail_from or "")
        except Exception:
            log.exception("storing a message from %s failed", envelope.mail_from)
            reply = "451 4.3.0 Temporary failure storing the message; try again later"
        else:
            reply = f"250 2.0.0 Stored as message {row.pk}"
        if self.lmtp:
            return "\r\n".join([reply] * len(recipients))
        return reply

    def _store(self, raw: bytes, recipients: list[str], mail_from: str = "") -> Any:
        mailbox = next((m for m in map(mailbox_for_address, recipients) if m is not None), None)
        return receive_raw(raw, mailbox=mailbox, source=self.source, envelope_to=recipients, envelope_from=mail_from)


class ListenerController(Controller):
    def __init__(self, handler: Handler, **kwargs: Any) -> None:
        self.lmtp = handler.lmtp
        super().__init__(handler, **kwargs)

    def factory(self) -> SMTP:
        server_class = LMTP if self.lmtp else SMTP
        return server_class(self.handler, **self.SMTP_kwargs)


def make_listener(host: str, port: int, *, lmtp: bool = False, max_bytes: int | None = None) -> ListenerController:
    """A listener ready to `start()` (in a thread of its own) and `stop()`."""
    return ListenerController(
        Handler(lmtp=lmtp),
        hostname=host,
        port=port,
        data_size_limit=max_bytes or max_message_bytes(),
        decode_data=False,
        # Mail with UTF-8 addresses and headers (RFC 6531) is accepted as it comes.
        enable_SMTPUTF8=True,
        ident="Sportello",
    )
