"""The call log and click to dial, in the API and on the customer's page; the pop-up's include."""

from __future__ import annotations

import threading
from http.server import BaseHTTPRequestHandler, HTTPServer
from urllib.parse import parse_qs

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from sportello.phone.models import CtiAccount, CtiKind
from tests.conftest import api_client, client_for
from tests.phone.conftest import events_of, post_generic

pytestmark = pytest.mark.django_db

API = "/api/v1"


class PBX:
    """A PBX's dial-out endpoint on loopback: records each request, answers `status`."""

    def __init__(self, status: int = 200) -> None:
        self.requests: list[dict[str, list[str]]] = []
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length", 0))
                outer.requests.append(parse_qs(self.rfile.read(length).decode()))
                self.send_response(status)
                self.end_headers()
                self.wfile.write(b"{}")

            def log_message(self, *args: object) -> None:
                return

        self.server = HTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/dial?secret=abc"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def pbx():
    server = PBX()
    yield server
    server.close()


def test_the_call_log_lists_calls_newest_first(cti, emma):
    _account, token = cti
    for event in events_of("generic_inbound_missed.json"):
        post_generic(token, event)
    calls = api_client(emma).get(f"{API}/phone/calls?state=missed").json()
    assert [(c["state"], c["from_number"], c["account"]) for c in calls] == [("missed", "+492214710334", "sipgate")]
    assert calls[0]["ticket"] is not None
    assert api_client(emma).get(f"{API}/phone/calls?state=answered").json() == []
    assert api_client(emma).get(f"{API}/phone/calls?state=nonsense").status_code == 422


def test_dialling_out_posts_to_the_pbx(cti, emma, pbx):
    account, _token = cti
    account.outbound_url = pbx.url
    account.save()
    response = api_client(emma).post(f"{API}/phone/dial", {"number": "0221 4710334"}, content_type="application/json")
    assert response.status_code == 200, response.content
    assert response.json() == {"number": "+492214710334", "account": "sipgate"}
    assert pbx.requests == [
        {"number": ["+492214710334"], "user": ["Emma Taylor"], "username": ["emma"], "email": ["emma@chrispresso.com"]}
    ]


def test_a_pbx_that_refuses_is_502_and_shown_on_the_account(cti, emma):
    server = PBX(status=503)
    try:
        account, _token = cti
        account.outbound_url = server.url
        account.save()
        response = api_client(emma).post(
            f"{API}/phone/dial", {"number": "+492214710334"}, content_type="application/json"
        )
    finally:
        server.close()
    assert response.status_code == 502
    assert "503" in response.json()["detail"]
    account.refresh_from_db()
    assert "dial-out answered 503" in account.last_error


def test_dialling_without_a_dialer_or_a_number_is_422(cti, emma, pbx):
    response = api_client(emma).post(f"{API}/phone/dial", {"number": "+492214710334"}, content_type="application/json")
    assert response.status_code == 422 and "tel:" in response.json()["detail"]
    account, _token = cti
    account.outbound_url = pbx.url
    account.save()
    response = api_client(emma).post(f"{API}/phone/dial", {"number": "not a number"}, content_type="application/json")
    assert response.status_code == 422
    assert pbx.requests == []


def test_a_light_agent_may_not_dial(cti, light_agent):
    response = api_client(light_agent).post(
        f"{API}/phone/dial", {"number": "+492214710334"}, content_type="application/json"
    )
    assert response.status_code == 403


def test_phone_numbers_on_the_customer_page_are_links(agent, customer, pbx):
    customer.identities.create(kind="phone", value="+493055571600")
    page = client_for(agent).get(f"/customers/{customer.pk}/").content.decode()
    assert 'href="tel:+493055571600"' in page
    assert "data-dial" not in page and 'id="phone-popup"' not in page  # no CTI account: no pop-up
    CtiAccount.objects.create(name="Asterisk", kind=CtiKind.GENERIC, outbound_url=pbx.url)
    page = client_for(agent).get(f"/customers/{customer.pk}/").content.decode()
    assert 'data-dial="/api/v1/phone/dial"' in page
    assert 'id="phone-popup"' in page and 'data-socket="/ws/agent/phone/"' in page


def test_the_pop_up_costs_a_page_no_query_once_cached(agent, cti):
    client = client_for(agent)
    client.get("/inbox/")  # fills the cache
    with CaptureQueriesContext(connection) as first:
        client.get("/inbox/")
    CtiAccount.objects.create(name="Other", kind=CtiKind.GENERIC)  # saving forgets the flags
    with CaptureQueriesContext(connection) as second:
        client.get("/inbox/")
    assert not [q for q in first.captured_queries if "phone_ctiaccount" in q["sql"]]
    assert len([q for q in second.captured_queries if "phone_ctiaccount" in q["sql"]]) == 1


def test_customers_never_see_the_pop_up(customer_user, cti):
    page = client_for(customer_user).get("/portal/").content.decode()
    assert "phone-popup" not in page


def test_the_ticket_pages_customer_card_dials_too(agent, cti):
    from sportello.customers.services import Sender
    from sportello.tickets.intake import Inbound, ingest

    ticket = ingest(
        Inbound(
            channel="phone", sender=Sender(name="Lina", phone="+493023125741"), body_text="Call me", acknowledge=False
        )
    ).ticket
    page = client_for(agent).get(f"/tickets/{ticket.number}/").content.decode()
    assert 'href="tel:+493023125741"' in page


def test_the_call_log_costs_the_same_queries_for_few_calls_or_many(cti, emma):
    _account, token = cti
    client = api_client(emma)

    def queries() -> int:
        with CaptureQueriesContext(connection) as captured:
            assert client.get(f"{API}/phone/calls").status_code == 200
        return len(captured)

    def calls(first: int, last: int) -> None:
        for n in range(first, last):
            for event in events_of("generic_inbound_answered.json"):
                post_generic(token, [(k, f"call-{n}" if k == "callId" else v) for k, v in event])

    calls(0, 1)
    queries()  # the token's check is cached after the first request
    few = queries()
    calls(1, 6)
    assert queries() == few == 1  # calls with their account, agent, customer and ticket: one statement
