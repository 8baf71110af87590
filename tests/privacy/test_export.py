"""Exporting a customer's personal data: the archive agents download, and the portal's request
that ends in a mailed link only that customer may follow."""

from __future__ import annotations

import io
import json
import re
import zipfile
from datetime import timedelta

import pytest
from django.core import mail
from django.utils import timezone

from sportello.audit.models import AuditEvent
from sportello.privacy.models import DataExport, ExportState, RetentionPolicy
from tests.conftest import client_for
from tests.privacy.conftest import NOTE_WORD, PHOTO, SCAN

pytestmark = pytest.mark.django_db


def _archive(response) -> zipfile.ZipFile:  # type: ignore[no-untyped-def]
    assert response.status_code == 200, response.content[:500] if hasattr(response, "content") else response
    assert response["Content-Type"] == "application/zip"
    return zipfile.ZipFile(io.BytesIO(b"".join(response.streaming_content)))


def _json(archive: zipfile.ZipFile, name: str):  # type: ignore[no-untyped-def]
    return json.loads(archive.read(name))


def test_the_archive_holds_the_whole_file(carla, admin):
    response = client_for(admin).post(f"/customers/{carla.customer.pk}/privacy/export")
    archive = _archive(response)
    names = archive.namelist()
    assert "README.txt" in names

    customer = _json(archive, "customer.json")
    assert customer["name"] == "Carla Rossi"
    assert {i["value"] for i in customer["identities"]} == {"carla@example.com", "+390612345678"}
    assert customer["portal_account"]["username"] == "carla_customer"

    web = _json(archive, f"tickets/{carla.web.number}/ticket.json")
    assert web["subject"] == "Broken zanzibar lamp"
    texts = [e["body_text"] for e in web["entries"]]
    assert texts == ["My zanzibar lamp broke, photo attached.", "Sorry about the zanzibar lamp, Carla."]
    assert web["entries"][0]["author"] == "you"
    assert NOTE_WORD not in archive.read(f"tickets/{carla.web.number}/ticket.json").decode()
    (photo,) = web["entries"][0]["attachments"]
    assert photo["filename"] == "lamp photo.png"
    assert archive.read(photo["path"]) == PHOTO

    mailed = _json(archive, f"tickets/{carla.mailed.number}/ticket.json")
    (scan,) = [a for e in mailed["entries"] for a in e["attachments"]]
    assert archive.read(scan["path"]) == SCAN
    (eml,) = _json(archive, "mail/index.json")
    assert archive.read(eml["file"]) == carla.raw_bytes

    (survey,) = _json(archive, "csat.json")
    assert (survey["ticket"], survey["rating"], survey["comment"]) == (
        carla.web.number,
        "good",
        "Quick marimba service",
    )

    (chat,) = _json(archive, "chat.json")
    assert [line["text"] for line in chat["transcript"]] == ["Hello, ocelot question", "Happy to help with the ocelot."]
    assert chat["transcript"][0]["author"] == "you"

    social = _json(archive, "social.json")
    assert social["conversations"][0]["handle"] == "tg-4242"
    assert social["received"][0]["payload"]["text"] == "Marimba on the phone?"
    (call,) = _json(archive, "phone.json")
    assert (call["from"], call["duration_seconds"]) == ("+390612345678", 42)

    event = AuditEvent.objects.get(action="privacy.exported")
    assert (event.actor, event.target_id, event.after["tickets"]) == (admin, str(carla.customer.pk), 5)


def test_agents_export_only_when_the_settings_allow(carla, agent, light_agent):
    url = f"/customers/{carla.customer.pk}/privacy/export"
    assert client_for(agent).post(url).status_code == 403
    page = client_for(agent).get(f"/customers/{carla.customer.pk}/")
    assert b"Export personal data" not in page.content
    policy = RetentionPolicy.current()
    policy.agents_may_export = True
    policy.save()
    assert b"Export personal data" in client_for(agent).get(f"/customers/{carla.customer.pk}/").content
    _archive(client_for(agent).post(url))
    assert client_for(light_agent).post(url).status_code == 403


def test_the_customer_page_offers_export_and_erase_to_admins(carla, admin):
    page = client_for(admin).get(f"/customers/{carla.customer.pk}/")
    assert b"Export personal data" in page.content
    assert f"/customers/{carla.customer.pk}/privacy/erase".encode() in page.content


