from django.apps import AppConfig


class MailConfig(AppConfig):
    name = "sportello.mail"
    label = "mail"
    verbose_name = "Email channel"

    def ready(self) -> None:
        from sportello.core import scheduler
        from sportello.mail.tasks import retry_due_deliveries

        scheduler.every(60, "mail.retry_deliveries", retry_due_deliveries)
