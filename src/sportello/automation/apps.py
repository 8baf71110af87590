from django.apps import AppConfig


class AutomationConfig(AppConfig):
    name = "sportello.automation"
    label = "automation"

    def ready(self) -> None:
        from sportello.automation import services, webhooks
        from sportello.core import events, scheduler

        for name in (
            events.TICKET_CREATED,
            events.ENTRY_ADDED,
            events.TICKET_UPDATED,
            events.SLA_WARNING,
            events.SLA_BREACHED,
        ):
            events.subscribe(name, services.on_event)
        scheduler.every(300, "automation.time_rules", services.run_time_rules)
        scheduler.every(60, "automation.webhook_retries", webhooks.retry_due_webhooks)
