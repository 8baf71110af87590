"""The Django admin as a developer's fallback (issue #15): one "Groups" (Sportello's support
groups), no internals (counters, the task queue's results), and a macro's owner is never a customer."""

from __future__ import annotations

import re

import pytest

from sportello.accounts.models import Role
from tests.conftest import client_for, make_user

pytestmark = pytest.mark.django_db


def test_the_index_lists_one_groups_and_no_internals(admin):
    response = client_for(admin).get("/admin/")
    assert response.status_code == 200
    html = response.content.decode()
    models = re.findall(r'<th scope="row"[^>]*>\s*<a href="[^"]*">([^<]+)</a>', html)
    assert "Macros" in models and "Users" in models, models
    assert models.count("Groups") == 1
    assert 'href="/admin/accounts/group/"' in html and "/admin/auth/group/" not in html
    assert "Counters" not in models and "Task results" not in models
    assert "/admin/core/counter/" not in html and "/admin/django_tasks_db/" not in html
    assert client_for(admin).get("/admin/core/counter/").status_code == 404
    assert client_for(admin).get("/admin/auth/group/").status_code == 404


def test_the_macro_owner_is_an_agent_or_admin_never_a_customer(admin, agent, light_agent, customer_user):
    make_user("dora_departed", Role.AGENT, is_active=False)
    html = client_for(admin).get("/admin/automation/macro/add/").content.decode()
    select = re.search(r'<select name="owner"[^>]*>(.*?)</select>', html, re.S)
    assert select, "the add form has an owner select"
    options = re.findall(r'<option value="(\d*)"[^>]*>([^<]*)</option>', select.group(1))
    names = {label for _value, label in options}
    assert {"ada_admin", "alice_agent", "lucy_light"} <= names
    assert "carla_customer" not in names and "dora_departed" not in names
    assert not any("system" in label.lower() for label in names)
    # A customer posted by hand is refused.
    data = {"name": "Refund", "body": "", "actions": "[]", "owner": str(customer_user.pk), "usage_count": "0"}
    data |= {"created_at_0": "2026-01-01", "created_at_1": "10:00:00"}
    refused = client_for(admin).post("/admin/automation/macro/add/", data)
    assert refused.status_code == 200
    assert "Select a valid choice" in str(refused.context["adminform"].form.errors["owner"])
