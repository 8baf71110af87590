"""Data from outside systems on the customer page, against a real HTTP server on loopback."""

from __future__ import annotations

import hashlib
import hmac
import json
import threading
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from django.core.cache import cache
from django.urls import reverse

from sportello.customers.integrations import panels_for
from sportello.customers.models import Integration
from tests.conftest import client_for

pytestmark = pytest.mark.django_db

SHOP_ANSWER = {
    "summary": "Customer since 2019, 2 orders",
    "orders": [
        {"id": "A-1001", "date": "2026-11-30", "status": "shipped", "total": 59.9, "currency": "EUR",
         "items": ["Coffee grinder"], "url": "https://shop.example/o/A-1001"},
        {"id": "<b>A-1002</b>", "url": "javascript:alert(1)"},
    ],
    "subscriptions": [{"name": "Beans monthly", "status": "active", "renews_at": "2027-01-01"}],
    "links": [{"label": "Open in the shop", "url": "https://shop.example/c/12"}],
    "fields": [{"label": "Lifetime value", "value": "1,240 EUR"}],
    "something_else": {"ignored": True},
}  # fmt: skip


class Shop:
    """A local HTTP endpoint: records each call; `answer(handler)` writes the response."""

    def __init__(self) -> None:
        self.calls: list[dict[str, Any]] = []
        self.answer: Callable[[BaseHTTPRequestHandler], None] = self.json(SHOP_ANSWER)
        self.release = threading.Event()
        shop = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers["Content-Length"]))
                shop.calls.append({"headers": dict(self.headers), "body": body})
                shop.answer(self)

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/sportello"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    @staticmethod
    def json(data: Any, status: int = 200) -> Callable[[BaseHTTPRequestHandler], None]:
        def write(handler: BaseHTTPRequestHandler) -> None:
            content = json.dumps(data).encode() if not isinstance(data, bytes) else data
            handler.send_response(status)
            handler.send_header("Content-Type", "application/json")
            handler.send_header("Content-Length", str(len(content)))
            handler.end_headers()
            handler.wfile.write(content)

        return write


@pytest.fixture
def shop(settings) -> Iterator[Shop]:  # type: ignore[no-untyped-def]
    settings.WEBHOOK_ALLOW_HOSTS = ["127.0.0.1"]  # an internal system: plain http allowed
    cache.clear()
    found = Shop()
    yield found
    found.release.set()
    found.server.shutdown()
    found.server.server_close()
    cache.clear()


@pytest.fixture
def integration(shop) -> Integration:  # type: ignore[no-untyped-def]
    return Integration.objects.create(name="Shop orders", url=shop.url, secret="s3cret", timeout_seconds=1)


def panel_html(agent, customer) -> str:  # type: ignore[no-untyped-def]
    response = client_for(agent).get(reverse("customer-integrations", args=[customer.pk]))
    assert response.status_code == 200
    return response.content.decode()


def test_the_call_is_signed_and_carries_the_identities(agent, customer, shop, integration):
    panel_html(agent, customer)
    [call] = shop.calls
    body, headers = call["body"], call["headers"]
    expected = hmac.new(b"s3cret", headers["X-Sportello-Timestamp"].encode() + b"." + body, hashlib.sha256)
    assert headers["X-Sportello-Signature"] == f"sha256={expected.hexdigest()}"
    assert json.loads(body)["customer"] == {
        "id": customer.pk, "name": "Carla Rossi", "organization": None, "language": "en",
        "emails": ["carla@example.com"], "phones": [], "social": [],
    }  # fmt: skip


def test_the_answer_is_shown_as_a_panel_with_unsafe_links_dropped(agent, customer, integration):
    html = panel_html(agent, customer)
    assert "Shop orders" in html and "Customer since 2019, 2 orders" in html
    assert '<a href="https://shop.example/o/A-1001"' in html and "59.9 EUR" in html and "Coffee grinder" in html
    assert "&lt;b&gt;A-1002&lt;/b&gt;" in html and "javascript:" not in html
    assert "Beans monthly" in html and "renews 2027-01-01" in html
    assert "Open in the shop" in html and "Lifetime value" in html


def test_the_answer_is_cached_and_asked_again_for_a_new_address(agent, customer, shop, integration):
    from sportello.customers.services import add_identity

    panel_html(agent, customer)
    panel_html(agent, customer)
    assert len(shop.calls) == 1
    add_identity(customer, "phone", "+39 06 1234 5678")
    panel_html(agent, customer)
    assert len(shop.calls) == 2


@pytest.mark.parametrize(
    ("answer", "message"),
    [
        (Shop.json({"detail": "boom"}, status=500), "It answered 500 instead of 200."),
        (Shop.json(b"<html>not json</html>"), "Its answer was not JSON in the documented shape."),
        (Shop.json({"orders": "many"}), "Its answer was not JSON in the documented shape."),
        (Shop.json({"orders": [{"total": {"amount": 3}}]}), "Its answer was not JSON in the documented shape."),
    ],
)
def test_a_failing_system_gives_a_clear_message(agent, customer, shop, integration, answer, message):
    shop.answer = answer
    html = panel_html(agent, customer)
    assert "Shop orders could not be shown:" in html and message in html


def test_a_slow_system_times_out_with_a_message(agent, customer, shop, integration):
    shop.answer = lambda handler: shop.release.wait(60)  # answers only when the test is over
    html = panel_html(agent, customer)
    assert "It did not answer within 1 seconds." in html


def test_a_system_that_is_down_gives_a_message(agent, customer, shop, integration):
    shop.server.shutdown()
    shop.server.server_close()
    html = panel_html(agent, customer)
    assert "could not be reached" in html


def test_plain_http_is_refused_beyond_allowed_hosts(settings, customer):
    settings.WEBHOOK_ALLOW_HOSTS = []
    cache.clear()
    Integration.objects.create(name="Shop", url="http://shop.example/api")
    [panel] = panels_for(customer)
    assert panel.error.startswith("Its address must start with https://")


def test_private_addresses_are_refused(settings, customer):
    settings.WEBHOOK_ALLOW_HOSTS = []
    cache.clear()
    Integration.objects.create(name="Shop", url="https://127.0.0.1:9/api")
    [panel] = panels_for(customer)
    assert panel.error == "Its address is not a public internet address."


def test_the_customer_page_loads_the_panels_after_itself_only_when_there_are_some(agent, customer, integration):
    client = client_for(agent)
    url = reverse("customer", args=[customer.pk])
    assert reverse("customer-integrations", args=[customer.pk]) in client.get(url).content.decode()
    Integration.objects.update(enabled=False)
    assert reverse("customer-integrations", args=[customer.pk]) not in client.get(url).content.decode()


@pytest.mark.parametrize("who", ["customer_user", "stranger"])
def test_strangers_are_refused(request, who, customer, integration, shop):
    response = client_for(request.getfixturevalue(who)).get(reverse("customer-integrations", args=[customer.pk]))
    assert response.status_code == 403
    assert shop.calls == []
