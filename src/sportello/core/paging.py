"""One page of a filtered log, for the admins' log pages (reply assistance, webhook deliveries).

Each such page has a filter form whose fields map one to one onto ORM lookups (an agent, a state,
a date range) and a pager whose links keep the filters: `filtered_page` does both, so a log view
is its form, its lookups and its template.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, TypeVar

from django import forms
from django.core.paginator import Page, Paginator
from django.db.models import Model, QuerySet
from django.http import HttpRequest

M = TypeVar("M", bound=Model)


def filtered_page(
    request: HttpRequest, rows: QuerySet[M], filters: forms.Form, lookups: Mapping[str, str], *, size: int
) -> tuple[Page[Any], str]:
    """The page the request asks for (`?page=`, the last one past the end) of `rows` narrowed by
    each filled field of `filters` through its lookup (`{"since": "created_at__date__gte"}`), and
    the request's query string without `page`, for the pager's links. Filters that do not
    validate narrow nothing: the form shows their errors over the unfiltered log."""
    if filters.is_valid():
        narrowed = {lookups[name]: value for name, value in filters.cleaned_data.items() if value not in (None, "")}
        rows = rows.filter(**narrowed)
    page = Paginator(rows, size).get_page(request.GET.get("page"))
    query = request.GET.copy()
    query.pop("page", None)
    return page, query.urlencode()
