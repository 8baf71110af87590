"""CTI accounts in the settings area: added, changed, tested, switched off and deleted by an admin,
secrets never shown again in full; the Twilio test against a local server that answers as Twilio's
Account resource does; strangers, customers and agents refused."""

from __future__ import annotations

import base64
import json
import re
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from sportello.phone import crypto, services
from sportello.phone.models import Call, CallEvent, CtiAccount, CtiKind
from sportello.tickets.models import Ticket
from tests.conftest import client_for
from tests.phone.conftest import events_of, post_generic
from tests.servers import free_port

pytestmark = pytest.mark.django_db

LIST = "/phone/accounts/"
# The SID and token of Twilio's own examples' shape (AC + 32 hex; 32 hex).
SID = "ACaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
TOKEN = "0123456789abcdef0123456789abcdef"
SUSPENDED_SID = "ACbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb"


class TwilioApi:
    """Twilio's Account fetch (https://www.twilio.com/docs/iam/api/account#fetch-an-account-resource):
    `GET /2010-04-01/Accounts/{Sid}.json` with HTTP basic auth answers the Account (`sid`,
    `friendly_name`, `status` active, suspended or closed); wrong credentials answer 401 with
    Twilio's error body (https://www.twilio.com/docs/errors/20003)."""

    def __init__(self) -> None:
        self.requests: list[tuple[str, str]] = []
        api = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                api.requests.append((self.path, self.headers.get("Authorization", "")))
                status, body = api.answer(self.path, self.headers.get("Authorization", ""))
                raw = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(raw)))
                self.end_headers()
                self.wfile.write(raw)

            def log_message(self, *args: Any) -> None:
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"

    def answer(self, path: str, auth: str) -> tuple[int, dict[str, Any]]:
        match = re.fullmatch(r"/2010-04-01/Accounts/(AC[0-9a-f]{32})\.json", path)
        if match is None:
            return 404, {"code": 20404, "message": "The requested resource was not found", "status": 404}
        sid = match.group(1)
        if auth != "Basic " + base64.b64encode(f"{sid}:{TOKEN}".encode()).decode():
            return 401, {"code": 20003, "message": "Authenticate", "more_info": "https://www.twilio.com/docs/errors/20003",
                         "status": 401}  # fmt: skip
        status = "suspended" if sid == SUSPENDED_SID else "active"
        return 200, {"sid": sid, "friendly_name": "Front desk", "status": status, "type": "Full",
                     "owner_account_sid": sid}  # fmt: skip


