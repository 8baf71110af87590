"""The webhooks page: the triggers' webhooks, a signed test call to a real server on loopback,
the delivery log with its filters, and a retry of a failed call."""

from __future__ import annotations

import hashlib
import hmac
import threading
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from django.utils import timezone

from sportello.automation.models import Trigger, WebhookCall
from sportello.automation.webhooks import REFUSED
from tests.conftest import client_for
from tests.servers import free_port

pytestmark = pytest.mark.django_db


class Receiver:
    """Answers every POST with `status` and `body`, and keeps what it was sent."""

    def __init__(self, status: int = 200, body: bytes = b'{"ok": true, "thanks": "received"}') -> None:
        self.requests: list[tuple[dict[str, str], bytes]] = []
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                data = self.rfile.read(int(self.headers["Content-Length"]))
                receiver.requests.append((dict(self.headers), data))
                self.send_response(status)
                if 300 <= status < 400:
                    self.send_header("Location", "http://127.0.0.1:1/elsewhere")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", free_port()), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hook"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()


@pytest.fixture
def receiver():
    made: list[Receiver] = []

    def make(status: int = 200, body: bytes = b'{"ok": true, "thanks": "received"}') -> Receiver:
        made.append(Receiver(status, body))
        return made[-1]

    yield make
    for r in made:
        r.server.shutdown()
        r.server.server_close()


@pytest.fixture
def loopback_allowed(settings):
    settings.WEBHOOK_ALLOW_HOSTS = ["127.0.0.1"]


def signature_ok(headers: dict[str, str], body: bytes, key: bytes) -> bool:
    expected = hmac.new(key, headers["X-Sportello-Timestamp"].encode() + b"." + body, hashlib.sha256).hexdigest()
    return headers["X-Sportello-Signature"] == f"sha256={expected}"


def test_a_test_call_is_signed_like_real_calls_and_shows_status_time_and_answer(admin, receiver, loopback_allowed):
    hook = receiver(body=b'{"ok": true, "thanks": "received"}')
    response = client_for(admin).post("/settings/webhooks/test/", {"url": hook.url, "secret": "s3cret"})
    html = response.content.decode()
    assert response.status_code == 200
    [(headers, body)] = hook.requests
    assert signature_ok(headers, body, b"s3cret")
    assert headers["X-Sportello-Delivery"].startswith("test-") and b'"test":true' in body
    assert "<dd data-status>200</dd>" in html
    assert " ms</dd>" in html
    assert "&quot;thanks&quot;: &quot;received&quot;" in html
    assert not WebhookCall.objects.exists()  # a test call is not a delivery


def test_a_triggers_webhook_is_tested_with_its_own_secret(admin, receiver, loopback_allowed):
    hook = receiver(status=404, body=b"no such hook")
    Trigger.objects.create(
        name="Tell the CRM",
        event="ticket_created",
        actions=[{"type": "add_tags", "tags": ["x"]}, {"type": "webhook", "url": hook.url, "secret": "crm-key"}],
    )
    client = client_for(admin)
    page = client.get("/settings/webhooks/").content.decode()
    assert "Tell the CRM" in page and hook.url in page and "its own secret" in page
    trigger = Trigger.objects.get()
    html = client.post("/settings/webhooks/test/", {"source": f"{trigger.pk}:0"}).content.decode()
    [(headers, body)] = hook.requests
    assert signature_ok(headers, body, b"crm-key")
    assert "<dd data-status>404</dd>" in html and "no such hook" in html
    assert "crm-key" not in html  # the secret never reaches the page
    assert client.post("/settings/webhooks/test/", {"source": f"{trigger.pk}:5"}).status_code == 404


def test_a_test_call_obeys_the_ssrf_rules(admin, receiver, settings):
    settings.WEBHOOK_ALLOW_HOSTS = []
    hook = receiver()
    html = client_for(admin).post("/settings/webhooks/test/", {"url": hook.url}).content.decode()
    assert hook.requests == []
    assert REFUSED.replace("'", "&#x27;") in html
    settings.WEBHOOK_ALLOW_HOSTS = ["127.0.0.1"]
    moved = receiver(status=302)
    html = client_for(admin).post("/settings/webhooks/test/", {"url": moved.url}).content.decode()
    assert "<dd data-status>302</dd>" in html and "Redirects are not followed" in html
    assert len(moved.requests) == 1  # and the Location was not followed


def test_a_bad_url_is_explained(admin):
    response = client_for(admin).post("/settings/webhooks/test/", {"url": "not a url"})
    assert response.status_code == 422
    assert "Enter a valid URL." in response.content.decode()


def make_call(url: str, state: str, trigger: Trigger | None = None, days_ago: int = 0) -> WebhookCall:
    return WebhookCall.objects.create(
        url=url, state=state, trigger=trigger, created_at=timezone.now() - timedelta(days=days_ago), attempts=1
    )


def test_the_log_filters_by_state_trigger_and_date(admin):
    crm = Trigger.objects.create(name="CRM", event="ticket_created", actions=[{"type": "add_tags", "tags": ["x"]}])
    chat = Trigger.objects.create(name="Chat", event="ticket_created", actions=[{"type": "add_tags", "tags": ["x"]}])
    make_call("https://a.example/sent-crm", "sent", crm)
    make_call("https://a.example/failed-crm", "failed", crm)
    make_call("https://a.example/failed-chat-old", "failed", chat, days_ago=10)
    make_call("https://a.example/retrying-chat", "retrying", chat)
    client = client_for(admin)

    def shown(query: str) -> set[str]:
        html = client.get(f"/settings/webhooks/?{query}").content.decode()
        return {path for path in ("sent-crm", "failed-crm", "failed-chat-old", "retrying-chat") if path in html}

    assert shown("") == {"sent-crm", "failed-crm", "failed-chat-old", "retrying-chat"}
    assert shown("state=failed") == {"failed-crm", "failed-chat-old"}
    assert shown(f"trigger={chat.pk}") == {"failed-chat-old", "retrying-chat"}
    since = (timezone.localdate() - timedelta(days=2)).isoformat()
    assert shown(f"state=failed&since={since}") == {"failed-crm"}
    until = (timezone.localdate() - timedelta(days=5)).isoformat()
    assert shown(f"until={until}") == {"failed-chat-old"}
    # A filter that makes no sense is ignored rather than crashing the page.
    assert client.get("/settings/webhooks/?state=bogus&since=yesterday&trigger=x").status_code == 200


def test_a_failed_call_is_sent_again(admin, receiver, loopback_allowed, django_capture_on_commit_callbacks):
    hook = receiver()
    call = make_call(hook.url, "failed")
    WebhookCall.objects.filter(pk=call.pk).update(payload={"reason": "test"}, last_error="The receiver answered 500")
    client = client_for(admin)
    assert "Retry" in client.get("/settings/webhooks/").content.decode()
    back = "/settings/webhooks/?state=failed"
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(f"/settings/webhooks/calls/{call.pk}/retry/", {"next": back})
    assert response.status_code == 302 and response["Location"] == "/settings/webhooks/?state=failed"
    call.refresh_from_db()
    assert (call.state, call.attempts, call.last_status) == ("sent", 2, 200)
    [(headers, _body)] = hook.requests
    assert headers["X-Sportello-Delivery"] == str(call.pk)
    # Only a failed call can go again.
    assert client.post(f"/settings/webhooks/calls/{call.pk}/retry/").status_code == 409
    assert len(hook.requests) == 1
