"""Security headers on every kind of page: a Content-Security-Policy without inline scripts,
Referrer-Policy, nosniff, framing refused except where a page is made to be embedded, and HSTS
plus Secure cookies when the site says it is served over HTTPS."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from django.test import Client, override_settings

from sportello.chat.models import ChatChannel
from tests.conftest import client_for

pytestmark = pytest.mark.django_db

SRC = Path(__file__).resolve().parents[2] / "src" / "sportello"


def policy(response) -> dict[str, list[str]]:  # type: ignore[no-untyped-def]
    header = response["Content-Security-Policy"]
    return {part.split()[0]: part.split()[1:] for part in header.split(";") if part.strip()}


def assert_strict(response) -> dict[str, list[str]]:  # type: ignore[no-untyped-def]
    directives = policy(response)
    assert directives["default-src"] == ["'self'"]
    assert "'unsafe-inline'" not in directives["script-src"] and "'unsafe-eval'" not in directives["script-src"]
    assert "'unsafe-inline'" not in directives["style-src"]
    assert directives["object-src"] == ["'none'"]
    assert response["Referrer-Policy"] == "strict-origin-when-cross-origin"
    assert response["X-Content-Type-Options"] == "nosniff"
    return directives


@pytest.mark.parametrize(
    ("who", "path"),
    [
        ("agent", "/"),
        ("agent", "/tickets/{number}/"),
        ("agent", "/chat/console"),
        ("agent", "/search/?q=printer"),
        (None, "/accounts/login/"),
        (None, "/help/"),
        (None, "/help/en/"),
        (None, "/portal/sign-in"),
        ("customer_user", "/portal/"),
        (None, "/support/new"),
        (None, "/api/v1/docs"),
        ("agent", "/api/v1/tickets"),
        ("admin", "/admin/"),
        ("admin", "/admin/automation/groupassignment/"),
        (None, "/no/such/page"),
    ],
)
def test_every_kind_of_page_carries_the_policy_and_may_not_be_framed(request, who, path, ticket):
    client = client_for(request.getfixturevalue(who)) if who else Client()
    response = client.get(path.format(number=ticket.number), HTTP_HOST="localhost:8123")
    assert response.status_code in (200, 302, 404)
    directives = assert_strict(response)
    assert directives["frame-ancestors"] == ["'none'"]
    assert response["X-Frame-Options"] == "DENY"
    # The chat console and the agents' live updates open a websocket to the page's own host.
    assert {"'self'", "ws://localhost:8123", "wss://localhost:8123"} <= set(directives["connect-src"])


def test_the_embeddable_web_form_may_be_framed_by_any_site_as_before():
    response = Client().get("/support/embed")
    directives = assert_strict(response)
    assert "frame-ancestors" not in directives
    assert "X-Frame-Options" not in response


def test_the_chat_widget_script_loads_on_other_sites(db):
    ChatChannel.objects.get_or_create(key="website", defaults={"name": "Website"})
    response = Client().get("/chat/widget.js", HTTP_ORIGIN="https://shop.example.com")
    assert response.status_code == 200
    assert response["Access-Control-Allow-Origin"] == "*"
    assert response["Cross-Origin-Resource-Policy"] == "cross-origin"


def test_no_template_holds_an_inline_script_handler_or_style():
    """What the policy would block in a browser is not in the templates in the first place."""
    found = []
    for template in SRC.rglob("templates/**/*.html"):
        if "/mail/" in str(template.relative_to(SRC)) and "body" in template.name:
            continue  # mail bodies are read in mail programs, not under our policy
        text = template.read_text()
        found += [f"{template.relative_to(SRC)}: {m}" for m in re.findall(r"\son[a-z]+\s*=", text)]
        found += [f"{template.relative_to(SRC)}: javascript:" for _ in re.findall(r"javascript:", text)]
        found += [f"{template.relative_to(SRC)}: {m}" for m in re.findall(r"<script(?![^>]*\bsrc=)[^>]*>", text)]
        found += [f"{template.relative_to(SRC)}: {m}" for m in re.findall(r"<style\b|\sstyle=\"", text)]
    assert found == []


def test_over_https_cookies_are_secure_and_browsers_are_told_to_stay_on_https(agent):
    with override_settings(SESSION_COOKIE_SECURE=True, CSRF_COOKIE_SECURE=True, SECURE_HSTS_SECONDS=31536000):
        client = Client()
        page = client.get("/accounts/login/", secure=True)
        assert page["Strict-Transport-Security"] == "max-age=31536000"
        assert page.cookies["csrftoken"]["secure"] is True
        agent.set_password("a long password")
        agent.save()
        signed_in = client.post(
            "/accounts/login/",
            {"username": agent.username, "password": "a long password"},
            secure=True,
        )
        assert signed_in.cookies["sessionid"]["secure"] is True


def test_secure_cookies_and_hsts_follow_the_environment(tmp_path):
    """SPORTELLO_SECURE_COOKIES is read when the settings load: in a fresh process, not by reloading ours."""
    script = (
        "import json, sportello.settings as s; "
        "print(json.dumps([s.SESSION_COOKIE_SECURE, s.CSRF_COOKIE_SECURE, s.SECURE_HSTS_SECONDS]))"
    )

    def read(value: str | None) -> list[object]:
        env = {k: v for k, v in os.environ.items() if k != "SPORTELLO_SECURE_COOKIES"}
        env |= {"SPORTELLO_DATA_DIR": str(tmp_path), "SPORTELLO_SECRET_KEY": "x" * 50}
        if value is not None:
            env["SPORTELLO_SECURE_COOKIES"] = value
        result = subprocess.run([sys.executable, "-c", script], env=env, capture_output=True, text=True, check=True)
        return json.loads(result.stdout)

    assert read("1") == [True, True, 365 * 24 * 3600]
    assert read(None) == [False, False, 0]
