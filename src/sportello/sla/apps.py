from django.apps import AppConfig


class SlaConfig(AppConfig):
    name = "sportello.sla"
    label = "sla"
    verbose_name = "SLA"

    def ready(self) -> None:
        from sportello.core import events, scheduler
        from sportello.sla.services import on_ticket_event, sweep_sla

        # Every change that can move a clock: the listener reconciles from the ticket as it is.
        for name in (events.TICKET_CREATED, events.TICKET_UPDATED, events.ENTRY_ADDED, events.TICKETS_MERGED):
            events.subscribe(name, on_ticket_event)
        # One indexed query a minute finds the warnings and breaches that are due.
        scheduler.every(60, "sla.sweep", sweep_sla)
