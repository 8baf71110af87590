"""Every SLA settings page and action: admins only. Strangers go to sign in, customers and agents
who are not admins are refused, and nothing changes."""

from __future__ import annotations

import pytest
from django.urls import reverse

from sportello.sla.models import Calendar, Policy
from tests.conftest import client_for

pytestmark = pytest.mark.django_db


def pages(policy: Policy, calendar: Calendar) -> list[tuple[str, str]]:
    return [
        ("get", reverse("settings-sla")),
        ("get", reverse("settings-sla-add")),
        ("post", reverse("settings-sla-add")),
        ("get", reverse("settings-sla-edit", args=[policy.pk])),
        ("post", reverse("settings-sla-edit", args=[policy.pk])),
        ("post", reverse("settings-sla-move", args=[policy.pk])),
        ("post", reverse("settings-sla-active", args=[policy.pk])),
        ("get", reverse("settings-calendars")),
        ("get", reverse("settings-calendars-add")),
        ("post", reverse("settings-calendars-add")),
        ("get", reverse("settings-calendars-edit", args=[calendar.pk])),
        ("post", reverse("settings-calendars-edit", args=[calendar.pk])),
        ("post", reverse("settings-calendars-delete", args=[calendar.pk])),
    ]


POSTED = {"name": "Taken over", "position": "1", "warning_minutes": "1", "action": "save", "confirm_all": "on",
          "time_zone": "UTC", "active": "true", "direction": "up"}  # fmt: skip


def test_strangers_go_to_sign_in(client, policy, office):
    for method, url in pages(policy, office):
        response = getattr(client, method)(url, POSTED if method == "post" else None)
        assert response.status_code == 302, url
        assert "/accounts/login/" in response["Location"], url


@pytest.mark.parametrize("who", ["agent", "customer_user"])
def test_agents_who_are_not_admins_and_customers_are_refused(request, who, policy, office):
    client = client_for(request.getfixturevalue(who))
    for method, url in pages(policy, office):
        response = getattr(client, method)(url, POSTED if method == "post" else None)
        assert response.status_code == 403, url
    assert list(Policy.objects.values_list("name", "position", "active")) == [("Default", 100, True)]
    assert list(Calendar.objects.values_list("name", flat=True)) == ["Business hours"]


def test_the_settings_menu_lists_both_pages_for_admins(admin):
    html = client_for(admin).get(reverse("settings")).content.decode()
    assert f'href="{reverse("settings-sla")}"' in html and f'href="{reverse("settings-calendars")}"' in html
