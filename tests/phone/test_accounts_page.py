"""The admins' phone page: each CTI account's webhook, health and quarantine; a new URL shown once."""

from __future__ import annotations

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from sportello.phone.models import CtiAccount, CtiKind
from tests.conftest import client_for
from tests.phone.conftest import events_of, post_generic

pytestmark = pytest.mark.django_db

PAGE = "/phone/accounts/"


def test_admins_see_each_accounts_health_and_the_quarantine(admin, cti, twilio, emma):
    account, token = cti
    for event in events_of("generic_inbound_missed.json"):
        post_generic(token, event)
    post_generic(token, events_of("generic_unreadable.json")[0])
    html = client_for(admin).get(PAGE).content.decode()
    row = html[html.index(f'data-account="{account.pk}"') :]
    row = row[: row.index("</tr>")]
    assert "sipgate" in row and f"/phone/cti/{token[:8]}…" in row and token not in html
    assert '<td class="quarantined">1</td>' in row and '<td class="missed">1</td>' in row
    assert "quarantined an event: Unknown event &#x27;transfer&#x27;" in row
    assert f"/phone/twilio/{twilio.pk}" in html and "Auth token …2345" in html
    assert "Unknown event &#x27;transfer&#x27;: expected newCall, answer or hangup" in html


def test_a_new_url_is_shown_once_and_the_old_one_stops_working(admin, cti):
    account, old = cti
    response = client_for(admin).post(f"/phone/accounts/{account.pk}/token")
    html = response.content.decode()
    start = html.index('id="new-token-url"><code>') + len('id="new-token-url"><code>')
    url = html[start : html.index("</code>", start)]
    new = url.rsplit("/", 1)[1]
    assert new.startswith("spc_") and new != old
    assert response["Cache-Control"].startswith("max-age=0")
    assert post_generic(old, events_of("generic_inbound_missed.json")[0]).status_code == 401
    assert post_generic(new, events_of("generic_inbound_missed.json")[0]).status_code == 200
    assert new not in client_for(admin).get(PAGE).content.decode()


def test_agents_and_customers_are_refused(agent, customer_user, cti):
    account, _token = cti
    assert client_for(agent).get(PAGE).status_code == 403
    assert client_for(agent).post(f"/phone/accounts/{account.pk}/token").status_code == 403
    assert client_for(customer_user).get(PAGE).status_code == 403
    assert client_for(None).get(PAGE).status_code == 302  # to sign in


def test_the_page_costs_the_same_queries_for_one_account_or_many(admin, cti):
    client = client_for(admin)
    client.get(PAGE)

    def count() -> int:
        with CaptureQueriesContext(connection) as queries:
            assert client.get(PAGE).status_code == 200
        return len(queries)

    one = count()
    for i in range(5):
        CtiAccount.objects.create(name=f"PBX {i}", kind=CtiKind.GENERIC, last_error="x")
    client.get(PAGE)  # the pop-up's flags, forgotten by the new accounts, are read again once
    assert count() == one


def test_an_admin_adds_accounts_in_the_admin_and_secrets_are_never_stored_plain(admin):
    client = client_for(admin)
    response = client.post(
        "/admin/phone/ctiaccount/add/",
        {"name": "Placetel", "kind": "generic", "active": "on", "region": "de", "outbound_url": ""},
        follow=True,
    )
    assert response.status_code == 200
    shown = [str(m) for m in response.context["messages"]]
    url = next(m for m in shown if "/phone/cti/spc_" in m).rsplit(" ", 1)[1]
    account = CtiAccount.objects.get(name="Placetel")
    assert account.region == "DE" and account.token_hash and url.rsplit("/", 1)[1] not in account.token_hash
    assert post_generic(url.rsplit("/", 1)[1], events_of("generic_inbound_missed.json")[0]).status_code == 200

    response = client.post(
        "/admin/phone/ctiaccount/add/",
        {"name": "Twilio", "kind": "twilio", "active": "on", "region": "US", "secret": "0123456789abcdef"},
        follow=True,
    )
    twilio = CtiAccount.objects.get(name="Twilio")
    assert "0123456789abcdef" not in twilio.secret_sealed and twilio.secret_hint == "…cdef"
    changelist = client.get("/admin/phone/ctiaccount/").content.decode()
    assert "0123456789abcdef" not in changelist and "…cdef" in changelist
    assert "No event yet" in changelist and "OK" in changelist
