"""Vectors built in the background from the events, kept up to date, and built for existing data."""

from __future__ import annotations

import pytest
from django.core.management import CommandError, call_command
from django.utils import timezone

from sportello.semantic import services
from sportello.semantic.models import ArticleVector, TicketVector
from sportello.tickets.services import TicketChanges, add_note, update_ticket
from tests.web.conftest import new_ticket

pytestmark = pytest.mark.django_db


def test_a_new_ticket_gets_its_vector_from_the_events_task(django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        ticket = new_ticket("Charged twice", "Two identical payments on my card this month.", email="p@x.org")
    row = TicketVector.objects.get(ticket=ticket)
    assert row.digest == services.digest("Charged twice\nTwo identical payments on my card this month.")
    assert len(bytes(row.vector)) == 512


def test_a_changed_subject_rebuilds_it_and_a_note_does_not(agent, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        ticket = new_ticket("Charged twice", "Two identical payments on my card.", email="p@x.org")
    before = TicketVector.objects.get(ticket=ticket)
    with django_capture_on_commit_callbacks(execute=True):
        add_note(ticket, agent, body_text="Checked with the bank.")
    assert TicketVector.objects.get(ticket=ticket).updated_at == before.updated_at
    ticket.refresh_from_db()
    with django_capture_on_commit_callbacks(execute=True):
        update_ticket(ticket, agent, TicketChanges(subject="Double payment on card"))
    after = TicketVector.objects.get(ticket=ticket)
    assert after.digest != before.digest and after.vector != before.vector


def test_an_unchanged_text_is_not_embedded_again(db):
    ticket = new_ticket("Export file is empty", "Only the header row.", email="e@x.org")
    assert services.embed_tickets([ticket.pk]) == 1
    assert services.embed_tickets([ticket.pk]) == 0


def test_the_command_builds_existing_tickets_and_articles(db):
    tickets = [new_ticket(f"Printer jam {i}", "Paper stuck in tray two.", email=f"j{i}@x.org") for i in range(3)]
    call_command("semantic", "build", "--batch", "2")
    assert set(TicketVector.objects.values_list("ticket_id", flat=True)) == {t.pk for t in tickets}
    call_command("semantic", "build", "--after", str(tickets[-1].pk))  # resuming past the end: nothing to do
    assert TicketVector.objects.count() == 3


def test_the_command_refuses_bad_input(db):
    with pytest.raises(CommandError, match="--batch"):
        call_command("semantic", "build", "--batch", "0")
    with pytest.raises(CommandError, match="--after"):
        call_command("semantic", "build", "--after", "-1")


def test_the_article_sweep_embeds_changed_translations(admin):
    from sportello.kb.services import ArticleText, create_article, create_category, save_translation

    category = create_category(name="Billing", slug="billing")
    translation = create_article(
        admin, category=category, publish=True,
        text=ArticleText(language="it", title="Scaricare una fattura", body="Ogni pagamento ha una fattura in PDF."),
    )  # fmt: skip
    assert services.sweep_articles() == 1  # the task runs at once in tests
    assert services.nearest_translations("dove trovo la ricevuta del pagamento?", "it")[0][0] == translation.pk
    assert services.nearest_translations("receipt", "de") == []  # another language's articles only
    assert services.sweep_articles() == 0
    save_translation(admin, translation.article, ArticleText(language="it", title="Fatture", body="Nuovo testo."))
    before = ArticleVector.objects.get(translation=translation).digest
    assert services.sweep_articles() == 1 and ArticleVector.objects.get(translation=translation).digest != before


def test_a_process_copy_of_the_vectors_follows_later_builds(db):
    first = new_ticket("Export file is empty", "Only the header row in the CSV.", email="e@x.org")
    services.embed_tickets([first.pk])
    vector = services.ticket_vector(first)
    assert vector is not None
    assert [pk for pk, _score in services.nearest_tickets(vector, limit=5)] == [first.pk]  # read into the copy
    later = new_ticket("CSV export has no rows", "The spreadsheet has column names and nothing else.", email="f@x.org")
    services.embed_tickets([later.pk])
    found = dict(services.nearest_tickets(vector, limit=5))
    assert set(found) == {first.pk, later.pk} and found[first.pk] > 0.99


def test_erasing_a_customer_deletes_the_vectors_of_their_tickets(admin):
    from sportello.privacy.erasure import confirmation_for, erase_customer

    ticket = new_ticket("Charged twice", "Two identical payments on my card.", email="gone@x.org")
    kept = new_ticket("Export file is empty", "Only the header row.", email="stays@x.org")
    services.embed_tickets([ticket.pk, kept.pk])
    erase_customer(admin, ticket.customer, confirmation=confirmation_for(ticket.customer))
    assert list(TicketVector.objects.values_list("ticket_id", flat=True)) == [kept.pk]


def test_the_copy_of_the_translations_follows_rebuilds_and_unpublishing(admin, django_assert_max_num_queries):
    from sportello.kb.services import ArticleText, create_article, create_category, unpublish_translation

    category = create_category(name="Billing", slug="billing")
    invoice = create_article(
        admin, category=category, publish=True,
        text=ArticleText(language="en", title="Download an invoice", body="Every payment has a PDF invoice."),
    )  # fmt: skip
    parcel = create_article(
        admin, category=category, publish=True,
        text=ArticleText(language="en", title="Where is my parcel", body="Track your delivery with the courier."),
    )  # fmt: skip
    services.sweep_articles()
    question = "I need the PDF bill of my last payment for my accountant"
    best = services.nearest_translations(question, "en")[0]
    assert best[0] == invoice.pk
    with django_assert_max_num_queries(2):  # the published ids and the rows changed since: no full read
        assert services.nearest_translations(question, "en")[0][0] == invoice.pk
    unpublish_translation(admin, invoice)
    assert [pk for pk, _s in services.nearest_translations(question, "en")] == [parcel.pk]
    ArticleVector.objects.filter(translation=parcel).update(
        vector=ArticleVector.objects.get(translation=invoice).vector, updated_at=timezone.now()
    )
    # A rebuilt vector (here: the invoice's text) is read again by the next lookup.
    assert services.nearest_translations(question, "en")[0] == (parcel.pk, pytest.approx(best[1]))
