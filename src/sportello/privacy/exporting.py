"""Everything Sportello holds about one customer, as one zip archive (GDPR art. 15 and 20).

The archive holds JSON files and the files themselves, with a README that says what each is:

- `customer.json`: the customer file (name, language, notes, custom fields, organization), its
  addresses (identities), agents' notes on the file and its change history, the portal account;
- `tickets/<number>/ticket.json`: each of their tickets with its public thread (messages and
  calls, both ways); internal notes between agents are left out (docs/privacy.md says why), and
  `tickets/<number>/attachments/…` the files of those entries, byte for byte;
- `entries_elsewhere.json`: what they wrote on tickets that are not theirs (an organization's);
- `csat.json`, `chat.json` (each live chat with its transcript), `social.json` (conversations on
  messaging platforms and what the platforms sent), `phone.json` (calls and their events);
- `forum.json`: their posts in the community forum (with held and hidden ones), follows and votes;
  `forum/<id>-<name>`: the pictures they put into posts;
- `mail/<id>.eml`: every raw mail they sent us, as it arrived, with `mail/index.json`.

Agents download it at once from the customer page (`write_archive`); a customer asks in the portal
(`request_export`), a task builds it (`build_export`) and a mail brings a signed link that only
they, signed in, may follow for EXPORT_DAYS.
"""

from __future__ import annotations

import json
import logging
import secrets
import tempfile
import zipfile
from datetime import timedelta
from typing import IO, Any

from django.conf import settings
from django.core import signing
from django.core.files import File
from django.core.serializers.json import DjangoJSONEncoder
from django.db import transaction
from django.db.models import Q
from django.urls import reverse
from django.utils import timezone
from django_tasks import task

from sportello.accounts.models import User
from sportello.audit import services as audit
from sportello.core import outbox
from sportello.core.errors import Conflict
from sportello.core.models import OutboxMessage
from sportello.customers.models import Customer, IdentityKind
from sportello.privacy.models import DataExport, ExportState

log = logging.getLogger("sportello.privacy")

EXPORTED = "privacy.exported"
EXPORT_REQUESTED = "privacy.export_requested"
EXPORT_READY_MAIL = "privacy.export_ready"
# How long a mailed link (and the archive behind it) lasts.
EXPORT_DAYS = 7
LINK_SALT = "sportello.privacy.export"

README = """Your personal data at {site}
=================================

Exported {when} for customer file #{customer_id}.

customer.json            Your customer file: name, language, notes, custom fields, organization,
                         your addresses (email, phone, social handles), notes our agents wrote on
                         your file, the history of changes to it, and your portal account.
tickets/<n>/ticket.json  Each of your requests with its public conversation: your messages, our
                         replies and phone calls. Internal notes our agents exchanged are not
                         included.
tickets/<n>/attachments/ The files sent with those messages, exactly as stored.
entries_elsewhere.json   What you wrote on requests that are not yours (your organization's).
csat.json                Your satisfaction ratings and comments.
chat.json                Your live chats, each with its transcript.
social.json              Your conversations on messaging platforms and what they sent us.
phone.json               Your phone calls with us.
forum.json               Your posts in our community forum, the topics you follow, your votes.
forum/                   The pictures you put into forum posts.
mail/                    Every email you sent us, exactly as it arrived (.eml), and index.json.

All times are in UTC (ISO 8601).
"""


# --- Collecting -----------------------------------------------------------------------------------------


def _emails(customer: Customer) -> list[str]:
    return [i.value for i in customer.identities.all() if i.kind == IdentityKind.EMAIL]


def _author(entry: Any, customer: Customer) -> str:
    if entry.author_customer_id == customer.pk:
        return "you"
    if entry.author_user_id:
        return str(entry.author_user.first_name or entry.author_user.username)
    if entry.author_customer_id:
        return str(entry.author_customer.name or "another customer")
    return "system"


def _entry(entry: Any, customer: Customer, files: list[dict[str, Any]]) -> dict[str, Any]:
    row: dict[str, Any] = {
        "id": entry.pk,
        "created_at": entry.created_at,
        "kind": entry.kind,
        "channel": entry.channel,
        "direction": entry.direction,
        "author": _author(entry, customer),
        "body_text": entry.body_text,
        "body_html": entry.body_html,
        "attachments": files,
    }
    if entry.kind == "call":
        row["call"] = {k: v for k, v in entry.metadata.items() if k in {"duration_seconds", "direction", "outcome"}}
    return row


