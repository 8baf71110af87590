"""core.ordering.move_among, the "move up / move down" of statuses, custom fields and help-centre
categories (each page's own tests show the buttons; these pin the helper's edges)."""

from __future__ import annotations

import pytest

from sportello.core.ordering import move_among
from sportello.kb.models import Category

pytestmark = pytest.mark.django_db


def _order() -> list[tuple[str, int]]:
    return list(Category.objects.filter(parent=None).order_by("position", "name").values_list("slug", "position"))


def _siblings():  # type: ignore[no-untyped-def]
    return Category.objects.filter(parent=None).order_by("position", "name", "pk")


def test_rows_with_equal_positions_get_an_unambiguous_order_when_one_moves():
    a, _b, c = (Category.objects.create(name=n, slug=n.lower(), position=100) for n in ("A", "B", "C"))
    assert move_among(_siblings(), c, up=True) is True
    assert _order() == [("a", 10), ("c", 20), ("b", 30)]
    assert move_among(_siblings(), a, up=False, step=1) is True
    assert _order() == [("c", 1), ("a", 2), ("b", 3)]


def test_the_first_row_moved_up_and_the_last_moved_down_stay_put():
    a = Category.objects.create(name="A", slug="a", position=10)
    b = Category.objects.create(name="B", slug="b", position=20)
    assert move_among(_siblings(), a, up=True) is False
    assert move_among(_siblings(), b, up=False) is False
    assert _order() == [("a", 10), ("b", 20)]


def test_a_row_from_another_list_changes_nothing():
    top = Category.objects.create(name="Top", slug="top", position=10)
    child = Category.objects.create(name="Child", slug="child", position=5, parent=top)
    assert move_among(_siblings(), child, up=True) is False
    child.refresh_from_db()
    assert child.position == 5 and _order() == [("top", 10)]
