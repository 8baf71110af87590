"""The rules for custom-field values: each type's shape, errors naming the field, required fields."""

from __future__ import annotations

import pytest

from sportello.core.errors import InvalidInput
from sportello.fields.services import clean_values, definitions, merged, search_text
from tests.fields.conftest import make_field


def test_each_type_cleans_to_its_stored_shape(ticket_fields):
    cleaned = clean_values(
        "ticket",
        {
            "order_number": "  ORD-1042 ",
            "quantity": "12,5",
            "delivered_on": "2026-12-03",
            "product": "Gadget",
            "colours": ["Blue", "Red", "Blue"],
            "gift": "on",
        },
    )
    assert cleaned == {
        "order_number": "ORD-1042",
        "quantity": 12.5,
        "delivered_on": "2026-12-03",
        "product": "Gadget",
        "colours": ["Red", "Blue"],  # the choices' order, once each
        "gift": True,
    }
    assert clean_values("ticket", {"quantity": 3.0, "gift": False})["quantity"] == 3


@pytest.mark.parametrize(
    ("key", "value", "message"),
    [
        ("order_number", 12, "must be text"),
        ("order_number", "x" * 1001, "at most 1000 characters"),
        ("quantity", "twelve", "must be a number"),
        ("quantity", True, "must be a single value"),
        ("quantity", "nan", "must be a number"),
        ("delivered_on", "03/12/2026", "must be a date"),
        ("product", "Sprocket", "is not one of its choices"),
        ("colours", ["Purple"], "is not one of its choices"),
        ("colours", "Red,Green", "is not one of its choices"),
        ("colours", [1], "must be a list of choices"),
        ("gift", "maybe", "must be true or false"),
    ],
)
def test_a_wrong_value_names_the_field(ticket_fields, key, value, message):
    with pytest.raises(InvalidInput) as err:
        clean_values("ticket", {key: value})
    assert err.value.details["field"] == f"custom_fields.{key}"
    assert message in err.value.message


def test_unknown_and_inactive_fields_are_refused(ticket_fields):
    with pytest.raises(InvalidInput) as err:
        clean_values("ticket", {"colour": "Red"})
    assert err.value.details["field"] == "custom_fields.colour"
    ticket_fields["gift"].active = False
    ticket_fields["gift"].save()
    with pytest.raises(InvalidInput):
        clean_values("ticket", {"gift": True})
    # A customer field is not a ticket field.
    make_field("tier", "text", target="customer")
    with pytest.raises(InvalidInput):
        clean_values("ticket", {"tier": "Gold"})
    assert clean_values("customer", {"tier": "Gold"}) == {"tier": "Gold"}


def test_required_fields(ticket_fields):
    ticket_fields["product"].required = True
    ticket_fields["product"].save()
    with pytest.raises(InvalidInput, match="is required"):
        clean_values("ticket", {"order_number": "x"}, creating=True)
    with pytest.raises(InvalidInput, match="is required"):
        clean_values("ticket", {"product": ""})
    assert clean_values("ticket", {"order_number": "x"}) == {"order_number": "x"}  # an update leaves it


def test_empty_values_remove_the_key(ticket_fields):
    cleaned = clean_values("ticket", {"order_number": "", "colours": [], "quantity": None})
    assert merged({"order_number": "A", "colours": ["Red"], "quantity": 2, "gift": True}, cleaned) == {"gift": True}


def test_definitions_are_kept_until_one_changes(ticket_fields, django_assert_num_queries):
    from sportello.core import lookups

    stamp = lookups.read_stamp()
    definitions("ticket", stamp=stamp)
    with django_assert_num_queries(0):
        assert [d.key for d in definitions("ticket", stamp=stamp)][:2] == ["order_number", "quantity"]
    ticket_fields["quantity"].label = "Pieces"
    ticket_fields["quantity"].save()
    new_stamp = lookups.read_stamp()
    assert new_stamp != stamp
    assert definitions("ticket", stamp=new_stamp)[1].label == "Pieces"


def test_search_text_holds_the_words_and_their_pieces():
    words = search_text({"a": "ORD-1", "b": ["Red", "Blue"], "c": 3, "d": True}).split("\n")
    assert words == ["ORD-1", "ORD 1", "Red", "Blue", "3"]
