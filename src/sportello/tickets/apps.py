from django.apps import AppConfig


class TicketsConfig(AppConfig):
    name = "sportello.tickets"
    label = "tickets"

    def ready(self) -> None:
        from sportello.core import scheduler
        from sportello.tickets.snooze import wake_snoozed

        # Snoozed tickets whose time has come are set back to open (one batch a minute).
        scheduler.every(60, "tickets.wake_snoozed", wake_snoozed)
