"""The one mail this app sends: a customer's export is ready, with its signed link.

Built like mail/outbound.py's automatic mails (a template trio in the customer's language,
`Auto-Submitted`, our loop mark) and sent from the outbox (exporting.handle_export_ready_mail).
"""

from __future__ import annotations

from datetime import datetime
from email.utils import formataddr, make_msgid

from django.conf import settings
from django.core.mail import EmailMultiAlternatives
from django.template.loader import render_to_string
from django.utils import translation

from sportello.customers.models import Customer
from sportello.mail.outbound import loop_mark
from sportello.mail.sender import brand_for_mail, branded_html, sender


def send_export_ready(customer: Customer, *, to: str, url: str, expires_at: datetime | None) -> None:
    context = {"customer": customer, "url": url, "expires_at": expires_at, "site_url": settings.SITE_URL}
    with translation.override(customer.language or settings.LANGUAGE_CODE):
        subject = " ".join(render_to_string("privacy/mail/export_ready_subject.txt", context).split())
        text = render_to_string("privacy/mail/export_ready_body.txt", context)
        html = render_to_string("privacy/mail/export_ready_body.html", context)
    brand = brand_for_mail()
    message = EmailMultiAlternatives(
        subject=subject,
        body=text,
        from_email=sender(brand=brand),
        to=[formataddr((customer.name, to))],
        headers={
            "Message-ID": make_msgid(idstring="sportello.privacy", domain=settings.SPORTELLO_MAIL_DOMAIN),
            "Auto-Submitted": "auto-generated",
            "X-Loop": loop_mark(),
        },
    )
    message.attach_alternative(branded_html(html, brand), "text/html")
    message.send()
