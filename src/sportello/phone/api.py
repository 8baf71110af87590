"""The phone in the REST API: the call log, and click to dial through the phone system."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from django.http import HttpRequest
from ninja import Query, Router, Schema
from pydantic import Field

from sportello.accounts.auth import InputSchema, caller, errors, text
from sportello.phone import services
from sportello.phone.models import Call, CallState

router = Router(tags=["phone"])

StateValue = Literal[tuple(CallState.values)]  # type: ignore[valid-type]


class PhoneCallOut(Schema):
    id: int
    call_id: str = Field(description="The phone system's id of the call")
    account: str = Field(description="The CTI account that reported it")
    direction: Literal["in", "out"]
    from_number: str = Field(description="E.164 when it could be read; empty for a hidden caller")
    to_number: str
    state: StateValue = Field(description="ringing, answered, missed or ended")  # type: ignore[valid-type]
    agent: str | None = Field(description="The agent who took or made the call")
    customer: int | None = Field(description="The caller's customer id")
    ticket: int | None = Field(description="The reference number of the ticket the call was recorded on")
    started_at: datetime
    answered_at: datetime | None
    ended_at: datetime | None
    duration: int | None = Field(description="Seconds talked")
    recording_url: str
    cause: str = Field(description="The hang-up cause the phone system gave (normalClearing, busy, cancel, …)")

    @staticmethod
    def resolve_account(obj: Call) -> str:
        return obj.account.name

    @staticmethod
    def resolve_agent(obj: Call) -> str | None:
        return obj.agent.display_name if obj.agent else None

    @staticmethod
    def resolve_customer(obj: Call) -> int | None:
        return obj.customer_id

    @staticmethod
    def resolve_ticket(obj: Call) -> int | None:
        return obj.ticket.number if obj.ticket else None


class PhoneCallQuery(Schema):
    state: StateValue | None = Field(  # type: ignore[valid-type]
        None, description="Only calls in this state (missed: the ones to call back)"
    )
    limit: int = Field(50, ge=1, le=200)


class DialIn(InputSchema):
    number: text(40, min_length=3) = Field(description="The number to call, in any usual form")  # type: ignore[valid-type]


class DialOut(Schema):
    number: str = Field(description="The number as dialled (E.164)")
    account: str = Field(description="The CTI account asked to place the call")


@router.get("/phone/calls", response={200: list[PhoneCallOut], **errors(422)})
def list_phone_calls(request: HttpRequest, filters: Query[PhoneCallQuery]) -> Any:
    """The call log, newest first."""
    return services.recent_calls(caller(request), state=filters.state or "", limit=filters.limit)


@router.post("/phone/dial", response={200: DialOut, **errors(422, 502)})
def dial_phone_number(request: HttpRequest, data: DialIn) -> Any:
    """Ask the phone system to ring the caller's phone and then `number` (the CTI's outbound URL)."""
    return services.dial_out(caller(request), data.number)
