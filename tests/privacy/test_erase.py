"""Erasing a customer: nothing of theirs is left to find, and the reports count the same."""

from __future__ import annotations

import os
from datetime import timedelta

import pytest
from django.core.files.storage import default_storage
from django.utils import timezone

from sportello.audit.models import AuditEvent
from sportello.chat.models import Conversation as Chat
from sportello.core.models import OutboxMessage
from sportello.csat.models import Survey
from sportello.customers.models import Customer, Identity
from sportello.mail.models import RawMessage
from sportello.phone.models import Call, CallEvent
from sportello.reports import facts
from sportello.reports.metrics import SLUGS
from sportello.search.backend import search_tickets
from sportello.social.models import Conversation as SocialConversation
from sportello.social.models import InboundEvent
from sportello.tickets.models import Attachment, Change, Entry, Ticket
from tests.api.conftest import api_as
from tests.conftest import client_for
from tests.privacy.conftest import NOTE_WORD, WORDS

pytestmark = pytest.mark.django_db


def _figures(admin) -> dict[str, object]:  # type: ignore[no-untyped-def]
    """Every report's counts for the last week: figures and series values (labels may name people)."""
    today = timezone.localdate()
    period = {"since": (today - timedelta(days=7)).isoformat(), "until": today.isoformat(), "granularity": "day"}
    found: dict[str, object] = {}
    for slug in SLUGS:
        body = api_as(admin).get(f"/reports/{slug}", period).json()
        found[slug] = {
            "figures": [(f["key"], f["value"], f.get("previous")) for f in body["figures"]],
            "series": [(s["key"], s["values"]) for s in body["series"]],
            "table": [{k: v for k, v in row.items() if k != "name"} for row in body["table"]["rows"]],
        }
    found["satisfaction"] = api_as(admin).get("/reports/satisfaction", period).json()
    return found


def _erase(client, customer, confirmation, django_capture_on_commit_callbacks):  # type: ignore[no-untyped-def]
    with django_capture_on_commit_callbacks(execute=True):
        return client.post(f"/customers/{customer.pk}/privacy/erase", {"confirmation": confirmation})


def test_nothing_personal_is_left_and_reports_count_the_same(carla, admin, django_capture_on_commit_callbacks):
    list(facts.rebuild())
    facts.rebuild_backlog()
    before = _figures(admin)
    customer = carla.customer
    everything = Ticket.objects.all()
    for word in (*WORDS, NOTE_WORD):
        assert search_tickets(word, everything), word
    files = [*carla.attachment_names, carla.raw.file.name]
    assert all(default_storage.exists(name) for name in files)
    entries = Entry.objects.filter(ticket__customer=customer).count()

    page = client_for(admin).get(f"/customers/{customer.pk}/privacy/erase")
    assert page.status_code == 200 and b"erase-form" in page.content
    response = _erase(client_for(admin), customer, "CARLA@example.com", django_capture_on_commit_callbacks)
    assert response.status_code == 302

    customer.refresh_from_db()
    assert customer.name == f"Erased customer #{customer.pk}"
    assert not Identity.objects.filter(customer=customer).exists()
    for word in (*WORDS, NOTE_WORD, "+390612345678", "tg-4242"):
        assert search_tickets(word, everything) == [], word
    assert not any(default_storage.exists(name) for name in files)
    assert not any(os.path.exists(default_storage.path(name)) for name in files)
    assert not Attachment.objects.filter(entry__ticket__customer=customer).exists()
    assert not RawMessage.objects.exists()
    assert Entry.objects.filter(ticket__customer=customer).count() == entries
    assert set(Entry.objects.filter(ticket__customer=customer).values_list("body_text", flat=True)) == {"[erased]"}
    assert set(Ticket.objects.filter(customer=customer).values_list("subject", flat=True)) == {"[erased]"}

    # The chat: its transcript (the ticket's lines) redacted, the visitor's session no longer theirs.
    chat = Chat.objects.get(ticket=carla.chat)
    assert set(carla.chat.entries.values_list("body_text", flat=True)) == {"[erased]"}
    assert chat.state == "closed"
    conversation = SocialConversation.objects.get(ticket=carla.social)
    assert (conversation.handle, conversation.address) == (f"erased:{conversation.pk}", "")
    assert InboundEvent.objects.get().payload == {}
    call = Call.objects.get()
    assert (call.from_number, call.recording_url, call.duration) == ("", "", 42)
    assert CallEvent.objects.get().payload == {}
    survey = Survey.objects.get()
    assert (survey.rating, survey.comment, survey.mailed_to) == ("good", "", "")
    # Outgoing mail: the waiting notification gone, the history's log of a sent one blanked.
    assert not OutboxMessage.objects.filter(payload__icontains="carla@example.com").exists()
    assert not Change.objects.filter(new_value__icontains="carla").exists()
    user = customer.user or carla.customer.__class__.objects.get(pk=customer.pk).user
    assert user is None
    from sportello.accounts.models import User

    portal = User.objects.get(username__startswith="erased-")
    assert not portal.is_active and portal.email == "" and not portal.has_usable_password()
    assert client_for(portal).get("/portal/").status_code == 302  # inactive: signed out

    # The same figures, and the same again once the facts are rebuilt from what is left.
    assert _figures(admin) == before
    list(facts.rebuild())
    facts.rebuild_backlog()
    assert _figures(admin) == before

    event = AuditEvent.objects.get(action="privacy.erased")
    assert event.actor == admin and event.target_id == str(customer.pk)
    recorded = str([event.target_label, event.before, event.after, event.actor_label])
    for word in ("Carla", "carla@example.com", "Rossi", "+390612345678"):
        assert word not in recorded
    assert event.after["tickets"] == 5 and event.after["attachments"] == 2


