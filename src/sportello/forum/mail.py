"""The forum's one mail: a new reply in a topic someone follows.

It leaves like every automatic mail (mail/outbound.py): written to the outbox in the transaction
that published the reply, sent by the outbox's worker under the Message-ID of its row, marked
`Auto-Submitted` with our loop mark, so robots do not answer it and our inbound side knows it.
"""

from __future__ import annotations

from email.utils import formataddr

from django.conf import settings
from django.core.mail import EmailMultiAlternatives
from django.template.loader import render_to_string
from django.utils import translation
from django.utils.encoding import iri_to_uri

from sportello.mail.outbound import loop_mark
from sportello.mail.sender import brand_for_mail, branded_html, sender


def send_forum_reply(
    *,
    to: str,
    name: str,
    language: str,
    topic: str,
    author: str,
    excerpt: str,
    url: str,
    unsubscribe_url: str,
    message_id: str,
) -> None:
    """A new reply in a forum topic someone follows (forum/tasks.py builds the values), with an
    unsubscribe link in the text and in `List-Unsubscribe`, one click (RFC 8058) included."""

    context = {"name": name, "topic": topic, "author": author, "excerpt": excerpt, "url": url,
               "unsubscribe_url": unsubscribe_url}  # fmt: skip
    with translation.override(language or settings.LANGUAGE_CODE):
        subject = " ".join(render_to_string("forum/mail/reply_subject.txt", context).split())
        text = render_to_string("forum/mail/reply_body.txt", context)
        html = render_to_string("forum/mail/reply_body.html", context)
    brand = brand_for_mail()
    message = EmailMultiAlternatives(
        subject=subject, body=text, from_email=sender(brand=brand), to=[formataddr((name, to))],
        headers={
            "Message-ID": message_id, "Auto-Submitted": "auto-generated", "X-Loop": loop_mark(),
            "List-Unsubscribe": f"<{iri_to_uri(unsubscribe_url)}>",
            "List-Unsubscribe-Post": "List-Unsubscribe=One-Click",
        },
    )  # fmt: skip
    message.attach_alternative(branded_html(html, brand), "text/html")
    message.send()
