"""Custom field definitions shared by the tests of tests/fields (and the browser test)."""

from __future__ import annotations

import pytest

from sportello.fields.models import CustomField


def make_field(key: str, type: str, *, target: str = "ticket", **extra: object) -> CustomField:
    return CustomField.objects.create(
        target=target, key=key, label=extra.pop("label", key.replace("_", " ").capitalize()), type=type, **extra
    )


@pytest.fixture
def ticket_fields(db) -> dict[str, CustomField]:
    """One ticket field of each type."""
    return {
        "order_number": make_field("order_number", "text", label="Order number", position=1),
        "quantity": make_field("quantity", "number", position=2),
        "delivered_on": make_field("delivered_on", "date", label="Delivered on", position=3),
        "product": make_field("product", "choice", choices=["Widget", "Gadget", "Gizmo"], position=4),
        "colours": make_field("colours", "multichoice", choices=["Red", "Green", "Blue"], position=5),
        "gift": make_field("gift", "checkbox", position=6),
    }
