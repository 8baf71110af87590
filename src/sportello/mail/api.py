"""The raw-MIME endpoint for mail providers' inbound webhooks: POST /api/v1/mail/inbound.

A provider posts one RFC 5322 message, either as the request body or as a file field of a
multipart form. The caller is a mailbox, not a person: it proves itself with the mailbox's own
inbound token (an admin creates or rotates it; only its hash is stored), sent as
`Authorization: Bearer spm_…` or as the password of HTTP basic authentication (for providers that
can only put credentials into the URL). An agent's personal API token is refused here.

202 means the message is stored (and, normally, already processed: see `state`); the provider
may forget it. Any 5xx means it was not stored and the provider should retry.
"""

from __future__ import annotations

import logging

from django.core.files.uploadedfile import UploadedFile
from django.http import HttpRequest
from ninja import Router, Schema
from ninja.errors import HttpError
from ninja.security import HttpBasicAuth, HttpBearer

from sportello.accounts.auth import errors
from sportello.mail.models import Mailbox, RawMessage
from sportello.mail.services import mailbox_for_token, max_message_bytes, receive_raw

log = logging.getLogger("sportello.mail")

router = Router(tags=["mail"])

# Room for the multipart envelope (boundaries, part headers, other small fields) around the file.
MULTIPART_OVERHEAD = 64 * 1024


class MailboxBearer(HttpBearer):
    def authenticate(self, request: HttpRequest, token: str) -> Mailbox | None:
        return mailbox_for_token(token)


class MailboxBasic(HttpBasicAuth):
    def authenticate(self, request: HttpRequest, username: str, password: str) -> Mailbox | None:
        return mailbox_for_token(password)


class InboundOut(Schema):
    raw_message: int
    state: str
    reason: str
    ticket: int | None

    @staticmethod
    def resolve_raw_message(obj: RawMessage) -> int:
        return obj.pk

    @staticmethod
    def resolve_ticket(obj: RawMessage) -> int | None:
        return obj.ticket.number if obj.ticket else None


RAW_BODY = {
    "requestBody": {
        "required": True,
        "content": {
            "message/rfc822": {"schema": {"type": "string", "format": "binary"}},
            "multipart/form-data": {
                "schema": {"type": "object", "properties": {"file": {"type": "string", "format": "binary"}}}
            },
        },
    }
}


@router.post(
    "/mail/inbound",
    auth=[MailboxBearer(), MailboxBasic()],
    response={202: InboundOut, **errors(400, 413, 503)},
    openapi_extra=RAW_BODY,
)
def receive_inbound_mail(request: HttpRequest) -> tuple[int, RawMessage]:
    """Store one raw RFC 5322 message for the mailbox whose token authenticates the call."""
    mailbox: Mailbox = request.auth  # type: ignore[attr-defined]
    raw = raw_message_from(request, max_message_bytes())
    try:
        row = receive_raw(raw, mailbox=mailbox, source="http")
    except Exception as exc:
        log.exception("storing a message posted for %s failed", mailbox.address)
        raise HttpError(503, "The message could not be stored; retry later") from exc
    return 202, row


def raw_message_from(request: HttpRequest, limit: int) -> bytes:
    """The posted message: the body itself, or the file of a multipart form; 413 past `limit`.

    The body is read from the stream here (not `request.body`), so the limit is ours and not
    Django's DATA_UPLOAD_MAX_MEMORY_SIZE, and no more than limit + 1 bytes are ever read.
    """
    try:
        length = int(request.META.get("CONTENT_LENGTH") or 0)
    except ValueError:
        length = 0
    multipart = request.content_type == "multipart/form-data"
    if length > limit + (MULTIPART_OVERHEAD if multipart else 0):
        raise HttpError(413, f"The message is larger than the limit of {limit} bytes")
    if multipart:
        files = request.FILES
        upload = files.get("file") or next((files[name] for name in files), None)
        if not isinstance(upload, UploadedFile):
            raise HttpError(400, "The multipart body has no file field: send the message as the field 'file'")
        if upload.size is not None and upload.size > limit:
            raise HttpError(413, f"The message is larger than the limit of {limit} bytes")
        raw = upload.read()
    else:
        raw = request.read(limit + 1)
    if len(raw) > limit:
        raise HttpError(413, f"The message is larger than the limit of {limit} bytes")
    if not raw.strip():
        raise HttpError(400, "The request body is empty: post the raw message")
    return raw
