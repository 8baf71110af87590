"""The audit trail in the REST API: admins only, the same filters as the settings page."""

from __future__ import annotations

import base64
import binascii
import datetime
from typing import Any, Literal

from django.db.models import Q
from django.http import HttpRequest
from ninja import Query, Router, Schema
from pydantic import Field

from sportello.accounts.auth import caller, errors, text
from sportello.audit import services
from sportello.audit.models import Action
from sportello.core.errors import InvalidInput
from sportello.tickets.access import require_admin

router = Router(tags=["audit"])


class AuditEventOut(Schema):
    id: int
    at: datetime.datetime
    action: str = Field(description="auth.sign_in, settings.changed, permission.changed, …")
    actor: str = Field(description="the acting user's username; for a failed sign-in, the username tried")
    actor_ip: str | None
    target_type: str
    target_id: str
    target_label: str
    before: dict[str, Any]
    after: dict[str, Any]

    @staticmethod
    def resolve_actor(obj: Any) -> str:
        return str(obj.actor_label)


class AuditEventPage(Schema):
    items: list[AuditEventOut]
    next_cursor: str | None


class AuditEventQuery(Schema):
    action: Literal[tuple(Action.values)] | None = Field(None, description="only this action")  # type: ignore[valid-type]
    actor: text(150) | None = Field(None, description="only this username")  # type: ignore[valid-type]
    since: datetime.date | None = Field(None, description="from this day (included)")
    until: datetime.date | None = Field(None, description="to this day (included)")
    q: text(200) | None = Field(None, description="part of the target's label")  # type: ignore[valid-type]
    cursor: text(100) | None = Field(None, description="next_cursor of the previous page")  # type: ignore[valid-type]
    size: int = Field(50, ge=1, le=500)


@router.get("/audit", response={200: AuditEventPage, **errors(422)})
def list_audit_events(request: HttpRequest, params: Query[AuditEventQuery]) -> Any:
    """The audit trail, newest first, in pages (keyset: pass next_cursor back as cursor)."""
    require_admin(caller(request))
    events = services.filter_events(
        action=params.action or "",
        actor=params.actor or "",
        since=params.since,
        until=params.until,
        text=params.q or "",
    )
    if params.cursor:
        at, pk = _decode(params.cursor)
        events = events.filter(Q(at__lt=at) | Q(at=at, pk__lt=pk))
    rows = list(events[: params.size + 1])
    more = len(rows) > params.size
    rows = rows[: params.size]
    return {"items": rows, "next_cursor": _encode(rows[-1].at, rows[-1].pk) if more else None}


def _encode(at: datetime.datetime, pk: int) -> str:
    # URL-safe as it is: a client may paste it into a query string without escaping the "+" of the offset.
    return base64.urlsafe_b64encode(f"{at.isoformat()}~{pk}".encode()).decode().rstrip("=")


def _decode(cursor: str) -> tuple[datetime.datetime, int]:
    try:
        plain = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
        at, pk = plain.rsplit("~", 1)
        moment = datetime.datetime.fromisoformat(at)
        if moment.tzinfo is None:
            raise ValueError("naive")
        return moment, int(pk)
    except (ValueError, binascii.Error) as exc:
        raise InvalidInput("The page cursor is not valid; start again from the first page", field="cursor") from exc
