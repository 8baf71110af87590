"""Filters for the thread on the ticket page: why a mail is here, and how its delivery went."""

from __future__ import annotations

from typing import Any

from django import template

from sportello.mail.reasons import delivery_attempts, threading_reason

register = template.Library()


@register.filter
def threading(metadata: dict[str, Any] | None) -> dict[str, str] | None:
    return threading_reason(metadata)


@register.filter
def attempts(metadata: dict[str, Any] | None) -> dict[str, Any]:
    return delivery_attempts(metadata)
