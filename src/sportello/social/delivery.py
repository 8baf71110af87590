"""The social channel's adapter in the registry of channel adapters (tickets/delivery.py)."""

from __future__ import annotations

from typing import Any

from django.utils.translation import gettext as _

from sportello.social.http import PlatformError


def is_transient(exc: BaseException) -> bool:
    """Worth another try: the platform answered 429 or 5xx (or a rate-limit code), or did not answer."""
    if isinstance(exc, PlatformError):
        return exc.transient
    return isinstance(exc, OSError)


def describe(exc: BaseException) -> str:
    from sportello.social.services import NoConversation

    if isinstance(exc, PlatformError | NoConversation):
        return str(exc)
    if isinstance(exc, OSError):
        return _("The platform could not be reached: %(reason)s") % {"reason": getattr(exc, "reason", None) or exc}
    return str(exc) or type(exc).__name__


def explain(metadata: dict[str, Any]) -> dict[str, str] | None:
    """Why a message from a messaging platform is on its ticket: its conversation."""
    social = metadata.get("social")
    if not isinstance(social, dict):
        return None
    name = str(social.get("channel_name") or social.get("kind") or "")
    return {
        "threaded_by": "conversation",
        "detail": name,
        "summary": _("Threaded by the conversation on %(channel)s") % {"channel": name},
    }


def register_adapter() -> None:
    from sportello.social import services
    from sportello.tickets import delivery
    from sportello.tickets.models import Channel

    delivery.register(
        delivery.Adapter(
            name="social",
            channels=(Channel.SOCIAL,),
            deliver=lambda entry: services.deliver(entry),
            is_transient=is_transient,
            describe=describe,
            explain=explain,
        )
    )
