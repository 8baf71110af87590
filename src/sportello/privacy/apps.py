from django.apps import AppConfig


class PrivacyConfig(AppConfig):
    name = "sportello.privacy"
    label = "privacy"
    verbose_name = "Privacy"

    def ready(self) -> None:
        from sportello.core import outbox, scheduler
        from sportello.privacy import exporting, retention

        outbox.register(exporting.EXPORT_READY_MAIL, exporting.handle_export_ready_mail)
        # Retention rules a few batches at a time, and archives past their link's expiry deleted.
        scheduler.every(3600, "privacy.retention", retention.scheduled_run)
