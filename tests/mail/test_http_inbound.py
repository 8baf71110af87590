"""POST /api/v1/mail/inbound: raw messages from mail providers' webhooks, by mailbox token."""

from __future__ import annotations

import base64

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client, override_settings

from sportello.mail import api as mail_api
from sportello.mail.models import Mailbox, RawMessage, RawState
from sportello.mail.services import rotate_inbound_token
from sportello.tickets.models import Ticket
from tests.conftest import client_for, token_for

pytestmark = pytest.mark.django_db

URL = "/api/v1/mail/inbound"


@pytest.fixture
def mailbox() -> Mailbox:
    return Mailbox.objects.create(address="help@example.test")


@pytest.fixture
def key(mailbox) -> str:
    return rotate_inbound_token(mailbox)


def post_raw(raw: bytes, key: str | None) -> object:
    headers = {"Authorization": f"Bearer {key}"} if key else {}
    return Client(headers=headers).post(URL, data=raw, content_type="message/rfc822")


def test_a_posted_message_is_stored_and_becomes_a_ticket(mailbox, key, mail):
    response = post_raw(mail(subject="Posted by the provider"), key)
    assert response.status_code == 202
    body = response.json()
    row = RawMessage.objects.get()
    assert body["raw_message"] == row.pk and body["state"] == "processed"
    assert body["ticket"] == Ticket.objects.get(subject="Posted by the provider").number
    assert row.source == "http" and row.mailbox == mailbox


def test_the_same_message_posted_twice_is_one_ticket(key, mail):
    raw = mail(subject="Webhook retried")
    first, second = post_raw(raw, key), post_raw(raw, key)
    assert first.json()["raw_message"] == second.json()["raw_message"]
    assert Ticket.objects.count() == 1


def test_a_multipart_file_field_works_too(key, mail):
    upload = SimpleUploadedFile("message.eml", mail(subject="As a file"), content_type="message/rfc822")
    response = Client(headers={"Authorization": f"Bearer {key}"}).post(URL, data={"file": upload})
    assert response.status_code == 202 and Ticket.objects.get().subject == "As a file"


def test_basic_auth_with_the_token_as_password_works(key, mail):
    credentials = base64.b64encode(f"provider:{key}".encode()).decode()
    response = Client(headers={"Authorization": f"Basic {credentials}"}).post(
        URL, data=mail(), content_type="message/rfc822"
    )
    assert response.status_code == 202


def test_a_broken_message_is_stored_and_quarantined(key):
    response = post_raw(b"Subject: nobody wrote this\r\n\r\nbody\r\n", key)
    assert response.status_code == 202 and response.json()["state"] == RawState.QUARANTINED
    assert "no usable sender" in response.json()["reason"]


@pytest.mark.parametrize("how", ["none", "wrong", "rotated", "agent token", "admin session", "inactive mailbox"])
def test_strangers_are_refused_with_401(how, mailbox, key, mail, agent, admin):
    raw = mail()
    if how == "none":
        response = post_raw(raw, None)
    elif how == "wrong":
        response = post_raw(raw, key[:-4] + "abcd")
    elif how == "rotated":
        rotate_inbound_token(mailbox)
        response = post_raw(raw, key)
    elif how == "agent token":
        response = post_raw(raw, token_for(agent))
    elif how == "admin session":
        response = client_for(admin).post(URL, data=raw, content_type="message/rfc822")
    else:
        Mailbox.objects.filter(pk=mailbox.pk).update(active=False)
        response = post_raw(raw, key)
    assert response.status_code == 401
    assert not RawMessage.objects.exists()


def test_only_the_hash_of_the_token_is_kept(mailbox, key):
    mailbox.refresh_from_db()
    assert key not in str(Mailbox.objects.filter(pk=mailbox.pk).values().get())
    assert mailbox.inbound_token_hash == Mailbox.hash_token(key)


def test_an_empty_body_is_400(key):
    assert post_raw(b"", key).status_code == 400
    assert post_raw(b"\r\n  \r\n", key).status_code == 400
    response = Client(headers={"Authorization": f"Bearer {key}"}).post(URL, data={"note": "no file"})
    assert response.status_code == 400


def test_a_message_over_the_limit_is_413_and_not_stored(key, mail):
    big = mail(body="line of text\n" * 5000)
    with override_settings(MAIL_MAX_MESSAGE_BYTES=len(big) - 1):
        assert post_raw(big, key).status_code == 413
        upload = SimpleUploadedFile("big.eml", big)
        response = Client(headers={"Authorization": f"Bearer {key}"}).post(URL, data={"file": upload})
        assert response.status_code == 413
    assert not RawMessage.objects.exists()


def test_larger_than_djangos_form_limit_is_still_accepted_below_ours(key, mail):
    big = mail(body="line of text\n" * 30_000)
    with override_settings(DATA_UPLOAD_MAX_MEMORY_SIZE=1024, MAIL_MAX_MESSAGE_BYTES=len(big)):
        assert post_raw(big, key).status_code == 202


def test_a_storing_failure_is_503_so_the_provider_retries(key, mail, monkeypatch):
    def broken(*args, **kwargs):
        raise OSError("disk full")

    monkeypatch.setattr(mail_api, "receive_raw", broken)
    assert post_raw(mail(), key).status_code == 503
