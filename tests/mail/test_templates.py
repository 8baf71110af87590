"""Automatic mails in the customer's language, in wording admins can change."""

from __future__ import annotations

import pytest
from django.core import mail

from sportello.automation.models import Trigger
from sportello.customers.services import Sender
from sportello.mail.models import EmailTemplate
from sportello.tickets.intake import Inbound, ingest
from sportello.tickets.services import reply_to_ticket

pytestmark = pytest.mark.django_db


def write(language: str, django_capture_on_commit_callbacks, **extra):
    """A new customer (their language is the one of their first message) writes in."""
    with django_capture_on_commit_callbacks(execute=True):
        return ingest(
            Inbound(
                channel="web",
                sender=Sender(name="Carla Rossi", email=f"carla.{language}@example.com"),
                subject="Stampante",
                body_text="Non stampa",
                language=language,
                **extra,
            )
        ).ticket


@pytest.mark.parametrize(
    ("language", "words"),
    [
        ("en", "we have received your request"),
        ("it", "abbiamo ricevuto la sua richiesta"),
        ("de", "wir haben Ihre Anfrage erhalten"),
        ("bg", "получихме вашето запитване"),
        ("pt", "we have received your request"),
    ],  # no Portuguese wording: English
)
def test_the_acknowledgement_speaks_the_customers_language(language, words, django_capture_on_commit_callbacks):
    ticket = write(language, django_capture_on_commit_callbacks)
    [ack] = mail.outbox
    assert words in ack.body and f"#{ticket.number}" in ack.body and f"[#{ticket.number}]" in ack.subject
    assert words in ack.alternatives[0][0]  # the HTML part says the same


def test_an_admins_template_replaces_the_wording_of_its_language_only(django_capture_on_commit_callbacks):
    EmailTemplate.objects.create(
        key="acknowledgement",
        language="it",
        subject="Ricevuto #{{ ticket.number }}",
        body="Ciao {{ customer.first_name }} <b>{{ ticket.subject }}</b>",
    )
    italian = write("it", django_capture_on_commit_callbacks)
    german = write("de", django_capture_on_commit_callbacks)
    it_mail, de_mail = mail.outbox
    # The admin's subject leaves out the [#number] tag that threads replies: it is put back in front.
    assert it_mail.subject == f"[#{italian.number}] Ricevuto #{italian.number}"
    assert it_mail.body.startswith("Ciao Carla <b>Stampante</b>")
    assert "&lt;b&gt;Stampante&lt;/b&gt;" in it_mail.alternatives[0][0]  # text is escaped in the HTML part
    assert "wir haben Ihre Anfrage erhalten" in de_mail.body and f"#{german.number}" in de_mail.body


def test_the_reply_frame_is_a_template_around_the_agents_text(agent, django_capture_on_commit_callbacks):
    EmailTemplate.objects.create(
        key="reply",
        language="en",
        subject="ignored",
        body="{{ reply.text }}\n\nKind regards, {{ agent.first_name }} - Acme support",
    )
    ticket = write("en", django_capture_on_commit_callbacks)
    mail.outbox.clear()
    with django_capture_on_commit_callbacks(execute=True):
        reply_to_ticket(ticket, agent, body_text="The driver is fixed.")
    [sent] = mail.outbox
    assert sent.body.startswith("The driver is fixed.\n\nKind regards, Alice Agent - Acme support")
    assert "<p>The driver is fixed.</p>" in sent.alternatives[0][0]


def test_a_trigger_mails_from_a_template_in_the_customers_language(django_capture_on_commit_callbacks):
    Trigger.objects.create(
        name="Welcome",
        event="ticket_created",
        actions=[{"type": "send_email", "to": "customer", "template": "welcome"}],
    )
    EmailTemplate.objects.create(key="welcome", language="de", subject="Willkommen", body="Hallo {{ customer.name }}")
    EmailTemplate.objects.create(key="welcome", language="en", subject="Welcome", body="Hello {{ customer.name }}")
    write("de", django_capture_on_commit_callbacks, acknowledge=False)
    write("it", django_capture_on_commit_callbacks, acknowledge=False)  # no Italian row: English
    assert [(m.subject.split("] ")[-1], m.body.strip()) for m in mail.outbox] == [
        ("Willkommen", "Hallo Carla Rossi"),
        ("Welcome", "Hello Carla Rossi"),
    ]


def test_every_ticket_mail_carries_the_subject_tag_once_whatever_the_template_says(
    agent, django_capture_on_commit_callbacks
):
    EmailTemplate.objects.create(
        key="acknowledgement", language="en", subject="Got it [#{{ ticket.number }}]", body="Hi"
    )
    EmailTemplate.objects.create(key="csat", language="en", subject="How did we do?", body="{{ csat.good_url }}")
    EmailTemplate.objects.create(key="nudge", language="en", subject="Still there? (#{{ ticket.number }}0)", body="?")
    Trigger.objects.create(
        name="Nudge", event="ticket_created", actions=[{"type": "send_email", "to": "customer", "template": "nudge"}]
    )
    ticket = write("en", django_capture_on_commit_callbacks)
    from sportello.tickets.models import Status
    from sportello.tickets.services import TicketChanges, update_ticket

    with django_capture_on_commit_callbacks(execute=True):
        update_ticket(ticket, agent, TicketChanges(status=Status.objects.get(slug="solved")))
    tag = f"[#{ticket.number}]"
    subjects = sorted(m.subject for m in mail.outbox)
    assert subjects == sorted(
        [f"Got it {tag}", f"{tag} How did we do?", f"{tag} Still there? (#{ticket.number}0)"]
    )  # a tag already there is not doubled; #number0 is another ticket's number, not this tag
