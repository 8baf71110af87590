"""The admins' log pages' shared filter-and-page step (core.paging.filtered_page)."""

from __future__ import annotations

import pytest
from django import forms
from django.test import RequestFactory

from sportello.accounts.models import Role, User
from sportello.core.paging import filtered_page

pytestmark = pytest.mark.django_db


class PeopleFilter(forms.Form):
    role = forms.ChoiceField(required=False, choices=[("", "Any"), *Role.choices])
    since = forms.DateField(required=False)


LOOKUPS = {"role": "role", "since": "date_joined__date__gte"}


def page_of(query: str, size: int = 2):  # type: ignore[no-untyped-def]
    request = RequestFactory().get(f"/log/?{query}")
    rows = User.objects.filter(username__startswith="p-").order_by("username")
    return filtered_page(request, rows, PeopleFilter(request.GET or None), LOOKUPS, size=size)


@pytest.fixture
def people(db) -> None:
    for n in range(3):
        User.objects.create(username=f"p-agent-{n}", role=Role.AGENT)
    User.objects.create(username="p-admin", role=Role.ADMIN)


def test_filled_filters_narrow_and_the_pager_keeps_them(people):
    page, query = page_of("role=agent&since=&page=2")
    assert [u.username for u in page.object_list] == ["p-agent-2"]
    assert (page.number, page.paginator.count) == (2, 3)
    assert query == "role=agent&since="  # the pager's links add their own page


def test_no_filter_lists_everything_and_past_the_end_is_the_last_page(people):
    page, query = page_of("page=99")
    assert (page.number, page.paginator.count, query) == (2, 4, "")


def test_a_filter_that_does_not_validate_narrows_nothing(people):
    page, _query = page_of("role=emperor&since=yesterday", size=10)
    assert page.paginator.count == 4
