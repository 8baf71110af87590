"""/settings/branding/: name, logo, primary colour and support address, shown on every page."""

from __future__ import annotations

import io

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from PIL import Image

from sportello.core import branding
from sportello.core.models import Branding
from tests.conftest import client_for

pytestmark = pytest.mark.django_db

PAGE = "/settings/branding/"


def png(size: tuple[int, int] = (40, 20)) -> SimpleUploadedFile:
    data = io.BytesIO()
    Image.new("RGB", size, (31, 95, 191)).save(data, "PNG")
    return SimpleUploadedFile("logo.png", data.getvalue(), content_type="image/png")


def post(client, **data):  # type: ignore[no-untyped-def]
    fields = {"product_name": "Acme Help", "primary_color": "", "support_address": "", **data}
    return client.post(PAGE, fields)


def test_name_colour_logo_and_address_show_in_the_header_and_the_stylesheet(admin, agent, client):
    response = post(client_for(admin), primary_color="#0A7", support_address="help@acme.test", logo=png())
    assert response.status_code == 422  # #00aa77 is too light on white
    assert "has a contrast of 3.0:1 on white" in response.content.decode()
    assert not Branding.objects.exists()  # nothing of a refused form is kept, not even the logo
    response = post(client_for(admin), primary_color="#0A5", support_address="help@acme.test", logo=png())
    assert response.status_code == 422
    response = post(client_for(admin), primary_color="#06c", support_address="help@acme.test", logo=png())
    assert response.status_code == 302
    row = Branding.objects.get()
    assert (row.product_name, row.primary_color, row.support_address, row.logo_type) == (
        "Acme Help",
        "#0066cc",
        "help@acme.test",
        "image/png",
    )
    page = client_for(agent).get(reverse("inbox")).content.decode()
    assert "Acme Help</a>" in page and "· Acme Help</title>" in page
    brand = branding.current()
    assert f'<link rel="stylesheet" href="/settings/branding/style.css?v={brand.version}">' in page
    assert f'<img src="{brand.logo_url}" alt="" height="24">' in page
    css = client.get("/settings/branding/style.css").content.decode()
    assert "--color-accent: #0066cc;" in css
    logo = client.get(brand.logo_url)
    assert logo.status_code == 200 and logo["Content-Type"] == "image/png"
    assert b"".join(logo.streaming_content).startswith(b"\x89PNG")


@pytest.mark.parametrize(
    ("upload", "message"),
    [
        (
            SimpleUploadedFile("logo.png", b"not a picture at all", content_type="image/png"),
            "is not a PNG, JPEG, GIF or WebP picture",
        ),
        (
            SimpleUploadedFile(
                "logo.svg",
                b'<svg xmlns="http://www.w3.org/2000/svg"><script>alert(1)</script></svg>',
                content_type="image/svg+xml",
            ),
            "is not a PNG, JPEG, GIF or WebP picture",
        ),
        (
            SimpleUploadedFile("logo.png", b"\x89PNG\r\n\x1a\n" + b"\0" * 600_000, content_type="image/png"),
            "is too large",
        ),
        (SimpleUploadedFile("logo.png", b"\x89PNG\r\n\x1a\n" + b"\0" * 100, content_type="image/png"), "is not a PNG"),
    ],
)
def test_a_bad_logo_is_refused_with_a_message_and_nothing_is_stored(admin, upload, message):
    response = post(client_for(admin), logo=upload)
    assert response.status_code == 422
    assert message in response.content.decode()
    assert not Branding.objects.exists()


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"primary_color": "blue"}, "Write the colour as a hex code such as #1f5fbf."),
        ({"primary_color": "#12345g"}, "Write the colour as a hex code"),
        ({"product_name": "   "}, "This field is required."),
        ({"support_address": "not an address"}, "Enter a valid email address."),
    ],
)
def test_bad_values_are_refused_with_a_message(admin, data, message):
    response = post(client_for(admin), **data)
    assert response.status_code == 422
    assert message in response.content.decode()
    assert not Branding.objects.exists()


def test_replacing_and_removing_the_logo_and_the_default_brand(admin, agent, django_capture_on_commit_callbacks):
    page = client_for(agent).get(reverse("inbox")).content.decode()
    assert "Sportello</a>" in page and "branding/style.css" not in page
    client = client_for(admin)
    post(client, logo=png())
    first = Branding.objects.get().logo
    storage, first_name = first.storage, first.name
    with django_capture_on_commit_callbacks(execute=True):
        post(client, logo=png((10, 10)))
    second = Branding.objects.get().logo.name
    assert second != first_name and storage.exists(second) and not storage.exists(first_name)
    with django_capture_on_commit_callbacks(execute=True):
        post(client, remove_logo="on")
    assert not Branding.objects.get().logo
    assert not storage.exists(second)
    assert client.get("/settings/branding/logo").status_code == 404


def test_pages_read_the_branding_without_a_query_of_their_own(admin, agent):
    post(client_for(admin), product_name="Acme Help")
    client = client_for(agent)
    client.get(reverse("inbox"))  # warm up: this process reads the branding once for the version
    with CaptureQueriesContext(connection) as queries:
        assert "Acme Help" in client.get(reverse("inbox")).content.decode()
    assert not [q for q in queries if "core_branding" in q["sql"]]
    post(client_for(admin), product_name="Acme Support")  # a change is seen on the next page
    assert "Acme Support</a>" in client.get(reverse("inbox")).content.decode()


@pytest.mark.parametrize("method", ["get", "post"])
def test_strangers_customers_and_agents_are_refused(client, agent, customer_user, method):
    data = {"product_name": "Evil"}
    response = getattr(client, method)(PAGE, data)
    assert response.status_code == 302 and "/accounts/login/" in response["Location"]
    assert getattr(client_for(customer_user), method)(PAGE, data).status_code in (302, 403)
    assert getattr(client_for(agent), method)(PAGE, data).status_code == 403
    assert not Branding.objects.exists()
