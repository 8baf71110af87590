"""Every automation settings page and action: admins only."""

from __future__ import annotations

import pytest

from sportello.automation.models import Macro, TimeRule, Trigger, WebhookCall
from tests.conftest import client_for

pytestmark = pytest.mark.django_db


@pytest.fixture
def rules(db):
    trigger = Trigger.objects.create(name="T", event="ticket_created", actions=[{"type": "add_tags", "tags": ["x"]}])
    rule = TimeRule.objects.create(name="R", hours=1, actions=[{"type": "add_tags", "tags": ["x"]}])
    macro = Macro.objects.create(name="M")
    call = WebhookCall.objects.create(url="https://a.example/", state="failed")
    return trigger, rule, macro, call


def pages(rules) -> list[tuple[str, str]]:
    trigger, rule, macro, call = rules
    return [
        ("get", "/settings/triggers/"),
        ("get", "/settings/triggers/new/"),
        ("get", f"/settings/triggers/{trigger.pk}/"),
        ("post", f"/settings/triggers/{trigger.pk}/"),
        ("get", f"/settings/triggers/{trigger.pk}/delete/"),
        ("post", f"/settings/triggers/{trigger.pk}/delete/"),
        ("get", "/settings/time-rules/"),
        ("get", "/settings/time-rules/new/"),
        ("get", f"/settings/time-rules/{rule.pk}/"),
        ("get", f"/settings/time-rules/{rule.pk}/delete/"),
        ("post", f"/settings/time-rules/{rule.pk}/delete/"),
        ("get", "/settings/macros/"),
        ("get", "/settings/macros/new/"),
        ("get", f"/settings/macros/{macro.pk}/"),
        ("get", f"/settings/macros/{macro.pk}/delete/"),
        ("post", f"/settings/macros/{macro.pk}/delete/"),
        ("get", "/settings/webhooks/"),
        ("post", "/settings/webhooks/test/"),
        ("post", f"/settings/webhooks/calls/{call.pk}/retry/"),
    ]


def test_strangers_are_sent_to_sign_in(client, rules):
    for method, url in pages(rules):
        response = getattr(client, method)(url, {"confirmed": "yes"} if method == "post" else {})
        assert response.status_code == 302 and "/accounts/login/" in response["Location"], url


def test_customers_and_agents_who_are_not_admins_are_refused(customer_user, agent, rules):
    for user in (customer_user, agent):
        client = client_for(user)
        for method, url in pages(rules):
            # With the confirmation a delete asks for: refused all the same.
            data = {"confirmed": "yes"} if method == "post" else {}
            assert getattr(client, method)(url, data).status_code == 403, (user.username, url)
    assert Trigger.objects.count() == TimeRule.objects.count() == Macro.objects.count() == 1
    assert WebhookCall.objects.get().state == "failed"


def test_admins_reach_every_page_and_find_them_in_the_menu(admin, rules):
    client = client_for(admin)
    for method, url in pages(rules):
        if method == "get":
            assert client.get(url).status_code == 200, url
    menu = client.get("/settings/").content.decode()
    for url in ("/settings/triggers/", "/settings/time-rules/", "/settings/macros/", "/settings/webhooks/"):
        assert f'href="{url}"' in menu
