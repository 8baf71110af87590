from django.apps import AppConfig


class CsatConfig(AppConfig):
    name = "sportello.csat"
    label = "csat"
    verbose_name = "Satisfaction surveys"

    def ready(self) -> None:
        from sportello.core import events
        from sportello.csat.services import on_ticket_event

        # A status change to solved; and a reply that solves the ticket in the same click, which
        # tickets publish as an added entry only.
        events.subscribe(events.TICKET_UPDATED, on_ticket_event)
        events.subscribe(events.ENTRY_ADDED, on_ticket_event)
