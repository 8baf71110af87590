"""A number or handle an agent linked to another customer (the customer merge) brings that
customer's file: the next message on the platform, and the next call, land on it."""

from __future__ import annotations

import copy

import pytest

from sportello.customers.merging import merge_customers
from sportello.phone.models import Call, CtiAccount, CtiKind
from sportello.phone.services import rotate_token
from sportello.tickets.models import Entry
from tests.phone.conftest import post_generic
from tests.social.conftest import payload, post

pytestmark = pytest.mark.django_db


def test_after_a_merge_the_number_brings_the_surviving_customer(platform, whatsapp, customer, agent) -> None:
    first = post(platform, whatsapp, payload("whatsapp_text.json")).json()["results"][0]
    newcomer = Entry.objects.get(pk=first["entry"]).author_customer
    assert newcomer != customer and newcomer.identities.filter(kind="phone", value="+16315551181").exists()

    merge_customers(customer, newcomer, agent)  # "this WhatsApp number is Carla's"

    again = copy.deepcopy(payload("whatsapp_text.json"))
    message = again["entry"][0]["changes"][0]["value"]["messages"][0]
    message["id"], message["text"]["body"] = "wamid.after-the-merge", "Any news?"
    second = Entry.objects.get(pk=post(platform, whatsapp, again).json()["results"][0]["entry"])
    assert second.author_customer == customer and second.ticket.customer == customer
    assert second.ticket.number == first["ticket"]  # the same conversation, on the same ticket

    account = CtiAccount.objects.create(name="sipgate", kind=CtiKind.GENERIC)
    event = [("event", "newCall"), ("from", "+16315551181"), ("to", "+4930555716"), ("direction", "in"),
             ("callId", "after-merge-1")]  # fmt: skip
    assert post_generic(rotate_token(account), event).status_code == 200
    assert Call.objects.get().customer == customer  # the pop-up shows Carla's file
