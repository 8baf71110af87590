"""Which open tickets a policy as typed would take, before it is saved.

A ticket gets the first active policy, in (position, id) order, whose conditions it meets
(`services.first_match`). So the policy as typed takes the open tickets its conditions match
minus those a policy before it already takes; the rest of the order does not matter. The counts
are queries built from the same `Conditions.tickets` filters the resync uses, never a loop over
the tickets, so a preview costs a few queries whatever the number of open tickets.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from django.db.models import Count, Q, QuerySet

from sportello.sla.models import Policy
from sportello.sla.services import Conditions
from sportello.tickets.models import ACTIVE_CATEGORIES, Ticket

SAMPLE_SIZE = 10


@dataclass
class Preview:
    matching: int  # open tickets whose conditions the policy as typed matches
    taken: int  # of those, the ones no policy before it takes: what it would apply to
    sample: list[Ticket]  # some of the taken tickets, newest first
    before: list[tuple[Policy, int]] = field(default_factory=list)  # policies before it, tickets they keep
    now_under: list[tuple[str, int]] = field(default_factory=list)  # the taken tickets' policy today
    covers_all: bool = False  # no conditions: every ticket no earlier policy takes


def open_tickets() -> QuerySet[Ticket]:
    return Ticket.objects.filter(state__in=ACTIVE_CATEGORIES)


def policies_before(position: int, policy_id: int | None) -> list[Policy]:
    """The active policies tried before one at `position` (an unsaved one comes after its equals)."""
    earlier = Q(position__lt=position)
    if policy_id is None:
        earlier |= Q(position=position)
    else:
        earlier |= Q(position=position, pk__lt=policy_id)
    found = Policy.objects.filter(earlier, active=True)
    if policy_id is not None:
        found = found.exclude(pk=policy_id)
    return list(found.prefetch_related("groups", "organizations", "tags").order_by("position", "id"))


def preview_policy(conditions: Conditions, position: int, policy_id: int | None = None) -> Preview:
    """1. Count the open tickets the conditions match.
    2. For each active policy before it, count how many of those it keeps (a policy with no
       conditions keeps them all, and nothing is left).
    3. Count what is left, list a sample, and say which policy those tickets have today."""
    matching = open_tickets().filter(conditions.tickets())
    before = []
    left = matching
    for policy in policies_before(position, policy_id):
        rule = Conditions.of(policy)
        earlier = rule.tickets()
        kept = left.filter(earlier).count() if earlier else left.count()
        if kept:
            before.append((policy, kept))
        left = left.exclude(earlier) if earlier else left.none()
    taken = left.count()
    sample = list(left.select_related("customer", "sla__policy").order_by("-created_at", "-pk")[:SAMPLE_SIZE])
    now_under = [
        (row["sla__policy__name"] or "", row["n"])
        for row in left.order_by().values("sla__policy__name").annotate(n=Count("pk")).order_by("-n")
    ]
    return Preview(
        matching=matching.count(),
        taken=taken,
        sample=sample,
        before=before,
        now_under=now_under,
        covers_all=not conditions.tickets(),
    )
