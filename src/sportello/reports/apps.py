from django.apps import AppConfig


class ReportsConfig(AppConfig):
    name = "sportello.reports"
    label = "reports"
    verbose_name = "Reports"

    def ready(self) -> None:
        from sportello.core import events, outbox, scheduler
        from sportello.reports import availability, facts, metrics, subscriptions  # noqa: F401 — metrics registers

        # After the SLA clocks (the sla app is listed first): the facts copy their outcome.
        for name in facts.LISTENED:
            events.subscribe(name, facts.on_event)
        # Today's open tickets by state and group; the last snapshot of a day stays as its backlog.
        scheduler.every(300, "reports.backlog", facts.snapshot_backlog)
        # Scheduled reports: queue the mails whose week or month ended (reports/subscriptions.py).
        scheduler.every(600, "reports.subscriptions", subscriptions.queue_due)
        outbox.register(subscriptions.KIND, subscriptions.send_report_mail)
        # Agents' availability changes, to the minute: the agents report's online time.
        scheduler.every(60, "reports.availability", availability.record_availability)