def test_a_wrong_confirmation_erases_nothing(carla, admin, django_capture_on_commit_callbacks):
    response = _erase(client_for(admin), carla.customer, "someone@example.com", django_capture_on_commit_callbacks)
    assert response.status_code == 422
    assert b"Type the customer" in response.content
    assert _erase(client_for(admin), carla.customer, "", django_capture_on_commit_callbacks).status_code == 422
    assert Customer.objects.get(pk=carla.customer.pk).name == "Carla Rossi"
    assert all(default_storage.exists(name) for name in carla.attachment_names)
    assert not AuditEvent.objects.filter(action="privacy.erased").exists()


def test_erasing_twice_is_refused(carla, admin, django_capture_on_commit_callbacks):
    assert (
        _erase(client_for(admin), carla.customer, "carla@example.com", django_capture_on_commit_callbacks).status_code
        == 302
    )
    again = client_for(admin).get(f"/customers/{carla.customer.pk}/privacy/erase")
    assert b"This customer was erased." in again.content
    assert (
        _erase(
            client_for(admin), carla.customer, f"{carla.customer.pk}", django_capture_on_commit_callbacks
        ).status_code
        == 422
    )


def test_a_merged_duplicate_goes_with_its_survivor(carla, admin, agent, django_capture_on_commit_callbacks):
    from sportello.customers.merging import merge_customers
    from tests.customers.conftest import new_ticket

    duplicate = new_ticket("From my other address", email="carla.rossi@home.example", name="Carla R.").customer
    merge_customers(carla.customer, duplicate, agent)
    _erase(client_for(admin), carla.customer, "carla@example.com", django_capture_on_commit_callbacks)
    duplicate.refresh_from_db()
    assert duplicate.name == f"Erased customer #{duplicate.pk}"
    assert search_tickets("carla.rossi@home.example", Ticket.objects.all()) == []


@pytest.mark.parametrize("who", ["anonymous", "customer_user", "agent", "light_agent"])
def test_only_admins_erase(carla, who, request, django_capture_on_commit_callbacks):
    user = None if who == "anonymous" else request.getfixturevalue(who)
    url = f"/customers/{carla.customer.pk}/privacy/erase"
    page = client_for(user).get(url)
    done = _erase(client_for(user), carla.customer, "carla@example.com", django_capture_on_commit_callbacks)
    if who == "anonymous":
        assert page.status_code == done.status_code == 302
        assert "/accounts/login" in done["Location"]
    else:
        assert page.status_code == done.status_code == 403
    assert Customer.objects.get(pk=carla.customer.pk).name == "Carla Rossi"
