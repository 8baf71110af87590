from django.apps import AppConfig


class TriageConfig(AppConfig):
    name = "sportello.triage"
    label = "triage"
    verbose_name = "Auto-triage"

    def ready(self) -> None:
        from sportello.core import events, scheduler
        from sportello.triage import services

        # Before the triggers and assignment (this app comes before automation in INSTALLED_APPS):
        # they then see the group triage set, and the suggestion a trigger's condition reads.
        events.subscribe(events.TICKET_CREATED, services.on_ticket_created)
        # Looks every hour; retrains when the newest training is older than the settings ask.
        scheduler.every(3600, "triage.retrain", services.scheduled_retrain)
