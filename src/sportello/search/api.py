"""Full-text search in the REST API, over the tickets the caller may see."""

from __future__ import annotations

from typing import Any

from django.db.models import prefetch_related_objects
from django.http import HttpRequest
from ninja import Query, Router, Schema
from pydantic import Field

from sportello.accounts.auth import caller, errors, text
from sportello.core import lookups
from sportello.search.backend import search_tickets
from sportello.tickets.access import require_agent, tickets_visible_to
from sportello.tickets.api import TicketOut

router = Router(tags=["search"])


class SearchQuery(Schema):
    q: text(200) = Field(description="words (prefixes match) or a reference number")  # type: ignore[valid-type]
    limit: int = Field(50, ge=1, le=200)


class SearchResults(Schema):
    items: list[TicketOut]


@router.get("/search", response={200: SearchResults, **errors(422)})
def search(request: HttpRequest, params: Query[SearchQuery]) -> Any:
    """Tickets matching every word, best first; `#10452` or `10452` finds that ticket first."""
    require_agent(caller(request))
    visible = tickets_visible_to(caller(request))
    found = search_tickets(params.q, visible, limit=params.limit, stamp=lookups.read_stamp())
    prefetch_related_objects(found, "customer__identities", "tags")
    return {"items": found}
