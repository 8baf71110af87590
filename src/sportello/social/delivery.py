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
            composer_notice=composer_notice,
        )
    )


def composer_notice(ticket_id: int) -> str | None:
    """A closed 24-hour window (WhatsApp, Messenger, Instagram), said before the agent writes:
    one query, on social tickets only."""
    from sportello.social.models import AccountKind, Conversation
    from sportello.social.platforms import meta

    conversation = (
        Conversation.objects.filter(ticket_id=ticket_id)
        .select_related("account")
        .order_by("-last_inbound_at", "-id")
        .first()
    )
    kind = conversation.account.kind if conversation is not None else None
    if conversation is None or kind not in WINDOWED or meta.window_open(conversation):
        return None
    platform = AccountKind(kind).label
    if kind != AccountKind.WHATSAPP:
        return _(
            "The customer's last %(platform)s message is more than 24 hours old: %(platform)s takes "
            "replies only within 24 hours, so a reply cannot be delivered there. Choose another "
            "channel of the customer."
        ) % {"platform": platform}
    if conversation.account.settings.get("template_name"):
        return _(
            "The customer's last WhatsApp message is more than 24 hours old: your reply goes out as "
            "the channel's approved template message, with your text as its parameter."
        )
    return _(
        "The customer's last WhatsApp message is more than 24 hours old: WhatsApp takes only an "
        "approved template message now, and this channel has none set, so a reply cannot be "
        "delivered there. Choose another channel of the customer, or set a template in the "
        "channel's settings."
    )


# The platforms that take free-form replies only for 24 hours after the customer's last message.
WINDOWED = ("whatsapp", "messenger", "instagram")