@pytest.fixture
def twilio_api() -> Iterator[TwilioApi]:
    api = TwilioApi()
    thread = threading.Thread(target=api.httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield api
    finally:
        api.httpd.shutdown()
        api.httpd.server_close()


def twilio_account(api_base: str = "", sid: str = SID, token: str = TOKEN, name: str = "Twilio") -> CtiAccount:
    account = CtiAccount(name=name, kind=CtiKind.TWILIO, region="US", api_base=api_base)
    return services.save_account(account, auth_token=token, account_sid=sid)


def run_test(client, account: CtiAccount) -> str:  # type: ignore[no-untyped-def]
    response = client.post(f"/settings/phone/{account.pk}/test", headers={"HX-Request": "true"})
    assert response.status_code == 200
    return response.content.decode()


def shown_url(html: str) -> str:
    start = html.index('id="new-token-url"><code>') + len('id="new-token-url"><code>')
    return html[start : html.index("</code>", start)]


# --- Adding and changing --------------------------------------------------------------------------------


def test_the_phone_page_offers_both_kinds_and_links_each_account(admin, cti):
    account, _token = cti
    html = client_for(admin).get(LIST).content.decode()
    assert 'href="/settings/phone/new/generic/"' in html and 'href="/settings/phone/new/twilio/"' in html
    assert f'href="/settings/phone/{account.pk}/"' in html and "/admin/phone/" not in html


def test_an_admin_adds_a_pbx_and_its_webhook_url_is_shown_once(admin):
    client = client_for(admin)
    form = client.get("/settings/phone/new/generic/").content.decode()
    assert 'name="forward_to"' not in form and 'name="auth_token"' not in form  # Twilio's only
    response = client.post(
        "/settings/phone/new/generic/",
        {"name": "Placetel", "active": "on", "region": "de", "outbound_url": "pbx.example.com/dial"},
    )
    assert response.status_code == 200 and response["Cache-Control"].startswith("max-age=0")
    url = shown_url(response.content.decode())
    key = url.rsplit("/", 1)[1]
    account = CtiAccount.objects.get(name="Placetel")
    assert account.kind == CtiKind.GENERIC and account.region == "DE" and account.active
    assert account.outbound_url == "https://pbx.example.com/dial"
    assert key.startswith("spc_") and key not in account.token_hash
    assert post_generic(key, events_of("generic_inbound_missed.json")[0]).status_code == 200
    page = client.get(f"/settings/phone/{account.pk}/").content.decode()
    assert key not in page and f"/phone/cti/{key[:8]}…" in page


def test_an_admin_adds_a_twilio_account_and_its_credentials_are_never_shown_again(admin):
    client = client_for(admin)
    data = {"name": "Twilio", "active": "on", "region": "us", "forward_to": "+1 (415) 555-2671",
            "account_sid": SID, "auth_token": TOKEN}  # fmt: skip
    response = client.post("/settings/phone/new/twilio/", data)
    account = CtiAccount.objects.get(name="Twilio")
    assert response.status_code == 302 and response["Location"] == f"/settings/phone/{account.pk}/"
    assert account.forward_to == "+14155552671" and account.region == "US"
    assert crypto.unseal(account.secret_sealed) == TOKEN and TOKEN not in account.secret_sealed
    assert crypto.unseal(account.account_sid_sealed) == SID and SID not in account.account_sid_sealed
    for page in (client.get(f"/settings/phone/{account.pk}/"), client.get(LIST)):
        html = page.content.decode()
        assert TOKEN not in html and SID not in html
    html = client.get(f"/settings/phone/{account.pk}/").content.decode()
    assert "Stored (…cdef). Left empty, it stays." in html and "Stored (…aaaa)" in html
    assert f"/phone/twilio/{account.pk}" in html

    # Left empty, the stored credentials stay; a new token replaces the old one.
    edit = {"name": "Twilio US", "active": "on", "region": "US", "forward_to": "sip:desk@pbx.example.com"}
    assert client.post(f"/settings/phone/{account.pk}/", edit).status_code == 302
    account.refresh_from_db()
    assert account.name == "Twilio US" and account.forward_to == "sip:desk@pbx.example.com"
    assert crypto.unseal(account.secret_sealed) == TOKEN and crypto.unseal(account.account_sid_sealed) == SID
    other = "fedcba9876543210fedcba9876543210"
    assert client.post(f"/settings/phone/{account.pk}/", {**edit, "auth_token": other}).status_code == 302
    account.refresh_from_db()
    assert crypto.unseal(account.secret_sealed) == other and account.secret_hint == "…3210"


TWILIO = {"name": "Twilio", "active": "on", "region": "US", "account_sid": SID, "auth_token": TOKEN}


@pytest.mark.parametrize(
    ("kind", "values", "field", "message"),
    [
        ("twilio", {"forward_to": "12345"}, "forward_to", "Not a phone number that can be called"),
        ("twilio", {"forward_to": "+999 123"}, "forward_to", "write it with its country code, as +493055571600"),
        ("twilio", {"forward_to": "sip:<desk>"}, "forward_to", "Not a SIP address"),
        ("twilio", {"account_sid": "AC123"}, "account_sid", "An Account SID is AC followed by 32"),
        ("twilio", {"account_sid": "SK" + "a" * 32}, "account_sid", "An Account SID is AC followed by 32"),
        ("twilio", {"account_sid": ""}, "account_sid", "This field is required"),
        ("twilio", {"auth_token": "secret"}, "auth_token", "An auth token is 32 letters a-f and digits"),
        ("twilio", {"api_base": "not a url"}, "api_base", "Enter a valid URL"),
        ("generic", {"region": "XX"}, "region", "XX is not a country code"),
        ("generic", {"outbound_url": "ftp://pbx"}, "outbound_url", "Enter a valid URL"),
        ("generic", {"outbound_url": "ftp://pbx.example.com/dial"}, "outbound_url", "starting with https://"),
        ("twilio", {"api_base": "ftp://twilio.example.com"}, "api_base", "starting with https://"),
        ("generic", {"name": ""}, "name", "This field is required"),
    ],
)
def test_each_bad_value_is_refused_with_what_to_write(admin, kind, values, field, message):
    data = {**(TWILIO if kind == "twilio" else {"name": "PBX", "active": "on"}), **values}
    response = client_for(admin).post(f"/settings/phone/new/{kind}/", data)
    assert response.status_code == 422
    assert message in " ".join(response.context["form"].errors[field])
    assert message.replace("'", "&#x27;") in response.content.decode()
    assert not CtiAccount.objects.exists()


def test_a_name_taken_is_refused_and_an_unknown_kind_is_not_found(admin, cti):
    client = client_for(admin)
    response = client.post("/settings/phone/new/generic/", {"name": "sipgate", "active": "on"})
    assert response.status_code == 422 and "already exists" in response.content.decode()
    assert client.get("/settings/phone/new/skype/").status_code == 404


# --- Test ----------------------------------------------------------------------------------------------


def test_the_pbx_test_posts_a_sample_call_through_the_webhook_and_leaves_nothing(admin, cti, emma):
    account, token = cti
    html = run_test(client_for(admin), account)
    assert 'data-ok="true"' in html and "a sample call (newCall, hangup) was accepted and recorded" in html
    assert not Call.objects.exists() and not CallEvent.objects.exists() and not Ticket.objects.exists()
    account.refresh_from_db()
    assert account.last_event_at is None and not account.last_error
    # The PBX's own URL still works after the test.
    assert post_generic(token, events_of("generic_inbound_missed.json")[0]).status_code == 200


def test_the_pbx_test_says_what_is_missing(admin, cti):
    account, _token = cti
    client = client_for(admin)
    services.set_active(account, False)
    assert "This account is switched off" in run_test(client, account)
    fresh = CtiAccount.objects.create(name="New PBX")
    html = run_test(client, fresh)
    assert 'data-ok="false"' in html and "press “Create URL”" in html


def test_the_twilio_test_fetches_the_account_from_twilio(admin, twilio_api):
    client = client_for(admin)
    account = twilio_account(twilio_api.url)
    html = run_test(client, account)
    assert 'data-ok="true"' in html and "Connected: the Twilio account Front desk." in html
    path, auth = twilio_api.requests[-1]
    assert path == f"/2010-04-01/Accounts/{SID}.json"
    assert auth == "Basic " + base64.b64encode(f"{SID}:{TOKEN}".encode()).decode()

    services.save_account(account, auth_token="f" * 32)
    html = run_test(client, account)
    assert 'data-ok="false"' in html
    assert "Twilio refused the Account SID and auth token: Authenticate (code 20003)." in html

    suspended = twilio_account(twilio_api.url, sid=SUSPENDED_SID, name="Old")
    assert "Twilio knows the account Front desk, but it is suspended." in run_test(client, suspended)


def test_a_twilio_that_cannot_be_reached_is_said_in_words(admin):
    client = client_for(admin)
    account = twilio_account(f"http://127.0.0.1:{free_port()}")
    assert "127.0.0.1 refused the connection." in run_test(client, account)
    account.api_base = "https://api.example.invalid"
    account.save()
    html = run_test(client, account)
    assert "The server name api.example.invalid could not be found." in html and "gaierror" not in html


def test_a_twilio_account_without_its_sid_asks_for_it(admin):
    account = CtiAccount.objects.create(name="Legacy", kind=CtiKind.TWILIO)
    services.set_secret(account, TOKEN)
    assert "Enter the Account SID first." in run_test(client_for(admin), account)


def test_without_javascript_the_result_comes_back_as_a_message(admin, cti):
    account, _token = cti
    response = client_for(admin).post(f"/settings/phone/{account.pk}/test", {"back": "edit"}, follow=True)
    assert response.redirect_chain[-1][0] == f"/settings/phone/{account.pk}/"
    assert "sipgate: The webhook takes this account&#x27;s events" in response.content.decode()


# --- Switching off and deleting ---------------------------------------------------------------------------


def test_switched_off_the_webhook_refuses_events_and_on_takes_them_again(admin, cti):
    account, token = cti
    client = client_for(admin)
    event = events_of("generic_inbound_missed.json")[0]
    assert client.post(f"/settings/phone/{account.pk}/active", {"active": "0"}).status_code == 302
    assert post_generic(token, event).status_code == 401
    assert "inactive" in client.get(LIST).content.decode()
    client.post(f"/settings/phone/{account.pk}/active", {"active": "1"})
    assert post_generic(token, event).status_code == 200


def test_deleting_asks_first_and_says_what_goes_with_it(admin, cti):
    account, token = cti
    for event in events_of("generic_inbound_missed.json"):
        post_generic(token, event)
    client = client_for(admin)
    html = client.get(f"/settings/phone/{account.pk}/delete").content.decode()
    assert "Its call log (1 call) and 2 events as received are deleted with it." in html
    client.post(f"/settings/phone/{account.pk}/delete", {})  # not confirmed: nothing happens
    assert CtiAccount.objects.filter(pk=account.pk).exists()
    response = client.post(f"/settings/phone/{account.pk}/delete", {"confirmed": "yes"})
    assert response.status_code == 302 and response["Location"] == LIST
    assert not CtiAccount.objects.exists() and Ticket.objects.count() == 1  # the missed call's ticket stays
    assert post_generic(token, events_of("generic_inbound_missed.json")[0]).status_code == 401


# --- Who may --------------------------------------------------------------------------------------------


def test_strangers_go_to_sign_in_and_customers_and_agents_are_refused(client, agent, customer_user, cti):
    account, _token = cti
    urls = [
        ("get", "/settings/phone/new/generic/"),
        ("post", "/settings/phone/new/generic/"),
        ("post", "/settings/phone/new/twilio/"),
        ("get", f"/settings/phone/{account.pk}/"),
        ("post", f"/settings/phone/{account.pk}/"),
        ("post", f"/settings/phone/{account.pk}/test"),
        ("post", f"/settings/phone/{account.pk}/active"),
        ("get", f"/settings/phone/{account.pk}/delete"),
        ("post", f"/settings/phone/{account.pk}/delete"),
    ]
    data = {"name": "Changed", "active": "0", "confirmed": "yes", "account_sid": SID, "auth_token": TOKEN}
    for method, url in urls:
        response = getattr(client, method)(url, data)
        assert response.status_code == 302 and "/accounts/login/" in response["Location"], url
        for user in (customer_user, agent):
            assert getattr(client_for(user), method)(url, data).status_code == 403, (url, user)
    account.refresh_from_db()
    assert account.active and account.name == "sipgate" and CtiAccount.objects.count() == 1
