"""One path out for mail: one function per kind of mail, each built from a template trio.

Every message carries a Message-ID under our mail domain that names the ticket and entry, so
the inbound side recognises replies to it, and every mail about a ticket carries its `[#number]`
subject tag, whatever wording an admin gave the template. Agents' replies are delivered by a
task from their entry (mail/tasks.py); automatic mails (acknowledgements, rule mails, surveys,
chat transcripts, sign-in links) are written to the outbox in the transaction that causes them
and sent from there (core/outbox.py), each under a Message-ID derived from its outbox row, so a
mail resent after a crash is recognisably the same message.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable
from email.utils import formataddr, make_msgid
from html import escape

from django.conf import settings
from django.core.mail import EmailMultiAlternatives
from django.utils.encoding import iri_to_uri

from sportello.accounts.models import User
from sportello.core import outbox
from sportello.core.html import text_to_html
from sportello.core.models import OutboxMessage
from sportello.customers.models import Customer, Identity, IdentityKind
from sportello.mail.sender import brand_for_mail, branded_html, sender
from sportello.mail.templating import KB_SUGGESTIONS_HEADING, RenderedMail, render_mail
from sportello.tickets.models import Change, Channel, Direction, Entry, Ticket

log = logging.getLogger("sportello.mail")

# The most knowledge-base articles an acknowledgement lists.
ACK_SUGGESTIONS = 3


# Outbox kinds of automatic mail; mail/tasks.py registers their handlers.
ACKNOWLEDGEMENT = "mail.acknowledgement"
NOTIFICATION = "mail.notification"
SURVEY = "mail.survey"
TRANSCRIPT = "mail.transcript"
SIGN_IN_LINK = "mail.sign_in_link"


def schedule_acknowledgement(ticket_id: int) -> None:
    """Write the acknowledgement in the caller's transaction (the ticket's): one per ticket."""
    outbox.put(ACKNOWLEDGEMENT, {"ticket": ticket_id}, key=f"{ACKNOWLEDGEMENT}:{ticket_id}")


def schedule_notification(ticket: Ticket, *, to: list[str], subject: str, text: str, reason: str) -> None:
    """Write a trigger's or time rule's mail (send_notification) to the outbox."""
    payload = {"ticket": ticket.pk, "to": list(to), "subject": subject, "text": text, "reason": reason}
    outbox.put(NOTIFICATION, payload)


def schedule_delivery(entry_id: int) -> None:
    """Deliver the entry after commit (tickets/delivery.py picks its channel's adapter)."""
    from sportello.tickets.delivery import schedule_delivery as schedule

    schedule(entry_id)


def message_id_for(ticket: Ticket, entry_id: int | str) -> str:
    """<…sportello.{number}.{entry}.{mac}@domain>: the MAC lets inbound trust the number (addresses.py)."""
    from sportello.mail.addresses import ticket_mac

    return make_msgid(
        idstring=f"sportello.{ticket.number}.{entry_id}.{ticket_mac(ticket.number)}",
        domain=settings.SPORTELLO_MAIL_DOMAIN,
    )


def reply_message_id(entry: Entry) -> str:
    """The Message-ID of a reply: the same on every attempt, derived from the entry.

    A worker that dies after the SMTP server accepted the reply but before the entry was marked
    sent leaves it to the sweep (mail/tasks.py), which sends it again; under the same Message-ID
    the customer's mail client shows one message, and our inbound side takes a bounce or an answer
    to either copy for the same entry. The entry's creation time keeps ids apart across databases
    that reuse row numbers (a reset demo) under one mail domain.
    """
    from sportello.mail.addresses import ticket_mac

    number = entry.ticket.number
    stamp = int(entry.created_at.timestamp())
    return f"<{stamp}.sportello.{number}.{entry.pk}.{ticket_mac(number)}@{settings.SPORTELLO_MAIL_DOMAIN}>"


def loop_mark() -> str:
    """X-Loop on every automatic mail: a forwarder or another desk that sends it back to us is
    recognised as a loop (mail/pipeline.py's our_loop_mark) even when it drops Auto-Submitted."""
    from sportello.mail.addresses import base_address

    return base_address()


def _reply_to(ticket: Ticket) -> dict[str, str]:
    """Reply-To the signed address, so that a reply from any address finds the ticket."""
    from sportello.mail.addresses import reply_address

    return {"Reply-To": reply_address(ticket)}


def recipient_for(customer: Customer) -> str | None:
    """The customer's address for mail from us, or None when there is none or it bounced."""
    identity = (
        Identity.objects.filter(customer=customer, kind=IdentityKind.EMAIL, undeliverable=False).order_by("id").first()
    )
    return identity.value if identity else None


def outbox_message_id(message: OutboxMessage, label: str, ticket: Ticket | None = None) -> str:
    """The Message-ID of the mail sent for outbox row `message`: the same on every attempt.

    A resend after a worker died between the SMTP server's acceptance and marking the row done
    (core/outbox.py) is then recognisably the same message: mail clients and duplicate filters
    show one, and our inbound side takes it for a redelivery. The row's creation time keeps ids
    apart across databases that reuse row numbers (a reset demo) under one mail domain.
    """
    from sportello.mail.addresses import ticket_mac

    stamp = f"o{message.pk}-{int(message.created_at.timestamp())}"
    domain = settings.SPORTELLO_MAIL_DOMAIN
    if ticket is None:
        return f"<sportello.{label}.{stamp}@{domain}>"
    return f"<sportello.{ticket.number}.{label}-{stamp}.{ticket_mac(ticket.number)}@{domain}>"


def subject_for(ticket: Ticket) -> str:
    return f"[#{ticket.number}] {ticket.subject}"


def tagged_subject(subject: str, number: int) -> str:
    """`subject` with the `[#number]` tag the inbound side threads by (mail/pipeline.py), added in
    front unless it is there already (an admin's template may leave it out, or put it elsewhere)."""
    if re.search(rf"\[#{number}\]", subject):
        return subject
    return f"[#{number}] {subject}".strip()


def _wording(
    key: str, ticket: Ticket, agent: User | None = None, extra: dict[str, Callable[[], str]] | None = None
) -> RenderedMail:
    """The mail `key` about `ticket` in the customer's language (mail/templating.py)."""
    from sportello.automation.placeholders import context_for

    language = ticket.customer.language or ticket.language
    rendered = render_mail(key, language, {**context_for(ticket, agent), **(extra or {})})
    if rendered is None:  # every built-in key has English wording; only a typo gets here
        raise DeliveryError(f"No wording for the mail {key!r}")
    return rendered


def send_acknowledgement(ticket: Ticket, *, message_id: str | None = None) -> bool:
    """Tell the customer we have their request, with its reference number. False when not sent."""
    to = recipient_for(ticket.customer)
    if to is None:
        log.info("no acknowledgement for #%s: the customer has no deliverable email address", ticket.number)
        return False
    links = ack_suggestions(ticket)
    mail = _wording("acknowledgement", ticket, extra={"kb.suggestions": lambda: _suggestions_text(ticket, links)})
    subject, text, html = mail.subject, mail.text, _linked(mail.html, [url for _title, url in links])
    subject = tagged_subject(subject, ticket.number)
    brand = brand_for_mail()
    message = EmailMultiAlternatives(
        subject=subject, body=text, from_email=sender(ticket, brand=brand), to=[formataddr((ticket.customer.name, to))],
        headers={
            "Message-ID": message_id or message_id_for(ticket, "ack"),
            "Auto-Submitted": "auto-replied",  # RFC 3834: tells other robots not to answer
            "X-Loop": loop_mark(),
            **_reply_to(ticket),
            **_threading_headers(ticket),
        },
    )
    message.attach_alternative(branded_html(html, brand), "text/html")
    message.send()
    Change.objects.create(ticket=ticket, field="acknowledgement", new_value=to, note="Acknowledgement sent",
                          ticket_version=ticket.version)
    return True


def deliver_reply(entry: Entry) -> dict[str, object]:
    """Send an agent's public reply to the customer, Cc to the others on the thread (reply-all).

    Returns what the entry keeps: the Message-ID used and the addresses it went to.
    """
    if "forward" in entry.metadata:
        return deliver_forward(entry)
    ticket = entry.ticket
    chosen = entry.metadata.get("recipients") or {}
    to = recipient_for(ticket.customer)
    if to is None and not chosen.get("to"):
        raise DeliveryError("The customer has no deliverable email address")
    customer_addresses = Identity.objects.filter(customer=ticket.customer, kind=IdentityKind.EMAIL)
    to_header = [formataddr((ticket.customer.name, to))] if to else []
    sent_to = [to] if to else []
    if chosen.get("to"):  # the agent wrote the To line themselves
        to_header = sent_to = list(chosen["to"])
    brand = brand_for_mail()
    exclude = {*sent_to, *customer_addresses.values_list("value", flat=True)}
    if brand.support_address:  # our own address is no colleague of the customer's to copy
        exclude.add(brand.support_address.lower())
    cc = list(dict.fromkeys([*reply_all_cc(ticket, exclude=exclude), *chosen.get("cc", [])]))
    cc = [address for address in cc if address not in sent_to]
    bcc = [address for address in chosen.get("bcc", []) if address not in sent_to and address not in cc]
    message_id = entry.metadata.get("message_id") or reply_message_id(entry)
    # The reply's own HTML goes into the HTML part where the template names {{ reply.text }}.
    marker = "\ue000reply\ue000"
    framed = _wording("reply", ticket, entry.author_user, {"reply.text": lambda: marker})
    text = framed.text.replace(marker, entry.body_text)
    html = put_block(framed.html, marker, entry.body_html or text_to_html(entry.body_text))
    from_name = entry.author_user.display_name if entry.author_user else ""
    message = EmailMultiAlternatives(
        subject=subject_for(ticket), body=text,
        from_email=sender(ticket, person=from_name, brand=brand),
        to=to_header,
        cc=cc,
        bcc=bcc,
        headers={"Message-ID": message_id, **_reply_to(ticket), **_threading_headers(ticket)},
    )  # fmt: skip
    message.attach_alternative(branded_html(html, brand), "text/html")
    for attachment in entry.attachments.all():
        with attachment.file.open("rb") as handle:
            message.attach(attachment.filename, handle.read(), attachment.content_type)
    message.send()
    return {"message_id": message_id, "to": sent_to, "cc": cc, "bcc": bcc}


def put_block(html: str, marker: str, block: str) -> str:
    """`html` with `marker` replaced by the block-level HTML `block` (paragraphs of a reply).

    The wording's HTML wraps each paragraph of its text in <p>; the marker sits in one of them,
    alone or beside other lines. A <p> inside a <p> is not valid HTML (mail clients show empty
    paragraphs), so the marker's paragraph is split around the block instead.
    """

    def split(found: re.Match[str]) -> str:
        before, after = (re.sub(r"^(<br>)+|(<br>)+$", "", part) for part in (found.group(1), found.group(2)))
        return (f"<p>{before}</p>" if before else "") + block + (f"<p>{after}</p>" if after else "")

    replaced, count = re.subn(r"<p>((?:(?!</p>).)*?)" + re.escape(marker) + r"((?:(?!</p>).)*?)</p>", split, html,
                              flags=re.S)  # fmt: skip
    return replaced if count else html.replace(marker, block)


def deliver_forward(entry: Entry) -> dict[str, object]:
    """Send a forward: the agent's words, then the ticket's public conversation, with its files."""
    ticket = entry.ticket
    chosen = entry.metadata["forward"]
    thread = (
        Entry.objects.filter(ticket=ticket, internal=False, created_at__lte=entry.created_at)
        .select_related("author_user", "author_customer")
        .prefetch_related("attachments")
        .order_by("created_at", "id")
    )
    parts = [entry.body_text.strip(), "", f"---------- Forwarded conversation: [#{ticket.number}] {ticket.subject}"]
    html_parts = [text_to_html(entry.body_text), f"<p>---------- Forwarded conversation: [#{ticket.number}] "
                  f"{escape(ticket.subject)}</p>"]  # fmt: skip
    files = list(entry.attachments.all())
    for item in thread:
        heading = f"{item.author_name}, {item.created_at:%Y-%m-%d %H:%M} UTC"
        parts += ["", heading, item.body_text]
        html_parts.append(f"<blockquote><p><strong>{escape(heading)}</strong></p>"
                          f"{item.body_html or text_to_html(item.body_text)}</blockquote>")  # fmt: skip
        files += list(item.attachments.all())
    message_id = entry.metadata.get("message_id") or reply_message_id(entry)
    from_name = entry.author_user.display_name if entry.author_user else ""
    message = EmailMultiAlternatives(
        subject=f"Fwd: {subject_for(ticket)}", body="\n".join(parts), from_email=sender(ticket, person=from_name),
        to=chosen.get("to", []), cc=chosen.get("cc", []), bcc=chosen.get("bcc", []),
        headers={"Message-ID": message_id, **_reply_to(ticket)},
    )  # fmt: skip
    message.attach_alternative("".join(html_parts), "text/html")
    for attachment in files:
        with attachment.file.open("rb") as handle:
            message.attach(attachment.filename, handle.read(), attachment.content_type)
    message.send()
    return {"message_id": message_id, "to": chosen.get("to", []), "cc": chosen.get("cc", []),
            "bcc": chosen.get("bcc", [])}  # fmt: skip


def reply_all_cc(ticket: Ticket, *, exclude: set[str]) -> list[str]:
    """Who else was on the customer's latest mail (its sender, To and Cc), as a mail client's reply-all.

    Left out: our own addresses (mailboxes, signed reply addresses, our domain), the addresses in
    `exclude`, and addresses that bounced. Mail from machines (auto-replies, bounces, lists) is
    not a conversation to answer, so the latest mail from a person counts.
    """
    from sportello.mail.addresses import base_address, number_from_address
    from sportello.mail.models import Mailbox

    latest = None
    for metadata in (
        Entry.objects.filter(ticket=ticket, direction=Direction.INBOUND, channel=Channel.EMAIL, internal=False)
        .order_by("-created_at", "-id")
        .values_list("metadata", flat=True)[:20]
    ):
        flags = (metadata or {}).get("flags") or {}
        if not any(flags.get(name) for name in ("auto_reply", "mailing_list", "bounce", "from_us")):
            latest = metadata or {}
            break
    if latest is None:
        return []
    sender = (latest.get("from") or {}).get("address", "")
    candidates = [sender, *latest.get("to", []), *latest.get("cc", [])]
    ours = {base_address().lower(), *(a.lower() for a in Mailbox.objects.values_list("address", flat=True))}
    skip = {address.lower() for address in exclude} | ours
    domain = "@" + settings.SPORTELLO_MAIL_DOMAIN.lower()
    wanted = []
    for address in dict.fromkeys(str(a).strip().lower() for a in candidates if a):
        if "@" not in address or address in skip or address.endswith(domain) or number_from_address(address):
            continue
        wanted.append(address)
    bounced = set(
        Identity.objects.filter(kind=IdentityKind.EMAIL, value__in=wanted, undeliverable=True).values_list(
            "value", flat=True
        )
    )
    return [address for address in wanted if address not in bounced]


def _threading_headers(ticket: Ticket) -> dict[str, str]:
    """In-Reply-To/References pointing at the customer's messages, so mail clients thread them."""
    ids = [
        mid for mid in Entry.objects.filter(ticket=ticket, direction=Direction.INBOUND)
        .order_by("created_at", "id").values_list("metadata__message_id", flat=True) if mid
    ]
    if not ids:
        return {}
    return {"In-Reply-To": ids[-1], "References": " ".join(ids[-10:])}


class DeliveryError(Exception):
    pass


def send_notification(
    ticket: Ticket, *, to: list[str], subject: str, text: str, reason: str, message_id: str | None = None
) -> list[str]:
    """An automatic mail about a ticket (a trigger's or time rule's "send email"); returns who got it.

    Addresses that bounced are skipped. It is marked `Auto-Submitted: auto-generated` (RFC 3834) so
    that other robots do not answer, and it carries our Message-ID and Reply-To, so a reply to it
    threads onto the ticket.
    """
    bounced = set(
        Identity.objects.filter(kind=IdentityKind.EMAIL, value__in=to, undeliverable=True).values_list(
            "value", flat=True
        )
    )
    recipients = [address for address in dict.fromkeys(to) if address and address not in bounced]
    if not recipients:
        log.info("automatic mail on #%s not sent (%s): no deliverable address in %s", ticket.number, reason, to)
        return []
    message = EmailMultiAlternatives(
        subject=tagged_subject(subject, ticket.number), body=text, from_email=sender(ticket),
        to=recipients,
        headers={
            "Message-ID": message_id or message_id_for(ticket, "auto"),
            "Auto-Submitted": "auto-generated",
            "X-Loop": loop_mark(),
            **_reply_to(ticket),
            **_threading_headers(ticket),
        },
    )
    message.send()
    Change.objects.create(ticket=ticket, field="notification", new_value=", ".join(recipients), note=reason,
                          ticket_version=ticket.version)
    return recipients


def schedule_sign_in_link(customer: Customer, *, to: str, url: str, minutes: int) -> None:
    """Write the portal's sign-in link mail to the outbox; the link is erased from the row once sent."""
    outbox.put(SIGN_IN_LINK, {"customer": customer.pk, "to": to, "url": url, "minutes": minutes})


def send_sign_in_link(customer: Customer, *, to: str, url: str, minutes: int, message_id: str | None = None) -> None:
    """The customer portal's single-use sign-in link (portal/services.py makes and stores it)."""
    from django.template.loader import render_to_string
    from django.utils import translation

    context = {"customer": customer, "url": url, "minutes": minutes, "site_url": settings.SITE_URL}
    with translation.override(customer.language or settings.LANGUAGE_CODE):
        subject = " ".join(render_to_string("mail/sign_in_link_subject.txt", context).split())
        text = render_to_string("mail/sign_in_link_body.txt", context)
        html = render_to_string("mail/sign_in_link_body.html", context)
    brand = brand_for_mail()
    message = EmailMultiAlternatives(
        subject=subject, body=text, from_email=sender(brand=brand), to=[formataddr((customer.name, to))],
        headers={
            "Message-ID": message_id or make_msgid(idstring="sportello.signin", domain=settings.SPORTELLO_MAIL_DOMAIN),
            "Auto-Submitted": "auto-generated",
            "X-Loop": loop_mark(),
        },
    )
    message.attach_alternative(branded_html(html, brand), "text/html")
    message.send()


def send_satisfaction_survey(
    ticket: Ticket, *, good_url: str, bad_url: str, message_id: str | None = None
) -> str | None:
    """The satisfaction survey of a solved ticket (csat/services.py makes the links); the address or None.

    Not sent when the customer's address bounced. Marked `Auto-Submitted: auto-generated` (RFC 3834).
    """
    to = recipient_for(ticket.customer)
    if to is None:
        log.info("no survey for #%s: the customer has no deliverable email address", ticket.number)
        return None
    # The links go in as markers, so the HTML part gets real anchors and the text part the bare URLs.
    links = {"\ue000good\ue000": good_url, "\ue000bad\ue000": bad_url}
    good, bad = links
    mail = _wording("csat", ticket, extra={"csat.good_url": lambda: good, "csat.bad_url": lambda: bad})
    text, html = mail.text, mail.html
    for marker, url in links.items():
        text = text.replace(marker, url)
        html = html.replace(marker, f'<a href="{escape(url)}">{escape(url)}</a>')
    brand = brand_for_mail()
    message = EmailMultiAlternatives(
        subject=tagged_subject(mail.subject, ticket.number), body=text, from_email=sender(ticket, brand=brand),
        to=[formataddr((ticket.customer.name, to))],
        headers={
            "Message-ID": message_id or message_id_for(ticket, "csat"),
            "Auto-Submitted": "auto-generated",
            "X-Loop": loop_mark(),
            **_reply_to(ticket),
            **_threading_headers(ticket),
        },
    )  # fmt: skip
    message.attach_alternative(branded_html(html, brand), "text/html")
    message.send()
    Change.objects.create(ticket=ticket, field="csat", new_value=to, note="Satisfaction survey sent",
                          ticket_version=ticket.version)  # fmt: skip
    return to


def send_chat_transcript(ticket: Ticket, *, to: str) -> None:
    """Write a closed live chat's transcript mail to the outbox (chat/services.py calls this).

    Called inside the transaction that marks the transcript sent (chat/services.py), so the mark
    and the row commit together; deliver_chat_transcript sends it.
    """
    outbox.put(TRANSCRIPT, {"ticket": ticket.pk, "to": to})


def deliver_chat_transcript(ticket: Ticket, *, to: str, message_id: str | None = None) -> None:
    """A closed live chat's public lines, mailed to the visitor who asked."""
    from django.utils import translation
    from django.utils.translation import gettext as _

    entries = ticket.entries.filter(internal=False).select_related("author_user", "author_customer").order_by("pk")
    with translation.override(ticket.customer.language or settings.LANGUAGE_CODE):
        lines = [
            f"[{entry.created_at:%Y-%m-%d %H:%M} UTC] "
            f"{(entry.author_user.first_name or entry.author_user.username) if entry.author_user else _('You')}: "
            f"{entry.body_text}"
            for entry in entries
        ]
        subject = _("Your chat with us") + f" [#{ticket.number}]"
        text = "\n".join([_("Here is the transcript of your chat:"), "", *lines, ""])
    message = EmailMultiAlternatives(
        subject=subject, body=text, from_email=sender(ticket), to=[formataddr((ticket.customer.name, to))],
        headers={"Message-ID": message_id or message_id_for(ticket, "transcript"), "Auto-Submitted": "auto-generated",
                 "X-Loop": loop_mark(), **_reply_to(ticket)},
    )  # fmt: skip
    message.send()
    Change.objects.create(ticket=ticket, field="transcript", new_value=to, note="Chat transcript sent",
                          ticket_version=ticket.version)  # fmt: skip


def ack_suggestions(ticket: Ticket) -> list[tuple[str, str]]:
    """(title, address) of the public articles that best match a new ticket, for its acknowledgement.

    Only published public articles in the customer's language, at most ACK_SUGGESTIONS; none when
    the setting KB_ACK_SUGGESTIONS is off.
    """
    if not settings.KB_ACK_SUGGESTIONS:
        return []
    from sportello.kb.models import LANGUAGES
    from sportello.kb.search import suggest_articles

    language = (ticket.customer.language or ticket.language or "").split("-")[0].lower()
    if language not in LANGUAGES:
        return []
    first = Entry.objects.filter(ticket=ticket, internal=False).order_by("created_at", "id")
    body = first.values_list("body_text", flat=True).first() or ""
    hits = suggest_articles(f"{ticket.subject} {body[:300]}", language, limit=ACK_SUGGESTIONS)
    site = settings.SITE_URL.rstrip("/")
    return [(hit.translation.title, site + iri_to_uri(hit.translation.public_path())) for hit in hits]


def _suggestions_text(ticket: Ticket, links: list[tuple[str, str]]) -> str:
    """`{{ kb.suggestions }}`: a heading and one line per article, then a blank line; empty for none."""
    if not links:
        return ""
    language = (ticket.customer.language or ticket.language or "").split("-")[0].lower()
    heading = KB_SUGGESTIONS_HEADING.get(language, KB_SUGGESTIONS_HEADING["en"])
    return heading + "\n" + "\n".join(f"- {title}: {url}" for title, url in links) + "\n\n"


def _linked(html: str, urls: list[str]) -> str:
    """The HTML part with each of `urls` (already escaped in it) made a link."""
    for url in urls:
        html = html.replace(escape(url), f'<a href="{escape(url)}">{escape(url)}</a>')
    return html
