from django.apps import AppConfig


class AuditConfig(AppConfig):
    name = "sportello.audit"
    label = "audit"
    verbose_name = "Audit trail"

    def ready(self) -> None:
        from django.conf import settings

        from sportello.audit import hooks, services
        from sportello.core import scheduler

        hooks.connect()
        if int(getattr(settings, "SPORTELLO_AUDIT_RETENTION_DAYS", 730)) > 0:
            scheduler.every(3600, "audit.sweep", services.sweep_old_events)
