"""The acknowledgement mail lists the best matching public articles in the customer's language."""

from __future__ import annotations

import pytest
from django.conf import settings as django_settings
from django.core import mail

from sportello.customers.services import Sender
from sportello.kb.services import ArticleText, create_article
from sportello.tickets.intake import Inbound, ingest

pytestmark = pytest.mark.django_db


def write(subject: str, capture, language: str = "en", email: str = "new@example.org"):  # type: ignore[no-untyped-def]
    with capture(execute=True):
        return ingest(
            Inbound(channel="web", sender=Sender(name="Nina New", email=email), subject=subject,
                    body_text="Where do I find it?", language=language)
        ).ticket  # fmt: skip


def test_matching_public_articles_are_listed(
    invoice_article, internal_article, draft_article, django_capture_on_commit_callbacks
):
    ticket = write("Download invoices", django_capture_on_commit_callbacks)
    [ack] = mail.outbox
    assert "These articles from our help centre may already answer your question:" in ack.body
    site = django_settings.SITE_URL.rstrip("/")
    assert f"- Downloading your invoices: {site}{invoice_article.public_path()}\n" in ack.body
    # Internal and draft articles never go to customers.
    assert "Refund invoices by hand" not in ack.body and "Invoice drafts upcoming" not in ack.body
    assert '<a href="' in ack.alternatives[0][0] and invoice_article.public_path() in ack.alternatives[0][0]
    assert f"#{ticket.number}" in ack.body


def test_in_the_customers_language_only(invoice_article, django_capture_on_commit_callbacks):
    write("Scaricare le fatture", django_capture_on_commit_callbacks, language="it")
    [ack] = mail.outbox
    assert "Questi articoli" in ack.body and "Scaricare le fatture: " in ack.body
    assert "Downloading your invoices" not in ack.body


def test_at_most_three(agent, invoices, django_capture_on_commit_callbacks):
    for n in range(5):
        create_article(agent, category=invoices, text=ArticleText("en", f"Invoice question {n}", "About invoices."),
                       publish=True)  # fmt: skip
    write("invoice", django_capture_on_commit_callbacks)
    assert mail.outbox[0].body.count("- Invoice question") == 3


def test_nothing_matching_leaves_no_heading(invoice_article, django_capture_on_commit_callbacks):
    write("Printer on fire", django_capture_on_commit_callbacks)
    body = mail.outbox[0].body
    assert "help centre" not in body and "Subject: Printer on fire\n\nYour support team" in body


def test_the_setting_turns_it_off(invoice_article, settings, django_capture_on_commit_callbacks):
    settings.KB_ACK_SUGGESTIONS = False
    write("Download invoices", django_capture_on_commit_callbacks)
    assert "Downloading your invoices" not in mail.outbox[0].body
