"""Phone: CTI call events from a PBX or Twilio, the call log, live pop-ups and click to dial."""

from django.apps import AppConfig


class PhoneConfig(AppConfig):
    name = "sportello.phone"
    label = "phone"
    verbose_name = "Phone"

    def ready(self) -> None:
        from sportello.chat.live import SCREEN_PUSHES
        from sportello.core import events
        from sportello.phone import live

        # A call's pop-up is a screen push: the publisher sends it after commit; other web
        # processes' relay (no Redis) builds it from the outbox row through SCREEN_PUSHES.
        events.subscribe(live.CALL_CHANGED, live.on_call_changed, first=True)
        SCREEN_PUSHES[live.CALL_CHANGED] = live.pushes_for