@pytest.mark.parametrize("who", ["anonymous", "customer", "agent"])
def test_strangers_cannot_export(carla, who, request):
    user = None if who == "anonymous" else request.getfixturevalue({"customer": "customer_user"}.get(who, who))
    response = client_for(user).post(f"/customers/{carla.customer.pk}/privacy/export")
    if who == "anonymous":
        assert response.status_code == 302 and "/accounts/login" in response["Location"]
    else:
        assert response.status_code == 403
    assert not AuditEvent.objects.filter(action="privacy.exported").exists()


def test_export_is_post_only(carla, admin):
    assert client_for(admin).get(f"/customers/{carla.customer.pk}/privacy/export").status_code == 405


def test_an_unknown_customer_is_not_found(admin):
    assert client_for(admin).post("/customers/999999/privacy/export").status_code == 404


# --- The portal ----------------------------------------------------------------------------------------


def _request_and_mail(client, django_capture_on_commit_callbacks) -> str:  # type: ignore[no-untyped-def]
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post("/portal/my-data")
    assert response.status_code == 302
    (message,) = [m for m in mail.outbox if "personal data" in m.subject]
    assert message.to == ["Carla Rossi <carla@example.com>"]
    (link,) = re.findall(r"https?://\S+/portal/my-data/download/\S+", message.body)
    return link.split("://", 1)[1].split("/", 1)[1]


def test_a_customer_gets_a_link_that_only_she_can_follow(
    carla, customer_user, stranger, agent, django_capture_on_commit_callbacks
):
    client = client_for(customer_user)
    assert b"Send me a copy of my data" in client.get("/portal/my-data").content
    path = "/" + _request_and_mail(client, django_capture_on_commit_callbacks)
    export = DataExport.objects.get(customer=carla.customer)
    assert export.state == ExportState.READY and export.expires_at > timezone.now() + timedelta(days=6)

    archive = _archive(client.get(path))
    assert _json(archive, "customer.json")["name"] == "Carla Rossi"
    assert archive.read(_json(archive, "mail/index.json")[0]["file"]) == carla.raw_bytes
    assert DataExport.objects.get(pk=export.pk).downloaded_at is not None

    # Another customer, an agent, a visitor: none of them gets it.
    other = client_for(stranger).get(path)
    assert other.status_code == 403  # a signed-in user without a customer file
    from sportello.customers.models import Customer

    Customer.objects.create(name="Sam", user=stranger)
    assert client_for(stranger).get(path).status_code == 404
    assert client_for(agent).get(path).status_code == 403
    anonymous = client_for(None).get(path)
    assert anonymous.status_code == 302 and "/portal/sign-in" in anonymous["Location"]
    # A forged or altered link.
    assert client.get(path[:-3] + "xyz").status_code == 404
    actions = AuditEvent.objects.filter(action__startswith="privacy.").order_by("id").values_list("action", flat=True)
    assert list(actions) == ["privacy.export_requested", "privacy.exported"]


def test_the_link_expires_with_its_archive(carla, customer_user, django_capture_on_commit_callbacks):
    from sportello.privacy.exporting import expire_exports

    client = client_for(customer_user)
    path = "/" + _request_and_mail(client, django_capture_on_commit_callbacks)
    export = DataExport.objects.get(customer=carla.customer)
    stored = export.file.path
    assert expire_exports(now=timezone.now() + timedelta(days=8)) == 1
    import os

    assert not os.path.exists(stored)
    assert client.get(path).status_code == 404


def test_one_request_at_a_time(carla, customer_user):
    client = client_for(customer_user)
    assert client.post("/portal/my-data").status_code == 302  # the task waits for the commit: still pending
    second = client.post("/portal/my-data")
    assert second.status_code == 409
    assert b"already being prepared" in second.content
    assert DataExport.objects.count() == 1


@pytest.mark.parametrize("who", ["anonymous", "agent", "admin"])
def test_the_portal_page_is_for_customers(who, request):
    user = None if who == "anonymous" else request.getfixturevalue(who)
    response = client_for(user).get("/portal/my-data")
    if who == "anonymous":
        assert response.status_code == 302 and "/portal/sign-in" in response["Location"]
    else:
        assert response.status_code == 403
    assert client_for(user).post("/portal/my-data").status_code in {302, 403}
    assert not DataExport.objects.exists()
