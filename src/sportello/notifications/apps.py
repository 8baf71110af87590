"""Agents' notifications: mentions, assignments, customer replies and SLA warnings (in-app and by mail)."""

from django.apps import AppConfig


class NotificationsConfig(AppConfig):
    name = "sportello.notifications"
    label = "notifications"
    verbose_name = "Notifications"

    def ready(self) -> None:
        from sportello.chat.live import SCREEN_PUSHES
        from sportello.core import events, outbox
        from sportello.notifications import live, services

        # A worker's listener, a batch at a time (services.notify_for_events). An assignment made
        # by the triggers or automatic assignment is an event of its own, told in a later batch.
        for name in (
            events.ENTRY_ADDED,
            events.TICKET_CREATED,
            events.TICKET_UPDATED,
            events.SLA_WARNING,
            events.SLA_BREACHED,
        ):
            events.subscribe(name, services.on_event)
        outbox.register(services.MAIL, services.send_notification_mail)
        # The bells: pushed by the process that wrote the notifications, and without Redis by the
        # other processes' relay of the outbox row (one relay for every screen event, no poller).
        events.subscribe(live.NOTIFIED, live.on_notified, first=True)
        SCREEN_PUSHES[live.NOTIFIED] = live.pushes_for
