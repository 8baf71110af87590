"""The Django admin: every registered model opens; built-in statuses cannot be deleted."""

from __future__ import annotations

import pytest
from django.contrib import admin
from django.urls import reverse

from sportello.tickets import statuses
from sportello.tickets.models import Status, StatusCategory
from tests.conftest import client_for

pytestmark = pytest.mark.django_db

EXPECTED = {
    "accounts.user", "accounts.group", "accounts.apitoken", "customers.organization", "customers.customer",
    "tickets.status", "tickets.category", "tickets.tag", "tickets.ticket", "tickets.entry",
}  # fmt: skip


def test_the_models_admins_need_are_registered():
    registered = {model._meta.label_lower for model in admin.site._registry}
    assert registered >= EXPECTED


@pytest.mark.parametrize("label", sorted(EXPECTED))
def test_changelists_and_search_open(admin, ticket, label):
    app, model = label.split(".")
    client = client_for(admin)
    url = reverse(f"admin:{app}_{model}_changelist")
    assert client.get(url).status_code == 200
    assert client.get(url, {"q": "carla"}).status_code == 200


def test_ticket_and_customer_pages_open(admin, ticket):
    client = client_for(admin)
    assert client.get(reverse("admin:tickets_ticket_change", args=[ticket.pk])).status_code == 200
    html = client.get(reverse("admin:customers_customer_change", args=[ticket.customer_id])).content.decode()
    assert "carla@example.com" in html  # identities inline


def test_tickets_cannot_be_added_or_edited_in_admin(admin, ticket):
    client = client_for(admin)
    assert client.get(reverse("admin:tickets_ticket_add")).status_code == 403
    response = client.post(reverse("admin:tickets_ticket_change", args=[ticket.pk]), {"subject": "hacked"})
    assert response.status_code == 403
    ticket.refresh_from_db()
    assert ticket.subject == "Printer on fire"


def test_builtin_status_cannot_be_deleted_but_a_custom_one_can(admin):
    client = client_for(admin)
    builtin = statuses.builtin(StatusCategory.OPEN)
    assert client.post(reverse("admin:tickets_status_delete", args=[builtin.pk]), {"post": "yes"}).status_code == 403
    assert Status.objects.filter(pk=builtin.pk).exists()
    custom = Status.objects.create(name="Waiting for vendor", slug="waiting-vendor", category=StatusCategory.ON_HOLD)
    assert client.post(reverse("admin:tickets_status_delete", args=[custom.pk]), {"post": "yes"}).status_code == 302
    assert not Status.objects.filter(pk=custom.pk).exists()


def test_admin_adds_a_status_with_a_category(admin):
    response = client_for(admin).post(
        reverse("admin:tickets_status_add"),
        {"name": "Escalated", "slug": "escalated", "category": StatusCategory.OPEN, "position": 25},
    )
    assert response.status_code == 302
    assert Status.objects.get(slug="escalated").category == StatusCategory.OPEN


def test_api_token_hash_is_read_only(admin, agent):
    from sportello.accounts.models import ApiToken

    token, _key = ApiToken.issue(agent, "ci")
    client = client_for(admin)
    html = client.get(reverse("admin:accounts_apitoken_change", args=[token.pk])).content.decode()
    assert token.key_hash in html and 'name="key_hash"' not in html
    assert client.get(reverse("admin:accounts_apitoken_add")).status_code == 403


def test_non_staff_agent_cannot_open_admin(agent):
    response = client_for(agent).get(reverse("admin:index"))
    assert response.status_code == 302 and "/admin/login/" in response["Location"]
