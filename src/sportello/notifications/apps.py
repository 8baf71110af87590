"""Agents' notifications: mentions, assignments, customer replies and SLA warnings (in-app and by mail)."""

from django.apps import AppConfig


class NotificationsConfig(AppConfig):
    name = "sportello.notifications"
    label = "notifications"
    verbose_name = "Notifications"

    def ready(self) -> None:
        from sportello.core import events, outbox
        from sportello.notifications import services

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
