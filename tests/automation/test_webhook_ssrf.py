"""Webhooks reach public internet addresses only, judged by the address a name resolves to (SSRF).

Only loopback is used: refused addresses are never connected to, so 10.x and 169.254.169.254
cost nothing; resolving public names is simulated.
"""

from __future__ import annotations

import socket
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from sportello.automation import webhooks
from sportello.automation.models import WebhookCall
from tests.automation.test_webhooks import Receiver
from tests.servers import free_port

pytestmark = pytest.mark.django_db


@pytest.fixture
def listening():
    hook = Receiver([])
    yield hook
    hook.server.shutdown()


def test_internal_addresses_are_refused_with_one_message_whatever_listens(settings, make_trigger, write_in, listening):
    settings.WEBHOOK_ALLOW_HOSTS = []
    port = listening.server.server_address[1]
    urls = [
        f"http://127.0.0.1:{port}/hook",  # an open port
        f"http://127.0.0.1:{free_port()}/hook",  # a closed one
        "http://10.0.0.1/hook",  # private: would time out if tried
        "http://192.168.1.1:8080/hook",
        "http://169.254.169.254/latest/meta-data/",  # the cloud metadata service
        f"http://[::1]:{port}/hook",
        f"http://[::ffff:127.0.0.1]:{port}/hook",  # IPv4-mapped IPv6
        f"http://0x7f000001:{port}/hook",  # hex
        f"http://2130706433:{port}/hook",  # decimal
        f"http://0177.0.0.1:{port}/hook",  # octal
        f"http://127.1:{port}/hook",
        f"http://localhost:{port}/hook",
        f"http://LocalHost:{port}/hook",
        f"http://user@127.0.0.1:{port}/hook",
        "http://0.0.0.0/hook",
    ]
    make_trigger("ticket_created", actions=[{"type": "webhook", "url": url} for url in urls])
    write_in()
    calls = list(WebhookCall.objects.order_by("id"))
    assert len(calls) == len(urls) and listening.requests == []
    assert {(call.state, call.last_status, call.attempts) for call in calls} == {(WebhookCall.State.FAILED, None, 1)}
    assert {call.last_error for call in calls} == {webhooks.REFUSED}  # open, closed, silent: all alike


class Redirecting:
    """A loopback receiver that answers every POST with a redirect to `location`."""

    def __init__(self, location: str) -> None:
        self.hits = 0
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                outer.hits += 1
                self.rfile.read(int(self.headers["Content-Length"]))
                self.send_response(307)
                self.send_header("Location", location)
                self.end_headers()

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", free_port()), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hook"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()


@pytest.mark.parametrize("target", ["internal", "metadata", "hex"])
def test_a_redirect_is_not_followed_even_from_an_allowed_host(settings, make_trigger, write_in, listening, target):
    settings.WEBHOOK_ALLOW_HOSTS = ["127.0.0.1"]
    port = listening.server.server_address[1]
    location = {
        "internal": f"http://localhost:{port}/admin",
        "metadata": "http://169.254.169.254/latest/meta-data/",
        "hex": f"http://0x7f000001:{port}/admin",
    }[target]
    redirecting = Redirecting(location)
    try:
        make_trigger("ticket_created", actions=[{"type": "webhook", "url": redirecting.url}])
        write_in()
    finally:
        redirecting.server.shutdown()
    call = WebhookCall.objects.get()
    assert redirecting.hits == 1 and listening.requests == []
    assert (call.state, call.last_status) == (WebhookCall.State.FAILED, 307)
    assert "redirects are not followed" in call.last_error


def test_the_checked_address_is_the_one_connected_to(settings, monkeypatch, make_trigger, write_in):
    """DNS rebinding: a name that answers a public address, then loopback, is called at the first."""
    settings.WEBHOOK_ALLOW_HOSTS = []
    answers = iter(["93.184.216.34", "127.0.0.1"])
    lookups: list[str] = []
    connected: list[tuple[str, int]] = []

    def getaddrinfo(host, port, *args, **kwargs):  # type: ignore[no-untyped-def]
        lookups.append(host)
        return [(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP, "", (next(answers), port))]

    def create_connection(address, *args, **kwargs):  # type: ignore[no-untyped-def]
        connected.append(address)
        raise ConnectionRefusedError(111, "Connection refused")

    monkeypatch.setattr(webhooks.socket, "getaddrinfo", getaddrinfo)
    monkeypatch.setattr(webhooks.socket, "create_connection", create_connection)
    make_trigger("ticket_created", actions=[{"type": "webhook", "url": "http://rebind.example.test/hook"}])
    write_in()
    assert lookups == ["rebind.example.test"] and connected == [("93.184.216.34", 80)]
    assert WebhookCall.objects.get().state == WebhookCall.State.RETRYING  # an allowed address, unreachable


@pytest.mark.parametrize(
    ("address", "public"),
    [
        ("8.8.8.8", True),
        ("2606:4700:4700::1111", True),
        ("127.0.0.1", False),
        ("10.1.2.3", False),
        ("172.16.0.1", False),
        ("192.168.0.1", False),
        ("169.254.169.254", False),
        ("100.64.0.1", False),  # shared address space (carrier NAT)
        ("0.0.0.0", False),
        ("224.0.0.1", False),  # multicast
        ("255.255.255.255", False),
        ("::1", False),
        ("::", False),
        ("fe80::1", False),
        ("fe80::1%eth0", False),
        ("fd00::1", False),
        ("::ffff:10.0.0.1", False),  # IPv4-mapped
        ("2002:7f00:1::", False),  # 6to4 around 127.0.0.1
        ("2002:808:808::", True),  # 6to4 around 8.8.8.8
        ("64:ff9b::a9fe:a9fe", False),  # NAT64 around 169.254.169.254
    ],
)
def test_public_addresses(address, public):
    assert webhooks.public_address(address) is public
