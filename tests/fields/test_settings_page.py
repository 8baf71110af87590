"""The admins' settings page for custom fields: add, edit, reorder, deactivate; others refused."""

from __future__ import annotations

import pytest
from django.urls import reverse

from sportello.fields.models import CustomField
from tests.conftest import client_for
from tests.fields.conftest import make_field
from tests.web.conftest import page_text

pytestmark = pytest.mark.django_db


def test_an_admin_adds_a_choice_field_with_choices_one_per_line(admin):
    client = client_for(admin)
    assert client.get(reverse("fields:settings")).status_code == 200
    response = client.post(
        reverse("fields:settings"),
        {
            "target": "ticket",
            "label": "Product",
            "key": "",
            "type": "choice",
            "choices_text": "Widget\r\n  Gadget \r\n\r\nWidget\r\nGizmo",
            "position": "100",
            "help_text": "What they bought",
            "active": "on",
        },
    )
    assert response.status_code == 302
    field = CustomField.objects.get()
    assert (field.key, field.type, field.choices, field.active) == (
        "product",
        "choice",
        ["Widget", "Gadget", "Gizmo"],
        True,
    )
    html = page_text(client.get(reverse("fields:settings")))
    assert "Product" in html and "<code>product</code>" in html and "Widget, Gadget, Gizmo" in html


def test_a_choice_field_needs_choices_and_keys_are_unique(admin):
    make_field("product", "text")
    client = client_for(admin)
    data = {"target": "ticket", "label": "Product", "key": "", "type": "choice", "choices_text": "", "position": "1"}
    response = client.post(reverse("fields:settings"), data)
    assert response.status_code == 422
    html = page_text(response)
    assert "Write the choices, one per line." in html and "Another field of these objects has this key." in html
    # The same key on customers is another field.
    response = client.post(reverse("fields:settings"), {**data, "target": "customer", "choices_text": "A\nB"})
    assert response.status_code == 302
    assert CustomField.objects.filter(target="customer", key="product").exists()


def test_editing_keeps_key_type_and_target_and_edits_choices(admin):
    field = make_field("product", "choice", choices=["A", "B"])
    client = client_for(admin)
    html = page_text(client.get(reverse("fields:edit", args=[field.pk])))
    assert "A\nB</textarea>" in html
    response = client.post(
        reverse("fields:edit", args=[field.pk]),
        {
            "target": "customer",
            "key": "other",
            "type": "text",
            "label": "Model",
            "choices_text": "A\nB\nC",
            "position": "5",
            "active": "on",
        },
    )
    assert response.status_code == 302
    field.refresh_from_db()
    assert (field.label, field.key, field.type, field.target, field.choices) == (
        "Model",
        "product",
        "choice",
        "ticket",
        ["A", "B", "C"],
    )


def test_reorder_and_deactivate(admin):
    first, second, third = (make_field(key, "text", position=i) for i, key in enumerate(["a_one", "b_two", "c_three"]))
    client = client_for(admin)
    client.post(reverse("fields:move", args=[third.pk]), {"direction": "up"})
    order = list(CustomField.objects.order_by("position", "id").values_list("key", flat=True))
    assert order == ["a_one", "c_three", "b_two"]
    client.post(reverse("fields:move", args=[first.pk]), {"direction": "up"})  # first already: stays
    assert CustomField.objects.order_by("position", "id").values_list("key", flat=True).first() == "a_one"
    client.post(reverse("fields:active", args=[second.pk]), {"active": "false"})
    second.refresh_from_db()
    assert second.active is False
    assert "(hidden)" in page_text(client.get(reverse("fields:settings")))


@pytest.mark.parametrize("persona", ["agent", "customer_user", "stranger"])
def test_agents_and_customers_are_refused(request, persona):
    field = make_field("product", "choice", choices=["A"])
    client = client_for(request.getfixturevalue(persona))
    for method, url, data in [
        ("get", reverse("fields:settings"), None),
        ("post", reverse("fields:settings"), {"target": "ticket", "label": "X", "type": "text", "position": "1"}),
        ("get", reverse("fields:edit", args=[field.pk]), None),
        ("post", reverse("fields:edit", args=[field.pk]), {"label": "Hacked", "position": "1"}),
        ("post", reverse("fields:move", args=[field.pk]), {"direction": "up"}),
        ("post", reverse("fields:active", args=[field.pk]), {"active": "false"}),
    ]:
        response = getattr(client, method)(url, data or {})
        assert response.status_code == 403, (persona, url)
    field.refresh_from_db()
    assert (field.label, field.active, CustomField.objects.count()) == ("Product", True, 1)


def test_the_admin_finds_the_page_in_settings_and_agents_do_not(admin, agent):
    assert 'href="/settings/fields/"' in page_text(client_for(admin).get("/settings/"))
    assert 'href="/settings/"' not in page_text(client_for(agent).get(reverse("inbox")))


def test_django_admin_lists_the_fields(admin):
    make_field("product", "choice", choices=["A"])
    admin.is_staff = admin.is_superuser = True
    admin.save()
    assert "product" in page_text(client_for(admin).get("/admin/fields/customfield/"))
