from django.apps import AppConfig


class AuditConfig(AppConfig):
    name = "sportello.audit"
    label = "audit"
    verbose_name = "Audit trail"

    def ready(self) -> None:
        from sportello.audit import hooks, services
        from sportello.core import scheduler

        hooks.connect()
        # The sweep reads SPORTELLO_AUDIT_RETENTION_DAYS each time; 0 or less keeps everything.
        scheduler.every(3600, "audit.sweep", services.sweep_old_events)
