from django.apps import AppConfig


class CustomersConfig(AppConfig):
    name = "sportello.customers"
    label = "customers"

    def ready(self) -> None:
        from sportello.core import events
        from sportello.customers.services import verify_mail_sender

        events.subscribe(events.ENTRY_ADDED, verify_mail_sender)
