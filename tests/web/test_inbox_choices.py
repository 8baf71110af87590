"""The inbox's filter bar: its dropdowns come from the per-process lookups and follow changes."""

from __future__ import annotations

import re

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from sportello.accounts.models import Group, Role
from sportello.tickets.models import Status, StatusCategory
from tests.conftest import client_for, make_user
from tests.web.conftest import page_text

pytestmark = pytest.mark.django_db


def _options(html: str, name: str) -> list[str]:
    select = re.search(rf'<select[^>]*name="{name}"[^>]*>(.*?)</select>', html, re.S)
    assert select is not None, name
    return re.findall(r"<option[^>]*>([^<]*)</option>", select.group(1))


def test_the_filter_bar_reads_no_table_of_choices_on_a_repeated_view(agent):
    client = client_for(agent)
    client.get(reverse("inbox"))
    with CaptureQueriesContext(connection) as queries:
        html = page_text(client.get(reverse("inbox")))
    assert not [q["sql"] for q in queries if 'FROM "tickets_status"' in q["sql"] or 'FROM "accounts_group"' in q["sql"]]
    assert not [q["sql"] for q in queries if 'FROM "accounts_user" WHERE ("accounts_user"."is_active"' in q["sql"]]
    assert "Alice Agent" in _options(html, "assignee") and "First level" in _options(html, "group")


def test_the_filter_bar_follows_new_and_deactivated_choices(agent, agent2):
    client = client_for(agent)
    client.get(reverse("inbox"))
    Group.objects.create(name="Field service", tier=3)
    Status.objects.create(name="Waiting for parts", slug="waiting-parts", category=StatusCategory.ON_HOLD)
    make_user("dora_new", Role.ADMIN)
    agent2.is_active = False
    agent2.save()
    html = page_text(client.get(reverse("inbox")))
    assert "Field service" in _options(html, "group") and "Waiting for parts" in _options(html, "status")
    assert "Dora New" in _options(html, "assignee") and "Bob Agent" not in _options(html, "assignee")


def test_a_sign_in_does_not_make_the_choices_read_again(agent, agent2):
    client = client_for(agent)
    client.get(reverse("inbox"))
    client_for(agent2)  # a sign-in saves the user's last_login
    with CaptureQueriesContext(connection) as queries:
        client.get(reverse("inbox"))
    assert not [q["sql"] for q in queries if 'FROM "accounts_group"' in q["sql"]]
