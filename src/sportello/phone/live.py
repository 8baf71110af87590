"""Incoming calls on agents' screens: each agent page holds a socket in its agent's phone group.

A call event is received by a web request (the PBX's webhook), which publishes CALL_CHANGED with
its change (core/events.py: an outbox row in the same transaction). After the commit the request
pushes the call's state to the groups of the agents it rings (a screen listener, through
chat/live.py's `push_many`): with Redis that reaches every web process; with the in-memory layer,
the other web processes' relay reads the row and builds the same pushes (`pushes_for`, registered
in chat/live.py's SCREEN_PUSHES). Each agent gets the call as they may see it: the caller's file
and the open tickets their access allows.

A page opened while a call rings asks for it on connect (one query), so the pop-up does not depend
on having been open at the first push. Pushes: `ringing` shows the pop-up; `answered` hides it on
every screen but the answering agent's (who keeps the caller's file and tickets at hand); `ended`
and `missed` hide it everywhere.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any
from urllib.parse import urlencode

from channels.db import database_sync_to_async
from django.db.models import Q
from django.urls import reverse
from django.utils import timezone

from sportello.accounts.models import User
from sportello.chat.live import JsonSocket
from sportello.core import events
from sportello.phone import numbers
from sportello.phone.models import Call, CallDirection, CallState
from sportello.tickets.models import ACTIVE_CATEGORIES, Ticket

GROUP_PREFIX = "phone-"
# The domain event of a call that changed (rings, answered, ended): published with the change, so
# it travels the outbox like every screen push. It names no ticket (ticket_id 0): the call may have
# none yet. Data: {"call": the Call's id}.
CALL_CHANGED = "phone.call"
MAX_TICKETS = 5
RINGING_AT_MOST = timedelta(minutes=10)
ANSWERED_AT_MOST = timedelta(hours=4)


def group_of(user_id: int) -> str:
    return f"{GROUP_PREFIX}{user_id}"


def _tickets(call: Call) -> list[Ticket]:
    if call.customer_id is None:
        return []
    return list(
        Ticket.objects.filter(
            customer_id=call.customer_id, state__in=ACTIVE_CATEGORIES, merged_into__isnull=True
        ).order_by("-updated_at", "-id")[: MAX_TICKETS * 4]
    )


def _visible(agent: User, tickets: list[Ticket]) -> list[Ticket]:
    """As tickets_visible_to decides: all, or only their groups' for a restricted agent."""
    if agent.is_admin or not agent.restricted_to_groups:
        return tickets[:MAX_TICKETS]
    from sportello.tickets.access import tickets_visible_to

    allowed = set(tickets_visible_to(agent).filter(pk__in=[t.pk for t in tickets]).values_list("pk", flat=True))
    return [t for t in tickets if t.pk in allowed][:MAX_TICKETS]


def payload(call: Call, agent: User, tickets: list[Ticket]) -> dict[str, Any]:
    """What the pop-up shows `agent` about `call`."""
    number = call.caller_number
    customer = call.customer
    chosen = {"customer_id": customer.pk} if customer is not None else {"phone": number}
    new_ticket = reverse("ticket-new") + "?" + urlencode({"kind": "phone_call", **chosen})
    return {
        "type": "call",
        "id": call.pk,
        "state": call.state,
        "number": number,
        "shown": numbers.shown(number) if number.startswith("+") else number,
        "customer": {"name": str(customer), "url": reverse("customer", args=[customer.pk])} if customer else None,
        "tickets": [
            {"number": t.number, "subject": t.subject, "url": reverse("ticket", args=[t.number])}
            for t in _visible(agent, tickets)
        ],
        "new_ticket_url": new_ticket,
        "answered_by": call.agent.display_name if call.agent else "",
        "mine": call.agent_id == agent.pk,
    }


def sends_for(call: Call) -> list[tuple[str, dict[str, Any]]]:
    if call.direction != CallDirection.IN or not call.rung:
        return []
    agents = list(User.objects.filter(pk__in=call.rung, is_active=True))
    tickets = _tickets(call) if call.state in (CallState.RINGING, CallState.ANSWERED) else []
    return [(group_of(agent.pk), {"type": "phone.call", "call": payload(call, agent, tickets)}) for agent in agents]


def pushes_for(batch: list[events.Event]) -> list[tuple[str, dict[str, Any]]]:
    """The pushes of a batch of CALL_CHANGED events: each call once, as it is now (one query for
    the calls, then a few per call rung). Registered with chat/live.py's SCREEN_PUSHES, so the
    relay of another process's events builds them the same way."""
    ids = list(dict.fromkeys(event.data.get("call") for event in batch if isinstance(event.data.get("call"), int)))
    if not ids:
        return []
    calls = Call.objects.select_related("customer", "agent").in_bulk(ids)
    return [send for pk in ids if pk in calls for send in sends_for(calls[pk])]


def push_calls(batch: list[events.Event]) -> None:
    """The publisher's screen listener, after commit: tell the screens of the agents the calls ring."""
    from channels.layers import get_channel_layer

    from sportello.chat.live import listened, push_many

    layer = get_channel_layer()
    if layer is None or not listened(layer):
        return
    push_many(pushes_for(batch))


@events.batched(push_calls)
def on_call_changed(event: events.Event) -> None:
    push_calls([event])


def ringing_for(agent: User) -> list[dict[str, Any]]:
    """The calls ringing on (or answered by) this agent now, for a page that just opened."""
    # A call whose hang-up never came (a PBX restarted) stops showing after a while.
    now = timezone.now()
    calls = (
        Call.objects.filter(direction=CallDirection.IN)
        .filter(
            Q(state=CallState.RINGING, started_at__gte=now - RINGING_AT_MOST)
            | Q(state=CallState.ANSWERED, started_at__gte=now - ANSWERED_AT_MOST)
        )
        .select_related("customer", "agent")
        .order_by("-started_at")[:20]
    )
    shown = []
    for call in calls:
        if agent.pk not in (call.rung or []):
            continue
        if call.state == CallState.ANSWERED and call.agent_id != agent.pk:
            continue
        shown.append(payload(call, agent, _tickets(call)))
    return shown


class PhoneConsumer(JsonSocket):
    """Agents only (session, our own origin: chat/routing.py's `for_agents`). Like the bell's, it
    does not count for presence."""

    group = ""

    async def connect(self) -> None:
        user = self.scope.get("user")
        if user is None or not user.is_authenticated or not user.is_staff_member:
            await self.accept()
            await self.close(code=4403, reason="agents only")
            return
        self.group = group_of(user.pk)
        await self.channel_layer.group_add(self.group, self.channel_name)
        await self.accept()
        for call in await database_sync_to_async(ringing_for)(user):
            await self.send_json(call)

    async def disconnect(self, code: int) -> None:
        if self.group:
            await self.channel_layer.group_discard(self.group, self.channel_name)

    async def phone_call(self, event: dict[str, Any]) -> None:
        await self.send_json(event["call"])
