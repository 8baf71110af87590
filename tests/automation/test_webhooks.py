"""Outgoing webhooks against a real HTTP server on loopback: signed, retried, failures kept."""

from __future__ import annotations

import hashlib
import hmac
import json
import threading
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
import time_machine
from django.utils import timezone

from sportello.automation.models import WebhookCall
from sportello.automation.webhooks import retry_due_webhooks
from tests.servers import free_port

pytestmark = pytest.mark.django_db


class Receiver:
    """A webhook receiver that answers with the statuses it is given, in turn, and keeps requests."""

    def __init__(self, statuses: list[int]) -> None:
        self.statuses = statuses
        self.requests: list[tuple[dict[str, str], bytes]] = []
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers["Content-Length"]))
                receiver.requests.append((dict(self.headers), body))
                status = receiver.statuses.pop(0) if receiver.statuses else 200
                self.send_response(status)
                self.end_headers()

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", free_port()), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hook"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()


@pytest.fixture(autouse=True)
def loopback_allowed(settings):
    """These receivers run on loopback, which webhooks refuse unless an admin allows the host."""
    settings.WEBHOOK_ALLOW_HOSTS = ["127.0.0.1"]


@pytest.fixture
def receiver():
    made: list[Receiver] = []

    def make(statuses: list[int] | None = None) -> Receiver:
        made.append(Receiver(statuses or []))
        return made[-1]

    yield make
    for r in made:
        r.server.shutdown()


def test_a_trigger_posts_a_signed_payload(make_trigger, write_in, receiver):
    hook = receiver()
    make_trigger("ticket_created", actions=[{"type": "webhook", "url": hook.url, "secret": "s3cret"}])
    ticket = write_in()
    [(headers, body)] = hook.requests
    payload = json.loads(body)
    assert payload["ticket"]["number"] == ticket.number and payload["reason"].startswith("Trigger")
    expected = hmac.new(b"s3cret", headers["X-Sportello-Timestamp"].encode() + b"." + body, hashlib.sha256)
    assert headers["X-Sportello-Signature"] == f"sha256={expected.hexdigest()}"
    assert WebhookCall.objects.get().state == WebhookCall.State.SENT


def test_a_failing_receiver_is_retried_with_backoff_then_given_up(make_trigger, write_in, receiver):
    hook = receiver([500, 503, 502, 500, 500])
    make_trigger("ticket_created", actions=[{"type": "webhook", "url": hook.url}])
    write_in()
    call = WebhookCall.objects.get()
    assert (call.state, call.attempts, call.last_status) == (WebhookCall.State.RETRYING, 1, 500)
    assert call.next_attempt_at - timezone.now() > timedelta(seconds=50)
    later = timezone.now()
    for delay in (1, 5, 30, 120):
        later += timedelta(minutes=delay, seconds=1)
        with time_machine.travel(later):
            assert retry_due_webhooks() == 1
    call.refresh_from_db()
    assert (call.state, call.attempts) == (WebhookCall.State.FAILED, 5)
    assert "500" in call.last_error and len(hook.requests) == 5


def test_a_4xx_answer_fails_at_once_and_an_unreachable_receiver_is_retried(make_trigger, write_in, receiver):
    hook = receiver([410])
    closed = f"http://127.0.0.1:{free_port()}/nobody"
    make_trigger("ticket_created", actions=[{"type": "webhook", "url": hook.url}, {"type": "webhook", "url": closed}])
    write_in()
    gone, unreachable = WebhookCall.objects.order_by("id")
    assert gone.state == WebhookCall.State.FAILED and gone.last_status == 410
    assert unreachable.state == WebhookCall.State.RETRYING and "Could not reach" in unreachable.last_error


def test_a_call_whose_worker_died_is_sent_again_once_with_the_same_delivery_id(
    make_trigger, write_in, receiver, monkeypatch
):
    from sportello.core import outbox

    class BrokenQueue:
        def enqueue(self, *args: object) -> None:
            raise ConnectionError("the task queue is down")

    hook = receiver()
    make_trigger("ticket_created", actions=[{"type": "webhook", "url": hook.url}])
    monkeypatch.setattr("sportello.core.tasks.drain_message", BrokenQueue())
    write_in()  # the call is logged and in the outbox, but its task never ran
    monkeypatch.undo()
    # A worker claims it, marks it sending, and is killed before the receiver is called.
    assert outbox.claim() is not None
    WebhookCall.objects.update(state=WebhookCall.State.SENDING, attempts=1)
    assert retry_due_webhooks() == 0 and hook.requests == []  # its lease holds
    with time_machine.travel(timezone.now() + outbox.LEASE + timedelta(seconds=1)):
        assert retry_due_webhooks() == 1
        assert retry_due_webhooks() == 0
    call = WebhookCall.objects.get()
    [(headers, _body)] = hook.requests
    assert call.state == WebhookCall.State.SENT and headers["X-Sportello-Delivery"] == str(call.pk)