def customer_document(customer: Customer) -> dict[str, Any]:
    from sportello.customers.models import CustomerChange

    organization = customer.organization
    user: User | None = customer.user
    return {
        "id": customer.pk,
        "name": customer.name,
        "language": customer.language,
        "notes": customer.notes,
        "custom_fields": customer.custom_fields,
        "created_at": customer.created_at,
        "organization": (
            {"name": organization.name, "domain": organization.domain, "custom_fields": organization.custom_fields}
            if organization is not None
            else None
        ),
        "identities": [
            {
                "kind": i.kind,
                "value": i.value,
                "verified": i.verified,
                "undeliverable": i.undeliverable,
                "created_at": i.created_at,
            }
            for i in customer.identities.all()
        ],
        "agent_notes": [
            {"created_at": n.created_at, "body": n.body} for n in customer.agent_notes.all().order_by("created_at")
        ],
        "history": [
            {"at": c.created_at, "field": c.field, "old": c.old_value, "new": c.new_value}
            for c in CustomerChange.objects.filter(customer=customer).order_by("created_at", "id")
        ],
        "portal_account": (
            {
                "username": user.username,
                "email": user.email,
                "first_name": user.first_name,
                "last_name": user.last_name,
                "language": user.language,
                "active": user.is_active,
                "date_joined": user.date_joined,
                "last_login": user.last_login,
            }
            if user is not None
            else None
        ),
    }


def _dump(value: Any) -> bytes:
    return json.dumps(value, cls=DjangoJSONEncoder, indent=2, ensure_ascii=False).encode()


def _safe_name(name: str) -> str:
    cleaned = "".join(c if c.isalnum() or c in "._-" else "_" for c in name).strip("._")
    return cleaned[:120] or "file"


def _copy(storage_file: Any, archive: zipfile.ZipFile, name: str) -> bool:
    """Copy a stored file into the archive; False when it is missing from storage."""
    try:
        with storage_file.open("rb") as source, archive.open(name, "w") as target:
            while chunk := source.read(1 << 20):
                target.write(chunk)
    except (FileNotFoundError, OSError, ValueError):
        return False
    return True


