from django.apps import AppConfig


class AutomationConfig(AppConfig):
    name = "sportello.automation"
    label = "automation"

    def ready(self) -> None:
        # assignment_admin registers the assignment models with Django's admin (beside admin.py).
        from sportello.automation import assignment, assignment_admin, services, webhooks  # noqa: F401
        from sportello.core import events, scheduler

        for name in (
            events.TICKET_CREATED,
            events.ENTRY_ADDED,
            events.TICKET_UPDATED,
            events.SLA_WARNING,
            events.SLA_BREACHED,
            events.CSAT_RATED,
        ):
            events.subscribe(name, services.on_event)
        # After the triggers' listener, so that a trigger that sets a group or an assignee comes first.
        events.subscribe(events.TICKET_CREATED, assignment.on_event)
        events.subscribe(events.TICKET_UPDATED, assignment.on_event)
        scheduler.every(300, "automation.time_rules", services.run_time_rules)
        scheduler.every(60, "automation.assignment", assignment.assign_waiting_tickets)
        scheduler.every(60, "automation.webhook_retries", webhooks.retry_due_webhooks)
