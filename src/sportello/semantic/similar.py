"""Similar tickets, hybrid: the full-text candidates of tickets/similar.py and the nearest vectors,
fused by reciprocal rank; a ticket whose vector is close enough is marked a likely duplicate.

1. Full text: tickets/similar.py's ranked candidates (two significant words in common).
2. Semantic: the nearest vectors with a cosine of at least RELATED, so a ticket about something
   else never fills the panel when text finds nothing.
3. Both lists are kept to the tickets the agent may see (tickets/access.py), without the ticket
   itself, merged tickets and spam; each ticket scores the sum of 1 / (K + its rank) over the
   lists it is in, and likely duplicates come first.

DUPLICATE and RELATED are measured on the evaluation set (eval/duplicates.json, docs/semantic.md):
at DUPLICATE the pairs there split with the best F1.
"""

from __future__ import annotations

from dataclasses import dataclass

from sportello.accounts.models import User
from sportello.semantic import services
from sportello.tickets import similar as text_similar
from sportello.tickets.access import tickets_visible_to
from sportello.tickets.models import StatusCategory, Ticket

DUPLICATE = 0.48
RELATED = 0.30
K = 60  # reciprocal rank fusion's constant (Cormack et al.): ranks beyond the first few weigh alike


@dataclass(frozen=True)
class SimilarTicket:
    ticket: Ticket
    score: float | None  # the cosine of the two tickets' vectors; None without the encoder
    duplicate: bool


def similar_for_agent(user: User, ticket: Ticket, limit: int = text_similar.MAX_SHOWN) -> list[SimilarTicket]:
    """Up to `limit` tickets `user` may see that resemble `ticket`, likely duplicates first."""
    first = (
        ticket.entries.filter(internal=False).order_by("created_at", "id").values_list("body_text", flat=True).first()
    ) or ""
    # A restricted agent sees some of the candidates only: ask for more than are shown.
    by_text = text_similar.matching_ids(text_similar.significant_words(ticket, first), limit * 4 + 1)
    vector = services.ticket_vector(ticket, services.compose(ticket.subject, first))
    if vector is None:  # no encoder: today's full-text panel
        return [SimilarTicket(t, None, False) for t in _visible(user, ticket, by_text)][:limit]
    nearest = services.nearest_tickets(vector, limit=limit * 20 + 1, minimum=RELATED, refresh=False)
    by_meaning = [pk for pk, _s in nearest if pk != ticket.pk]
    scores = dict(nearest)
    scores.update(services.scores_of(vector, [pk for pk in by_text if pk not in scores], refresh=False))
    fused: dict[int, float] = {}
    for ranking in (by_text, by_meaning):
        for rank, pk in enumerate(ranking):
            fused[pk] = fused.get(pk, 0.0) + 1.0 / (K + rank + 1)
    found = _visible(user, ticket, list(fused))
    found.sort(key=lambda t: (-(scores.get(t.pk, -1.0) >= DUPLICATE), -fused[t.pk], -t.pk))
    return [SimilarTicket(t, scores.get(t.pk), scores.get(t.pk, -1.0) >= DUPLICATE) for t in found[:limit]]


def _visible(user: User, ticket: Ticket, ids: list[int]) -> list[Ticket]:
    """The tickets of `ids` that `user` may see (step 3), in the order of `ids`."""
    found = {
        t.pk: t
        for t in tickets_visible_to(user)
        .filter(pk__in=ids, merged_into__isnull=True)
        .exclude(pk=ticket.pk)
        .exclude(state=StatusCategory.SPAM)
        .select_related("status")
    }
    return [found[pk] for pk in ids if pk in found]
