"""The branding where customers see it: help centre, portal, web form, survey page, error pages,
chat widget; read from the per-process copy, so a page costs no query for it."""

from __future__ import annotations

import io

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connection
from django.test import RequestFactory
from django.test.utils import CaptureQueriesContext
from django.views.defaults import server_error
from PIL import Image

from sportello.core import branding
from tests.conftest import client_for
from tests.csat.conftest import solved, survey_links  # noqa: F401 — the solved ticket and its survey mail

pytestmark = pytest.mark.django_db


# Public pages a customer reaches without signing in: the help centre, the portal, the web form.
PUBLIC_PAGES = ["/help/en/", "/help/en/search?q=printer", "/portal/sign-in", "/support/new"]


def png() -> SimpleUploadedFile:
    data = io.BytesIO()
    Image.new("RGB", (40, 20), (31, 95, 191)).save(data, "PNG")
    return SimpleUploadedFile("logo.png", data.getvalue(), content_type="image/png")


def brand_acme(name: str = "Acme Help", **extra: object) -> branding.Brand:
    branding.save_branding(
        product_name=name, primary_color="#0066cc", support_address="help@acme.test", logo=png(), **extra
    )
    return branding.current()


def assert_branded(html: str, brand: branding.Brand, *, header: bool = True) -> None:
    assert f"· {brand.name}</title>" in html
    assert f'<link rel="stylesheet" href="/settings/branding/style.css?v={brand.version}">' in html
    if header:
        assert f'<img src="{brand.logo_url}" alt=""' in html
        assert f"{brand.name}</span>" in html or f"{brand.name}</a>" in html
        assert '<a href="mailto:help@acme.test">help@acme.test</a>' in html


@pytest.mark.parametrize("path", PUBLIC_PAGES)
def test_public_pages_show_the_name_logo_colour_and_support_address(client, path):
    brand = brand_acme()
    response = client.get(path)
    assert response.status_code == 200
    assert_branded(response.content.decode(), brand)
    css = client.get(f"/settings/branding/style.css?v={brand.version}").content.decode()
    assert "--accent: #0066cc;" in css  # the name the help centre's and the form's stylesheets use


def test_the_portal_of_a_signed_in_customer_and_a_ticket_page(customer_user, ticket):
    brand = brand_acme()
    client = client_for(customer_user)
    for path in ("/portal/", f"/portal/tickets/{ticket.number}/"):
        response = client.get(path)
        assert response.status_code == 200, path
        html = response.content.decode()
        assert_branded(html, brand)
        assert "Support portal</span>" in html


def test_the_embedded_web_form_takes_the_colour_but_no_header(client):
    brand = brand_acme()
    html = client.get("/support/embed").content.decode()
    assert_branded(html, brand, header=False)
    assert brand.logo_url not in html and "mailto:" not in html


def test_the_survey_page_is_branded(client, solved):  # noqa: F811 — the fixture imported above
    brand = brand_acme()
    response = client.get(survey_links()["good"])
    assert response.status_code == 200
    assert_branded(response.content.decode(), brand)


def test_the_error_pages_are_branded(client, customer_user, rf: RequestFactory, django_assert_num_queries):
    brand = brand_acme()
    missing = client.get("/help/en/no-such-category/")
    assert missing.status_code == 404
    assert_branded(missing.content.decode(), brand, header=False)
    assert f"{brand.name}</a>" in missing.content.decode()
    refused = client_for(customer_user).get("/reports/")
    assert refused.status_code == 403 and f"{brand.name}</a>" in refused.content.decode()
    # The server error page is drawn with no request context, maybe because the database failed:
    # it takes the branding this process read last and asks nothing.
    with django_assert_num_queries(0):
        html = server_error(rf.get("/")).content.decode()
    assert f"· {brand.name}</title>" in html and brand.logo_url in html and "mailto:help@acme.test" in html


def test_without_a_saved_branding_pages_name_the_default(client):
    html = client.get("/help/en/").content.decode()
    assert '<span class="brand-name">Sportello</span>' in html
    assert "branding/style.css" not in html and "mailto:" not in html


@pytest.mark.parametrize("path", PUBLIC_PAGES)
def test_a_page_reads_the_branding_with_no_query_once_the_process_has_it(path):
    brand_acme()
    client_for(None).get(path)  # an earlier visitor: this process has the branding since
    with CaptureQueriesContext(connection) as queries:
        html = client_for(None).get(path).content.decode()
    assert "Acme Help</span>" in html
    assert not [q["sql"] for q in queries if "core_branding" in q["sql"] or "core_counter" in q["sql"]]


def test_a_changed_branding_shows_on_the_next_page(client):
    brand_acme()
    assert "Acme Help</span>" in client.get("/help/en/").content.decode()
    branding.save_branding(product_name="Acme Care", primary_color="", support_address="")
    html = client.get("/help/en/").content.decode()
    assert "Acme Care</span>" in html and "Acme Help" not in html
    assert "branding/style.css" not in html and "mailto:" not in html
