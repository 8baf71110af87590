"""Who a mail is from, and the branding of its HTML part (core/branding.py).

The From rule:

- the address: the mailbox the customer last wrote to about the ticket, while that mailbox is
  active (a mailbox's own address wins for mail on its tickets: the answer comes from where the
  customer wrote); else the branding's support address; else the address of DEFAULT_FROM_EMAIL;
- the name: the agent's, on their replies and forwards; else the mailbox's display name; else the
  branding's product name once an admin saved it; else DEFAULT_FROM_EMAIL's own name.

Replies still go to the signed Reply-To (addresses.reply_address) whatever the From is, so the
support address needs no routing of its own for replies to thread; it must be an address the
outgoing SMTP server may send as (SPF/DKIM), as a mailbox's must.

Mail is built by workers that may have read the branding long ago, so `brand_for_mail` reads the
lookups' version (one short query) rather than trusting it for `branding.RECHECK` seconds as
pages do: a mail sent after an admin changed the branding carries the new one.
"""

from __future__ import annotations

import re
from email.utils import formataddr, parseaddr
from html import escape
from typing import TYPE_CHECKING

from django.conf import settings

if TYPE_CHECKING:
    from sportello.core.branding import Brand
    from sportello.mail.models import Mailbox
    from sportello.tickets.models import Ticket

NEUTRAL = "#1f2933"  # the header's rule when no primary colour is set


def brand_for_mail() -> Brand:
    """The branding as saved now (the version read, the row itself kept per process)."""
    from sportello.core import branding, lookups

    return branding.current(lookups.read_stamp())


def ticket_mailbox(ticket: Ticket) -> Mailbox | None:
    """The active mailbox the customer last wrote to about `ticket` (one query), if any."""
    from django.db.models import Subquery
    from django.db.models.fields.json import KT

    from sportello.mail.models import Mailbox
    from sportello.tickets.models import Direction, Entry

    latest = (
        Entry.objects.filter(ticket=ticket, direction=Direction.INBOUND, metadata__has_key="mailbox")
        .order_by("-created_at", "-id")
        .values(box=KT("metadata__mailbox"))[:1]
    )
    return Mailbox.objects.filter(active=True, address=Subquery(latest)).only("address", "name").first()


def sender(ticket: Ticket | None = None, *, person: str = "", brand: Brand | None = None) -> str:
    """The From header by the rule above: `ticket` is the ticket the mail is about (None: none),
    `person` the replying agent's name."""
    brand = brand or brand_for_mail()
    mailbox = ticket_mailbox(ticket) if ticket is not None else None
    default_name, default_address = parseaddr(settings.DEFAULT_FROM_EMAIL)
    address = (mailbox.address if mailbox else "") or brand.support_address or default_address
    name = person or (mailbox.name if mailbox else "") or (brand.name if brand.saved else default_name)
    return formataddr((name, address)) if name else address


def branded_html(html: str, brand: Brand) -> str:
    """The HTML part with the branding's header on top (the logo and the name over a rule in the
    primary colour) and its links in that colour; unchanged while no branding is saved."""
    if not brand.saved:
        return html
    color = brand.color or NEUTRAL  # a validated #rrggbb (branding.clean_color)
    logo = ""
    if brand.logo_url:  # the logo's address is public (branding_views.branding_logo)
        src = escape(settings.SITE_URL.rstrip("/") + brand.logo_url)
        logo = (
            f'<img src="{src}" alt="" height="32" '
            'style="height:32px;width:auto;border:0;vertical-align:middle;margin-right:8px">'
        )
    header = (
        f'<div style="border-top:4px solid {color};padding:12px 0;margin:0 0 16px;font-family:sans-serif">'
        f'{logo}<strong style="font-size:18px;vertical-align:middle;color:{color}">{escape(brand.name)}</strong>'
        "</div>"
    )
    if brand.color:
        html = re.sub(r"<a (?![^>]*\bstyle=)", f'<a style="color:{brand.color}" ', html)
    body = re.search(r"<body[^>]*>", html, re.IGNORECASE)
    return html[: body.end()] + header + html[body.end() :] if body else header + html
