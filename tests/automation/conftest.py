from __future__ import annotations

import pytest

from sportello.automation.models import Trigger
from sportello.customers.services import Sender
from sportello.tickets.intake import Inbound, ingest
from tests.mail.conftest import make_mail


@pytest.fixture
def make_trigger(db):
    def make(event: str, actions: list, conditions: list | None = None, **extra) -> Trigger:
        return Trigger.objects.create(
            name=extra.pop("name", f"{event} {Trigger.objects.count() + 1}"),
            event=event,
            conditions=conditions or [],
            actions=actions,
            **extra,
        )

    return make


@pytest.fixture
def write_in(db, django_capture_on_commit_callbacks):
    """A customer writes a new ticket through the intake, with the after-commit work run."""

    def write(
        subject: str = "Printer on fire",
        body: str = "The printer is on fire.",
        *,
        email: str = "carla@example.com",
        channel: str = "web",
    ):
        with django_capture_on_commit_callbacks(execute=True):
            return ingest(
                Inbound(
                    channel=channel,
                    sender=Sender(name="Carla Rossi", email=email),
                    subject=subject,
                    body_text=body,
                    acknowledge=False,
                )
            ).ticket

    return write


@pytest.fixture
def mail_message():
    return make_mail