def write_archive(customer: Customer, target: IO[bytes]) -> dict[str, int]:
    """Write the customer's archive into `target` (a binary file); return what it holds, counted."""
    from sportello.chat.models import Conversation as Chat
    from sportello.csat.models import Survey
    from sportello.forum.services import export_image_name, member_images
    from sportello.forum.services import member_document as forum_document
    from sportello.mail.models import RawMessage
    from sportello.phone.models import Call, CallEvent
    from sportello.social.models import Conversation as SocialConversation
    from sportello.social.models import InboundEvent
    from sportello.tickets.models import Attachment, Entry, Ticket

    counts = {"tickets": 0, "entries": 0, "attachments": 0, "mails": 0, "chats": 0, "surveys": 0, "calls": 0}
    tickets = list(
        Ticket.objects.filter(customer=customer).select_related("status").prefetch_related("tags").order_by("number")
    )
    public = (
        Entry.objects.filter(ticket__in=tickets, internal=False)
        .exclude(kind="note")
        .select_related("author_user", "author_customer")
        .order_by("created_at", "id")
    )
    by_ticket: dict[int, list[Any]] = {}
    for entry in public:
        by_ticket.setdefault(entry.ticket_id, []).append(entry)
    attachments: dict[int, list[Attachment]] = {}
    for item in Attachment.objects.filter(entry__in=[e for rows in by_ticket.values() for e in rows]).order_by("id"):
        attachments.setdefault(item.entry_id, []).append(item)
    with zipfile.ZipFile(target, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        now = timezone.now()
        readme = README.format(site=settings.SITE_URL, when=now.isoformat(timespec="seconds"), customer_id=customer.pk)
        archive.writestr("README.txt", readme)
        archive.writestr("customer.json", _dump(customer_document(customer)))
        for ticket in tickets:
            rows = []
            for entry in by_ticket.get(ticket.pk, []):
                files = []
                for item in attachments.get(entry.pk, []):
                    name = f"tickets/{ticket.number}/attachments/{item.pk}-{_safe_name(item.filename)}"
                    present = _copy(item.file, archive, name)
                    counts["attachments"] += present
                    files.append(
                        {
                            "filename": item.filename,
                            "content_type": item.content_type,
                            "size": item.size,
                            "path": name if present else None,
                        }
                    )
                rows.append(_entry(entry, customer, files))
                counts["entries"] += 1
            document = {
                "number": ticket.number,
                "subject": ticket.subject,
                "status": ticket.status.name,
                "channel": ticket.channel,
                "priority": ticket.get_priority_display(),
                "language": ticket.language,
                "tags": [tag.name for tag in ticket.tags.all()],
                "custom_fields": ticket.custom_fields,
                "created_at": ticket.created_at,
                "updated_at": ticket.updated_at,
                "solved_at": ticket.solved_at,
                "entries": rows,
            }
            archive.writestr(f"tickets/{ticket.number}/ticket.json", _dump(document))
            counts["tickets"] += 1
        elsewhere = (
            Entry.objects.filter(author_customer=customer, internal=False)
            .exclude(ticket__customer=customer)
            .select_related("ticket")
            .order_by("created_at", "id")
        )
        archive.writestr(
            "entries_elsewhere.json",
            _dump(
                [
                    {
                        "ticket": e.ticket.number,
                        "created_at": e.created_at,
                        "channel": e.channel,
                        "body_text": e.body_text,
                    }
                    for e in elsewhere
                ]
            ),
        )
        surveys = Survey.objects.filter(customer=customer).select_related("ticket").order_by("offered_at")
        archive.writestr(
            "csat.json",
            _dump(
                [
                    {
                        "ticket": s.ticket.number,
                        "offered_at": s.offered_at,
                        "mailed_to": s.mailed_to,
                        "rating": s.rating,
                        "comment": s.comment,
                        "source": s.source,
                        "answered_at": s.answered_at,
                    }
                    for s in surveys
                ]
            ),
        )
        counts["surveys"] = len(surveys)
        chats = []
        for chat in Chat.objects.filter(customer=customer).select_related("ticket", "channel").order_by("created_at"):
            lines = [
                {"at": e.created_at, "author": _author(e, customer), "text": e.body_text}
                for e in by_ticket.get(chat.ticket_id, [])
            ]
            chats.append(
                {
                    "ticket": chat.ticket.number,
                    "channel": chat.channel.name,
                    "state": chat.state,
                    "language": chat.language,
                    "created_at": chat.created_at,
                    "closed_at": chat.closed_at,
                    "transcript": lines,
                }
            )
        archive.writestr("chat.json", _dump(chats))
        counts["chats"] = len(chats)
        conversations = SocialConversation.objects.filter(customer=customer).select_related("account", "ticket")
        events = InboundEvent.objects.filter(entry__ticket__customer=customer, entry__internal=False).order_by("id")
        archive.writestr(
            "social.json",
            _dump(
                {
                    "conversations": [
                        {
                            "platform": c.account.kind,
                            "account": c.account.name,
                            "handle": c.handle,
                            "address": c.address,
                            "ticket": c.ticket.number if c.ticket else None,
                            "created_at": c.created_at,
                            "last_message_at": c.last_inbound_at,
                        }
                        for c in conversations
                    ],
                    "received": [{"received_at": e.received_at, "kind": e.kind, "payload": e.payload} for e in events],
                }
            ),
        )
        calls = list(Call.objects.filter(Q(customer=customer) | Q(ticket__customer=customer)).order_by("started_at"))
        call_events: dict[int, list[Any]] = {}
        for event in CallEvent.objects.filter(call__in=calls).order_by("id"):
            call_events.setdefault(event.call_id or 0, []).append(
                {"received_at": event.received_at, "payload": event.payload}
            )
        archive.writestr(
            "phone.json",
            _dump(
                [
                    {
                        "direction": c.direction,
                        "from": c.from_number,
                        "to": c.to_number,
                        "state": c.state,
                        "started_at": c.started_at,
                        "answered_at": c.answered_at,
                        "ended_at": c.ended_at,
                        "duration_seconds": c.duration,
                        "recording_url": c.recording_url,
                        "events": call_events.get(c.pk, []),
                    }
                    for c in calls
                ]
            ),
        )
        counts["calls"] = len(calls)
        senders = Q()
        for address in _emails(customer):
            senders |= Q(sender__iexact=address)
        mails = RawMessage.objects.filter(Q(entry__author_customer=customer) | senders).order_by("received_at", "id")
        index = []
        for raw in mails.distinct():
            name = f"mail/{raw.pk}.eml"
            present = _copy(raw.file, archive, name)
            counts["mails"] += present
            index.append(
                {
                    "file": name if present else None,
                    "received_at": raw.received_at,
                    "subject": raw.subject,
                    "sender": raw.sender,
                    "message_id": raw.message_id,
                }
            )
        archive.writestr("mail/index.json", _dump(index))
        forum = (
            forum_document(customer.user) if customer.user is not None else {"posts": [], "follows": [], "votes": []}
        )
        archive.writestr("forum.json", _dump(forum))
        counts["forum_posts"] = len(forum["posts"])
        for image in member_images(customer.user) if customer.user is not None else []:
            with image.file.open("rb") as stored:  # the pictures they put into posts, as uploaded
                archive.writestr(export_image_name(image), stored.read())
    return counts


# --- Agents: a download now ---------------------------------------------------------------------------


def export_customer(actor: User, customer: Customer) -> tuple[IO[bytes], str]:
    """The customer's archive as an open temporary file, and its file name; audited."""
    target = tempfile.TemporaryFile()  # noqa: SIM115 — handed to the response, which closes it
    counts = write_archive(customer, target)
    target.seek(0)
    audit.record(
        EXPORTED, target=customer, target_label=f"Customer #{customer.pk}", actor=actor, after={"by": "agent", **counts}
    )
    return target, f"personal-data-customer-{customer.pk}.zip"


# --- Customers: a request, a task, a mailed link -----------------------------------------------------


def request_export(user: User, customer: Customer) -> DataExport:
    """A portal customer asks for their data: one request at a time; the task runs after commit."""
    with transaction.atomic():
        Customer.objects.select_for_update().filter(pk=customer.pk).first()
        if DataExport.objects.filter(customer=customer, state=ExportState.PENDING).exists():
            raise Conflict("Your data is already being prepared; the link will come by email.")
        export = DataExport.objects.create(customer=customer, requested_by=user)
        audit.record(EXPORT_REQUESTED, target=export, target_label=f"Customer #{customer.pk}", actor=user)
        transaction.on_commit(lambda: build_export_task.enqueue(export.pk))
    return export


@task()
def build_export_task(export_id: int) -> str:
    return build_export(export_id)


def build_export(export_id: int) -> str:
    """Build a requested archive, store it, and write the mail with its link (idempotent)."""
    export = DataExport.objects.select_related("customer").filter(pk=export_id).first()
    if export is None or export.state != ExportState.PENDING:
        return "nothing to do"
    customer = export.customer
    with tempfile.TemporaryFile() as target:
        try:
            counts = write_archive(customer, target)
        except Exception as exc:
            log.exception("export %s failed", export_id)
            DataExport.objects.filter(pk=export_id).update(state=ExportState.FAILED, error=str(exc)[:1000])
            return "failed"
        target.seek(0)
        size = target.seek(0, 2)
        target.seek(0)
        name = f"{secrets.token_urlsafe(24)}.zip"  # unguessable, though the storage is not public anyway
        with transaction.atomic():
            export.file.save(name, File(target, name=name), save=False)
            now = timezone.now()
            export.state, export.size, export.ready_at = ExportState.READY, size, now
            export.expires_at = now + timedelta(days=EXPORT_DAYS)
            export.save(update_fields=["file", "state", "size", "ready_at", "expires_at"])
            audit.record(
                EXPORTED,
                target=customer,
                target_label=f"Customer #{customer.pk}",
                actor=export.requested_by,
                after={"by": "customer", "export": export.pk, **counts},
            )
            outbox.put(EXPORT_READY_MAIL, {"export": export.pk}, key=f"{EXPORT_READY_MAIL}:{export.pk}")
    return "ready"


def link_token(export: DataExport) -> str:
    return signing.dumps({"export": export.pk}, salt=LINK_SALT)


def export_from_token(token: str) -> int | None:
    """The export id a link names, if the link is ours and younger than EXPORT_DAYS."""
    try:
        value = signing.loads(token, salt=LINK_SALT, max_age=timedelta(days=EXPORT_DAYS))
    except signing.BadSignature:
        return None
    export_id = value.get("export") if isinstance(value, dict) else None
    return export_id if isinstance(export_id, int) else None


def download_url(export: DataExport) -> str:
    return settings.SITE_URL + reverse("privacy-download", kwargs={"token": link_token(export)})


def handle_export_ready_mail(message: OutboxMessage) -> None:
    """The outbox handler: the mail with the link, to the customer's first deliverable address."""
    from sportello.mail.outbound import recipient_for
    from sportello.privacy.mail import send_export_ready

    export = DataExport.objects.select_related("customer").filter(pk=message.payload.get("export")).first()
    if export is None or export.state != ExportState.READY:
        return
    to = recipient_for(export.customer)
    if to is None:
        log.info("export %s ready but customer %s has no deliverable address", export.pk, export.customer_id)
        return
    send_export_ready(export.customer, to=to, url=download_url(export), expires_at=export.expires_at)


def mark_downloaded(export: DataExport) -> None:
    DataExport.objects.filter(pk=export.pk, downloaded_at__isnull=True).update(downloaded_at=timezone.now())


def expire_exports(now: Any = None) -> int:
    """Delete the archives whose link expired; the rows stay, marked expired. Returns how many."""
    now = now or timezone.now()
    done = 0
    for export in DataExport.objects.filter(state=ExportState.READY, expires_at__lte=now):
        if export.file:
            export.file.delete(save=False)
        DataExport.objects.filter(pk=export.pk).update(state=ExportState.EXPIRED, file="")
        done += 1
    return done
