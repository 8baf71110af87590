from django.apps import AppConfig


class CustomersConfig(AppConfig):
    name = "sportello.customers"
    label = "customers"

    def ready(self) -> None:
        from sportello.core import events, outbox
        from sportello.customers.services import CONFIRMATION_MAIL, handle_confirmation_mail, verify_mail_sender
        from sportello.mail.tasks import RETRY_DELAYS, describe, is_transient

        events.subscribe(events.ENTRY_ADDED, verify_mail_sender)
        # The link in it is a credential for days: emptied from the row once sent.
        outbox.register(
            CONFIRMATION_MAIL,
            handle_confirmation_mail,
            delays=RETRY_DELAYS,
            transient=is_transient,
            describe=describe,
            secret=True,
        )
