"""Custom field definitions in the REST API: agents read them to know the keys and values that
tickets, customers and organizations take in `custom_fields`."""

from __future__ import annotations

from typing import Any, Literal

from django.http import HttpRequest
from ninja import Query, Router, Schema
from pydantic import Field

from sportello.accounts.auth import caller, errors
from sportello.fields.models import CustomField, FieldTarget
from sportello.tickets.access import require_agent

router = Router(tags=["custom fields"])


class CustomFieldOut(Schema):
    id: int
    target: str = Field(description="ticket, customer or organization")
    key: str = Field(description="the key in `custom_fields`")
    label: str
    type: str = Field(description="text, number, date, choice, multichoice or checkbox")
    choices: list[str] = Field(description="the options of a choice or multichoice field")
    required: bool
    position: int
    active: bool = Field(description="an inactive field is hidden; its stored values are kept")
    help_text: str


class CustomFieldQuery(Schema):
    target: Literal[tuple(FieldTarget.values)] | None = Field(None, description="only this target's fields")  # type: ignore[valid-type]
    include_inactive: bool = Field(False, description="also the fields admins deactivated")


@router.get("/fields", response={200: list[CustomFieldOut], **errors(422)})
def list_fields(request: HttpRequest, params: Query[CustomFieldQuery]) -> Any:
    """The custom fields admins defined, by target and position."""
    require_agent(caller(request))
    fields = CustomField.objects.all()
    if params.target:
        fields = fields.filter(target=params.target)
    if not params.include_inactive:
        fields = fields.filter(active=True)
    return fields.order_by("target", "position", "id")
