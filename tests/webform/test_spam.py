"""Bots get a thanks page and leave nothing behind; people who send too much are slowed down."""

from __future__ import annotations

import logging
import time

import pytest
import time_machine
from django.core import mail

from sportello.customers.models import Customer
from sportello.tickets.models import Ticket
from sportello.webform.forms import new_stamp
from tests.webform.conftest import form_data, stamp

pytestmark = pytest.mark.django_db


def assert_nothing_stored() -> None:
    assert not Ticket.objects.exists()
    assert not Customer.objects.exists()


@pytest.mark.parametrize(
    ("overrides", "reason"),
    [
        # Built when the test runs, not when it is collected: stamps age.
        (lambda: {"website": "http://cheap-pills.example"}, "honeypot"),
        (lambda: {"started": new_stamp()}, "too fast"),
        (lambda: {"started": stamp(seconds_ago=1)}, "too fast"),
        (lambda: {"started": "1700000000.0"}, "forged"),
        (lambda: {"started": stamp()[:-3] + "abc"}, "forged"),
        (lambda: {"started": ""}, "forged"),
    ],
    ids=["honeypot", "at-once", "after-1s", "bare-number", "bad-signature", "missing"],
)
def test_a_trapped_submission_looks_sent_but_stores_nothing(
    client, django_capture_on_commit_callbacks, caplog, overrides, reason
):
    with caplog.at_level(logging.INFO, logger="sportello.webform"), django_capture_on_commit_callbacks(execute=True):
        response = client.post("/support/new", form_data(**overrides()))
    assert response.status_code == 302 and response["Location"].startswith("/support/thanks/")
    thanks = client.get(response["Location"])
    assert thanks.status_code == 200
    assert "Thank you" in thanks.content.decode()
    assert "ticket-number" not in thanks.content.decode()  # no invented number
    assert_nothing_stored()
    assert mail.outbox == []
    dropped = [r for r in caplog.records if r.name == "sportello.webform" and "dropped" in r.getMessage()]
    assert len(dropped) == 1 and reason in dropped[0].getMessage()


def test_the_minimum_fill_time_is_a_setting(client, settings):
    settings.WEBFORM_MIN_FILL_SECONDS = 0
    assert client.post("/support/new", form_data(started=new_stamp())).status_code == 302
    assert Ticket.objects.count() == 1


def test_the_rate_limit_per_email_address_answers_429_and_keeps_the_form(client, settings):
    settings.WEBFORM_RATE_LIMIT = 2
    for i in range(2):
        response = client.post("/support/new", form_data(subject=f"Try {i}"), REMOTE_ADDR=f"10.0.0.{i}")
        assert response.status_code == 302
    response = client.post(
        "/support/new", form_data(subject="Third try", email="GRETA@example.org"), REMOTE_ADDR="10.0.0.9"
    )
    assert response.status_code == 429
    assert response["Retry-After"] == str(settings.WEBFORM_RATE_WINDOW)
    html = response.content.decode()
    assert "wait a few minutes" in html
    assert 'value="Third try"' in html and "does nothing." in html  # kept filled
    assert Ticket.objects.count() == 2


def test_the_rate_limit_per_client_ip_counts_every_address(client, settings):
    settings.WEBFORM_RATE_LIMIT = 3
    for i in range(3):
        assert client.post("/support/new", form_data(email=f"p{i}@example.org")).status_code == 302
    assert client.post("/support/new", form_data(email="p9@example.org")).status_code == 429
    # Another machine is not held back by the first one.
    assert client.post("/support/new", form_data(email="q@example.org"), REMOTE_ADDR="192.0.2.7").status_code == 302
    assert Ticket.objects.count() == 4


def test_the_window_ends(client, settings):
    settings.WEBFORM_RATE_LIMIT = 1
    settings.WEBFORM_RATE_WINDOW = 60
    assert client.post("/support/new", form_data()).status_code == 302
    assert client.post("/support/new", form_data()).status_code == 429
    with time_machine.travel(time.time() + 61):
        assert client.post("/support/new", form_data()).status_code == 302
    assert Ticket.objects.count() == 2


def test_invalid_submissions_and_bots_do_not_use_up_the_limit(client, settings):
    settings.WEBFORM_RATE_LIMIT = 1
    client.post("/support/new", form_data(message=""))
    client.post("/support/new", form_data(website="spam"))
    assert client.post("/support/new", form_data()).status_code == 302
