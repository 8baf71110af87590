from django.apps import AppConfig


class AccountsConfig(AppConfig):
    name = "sportello.accounts"
    label = "accounts"
    verbose_name = "Agents and groups"

    def ready(self) -> None:
        from sportello.accounts.team import INVITATION_MAIL, handle_invitation_mail
        from sportello.core import outbox
        from sportello.mail.tasks import RETRY_DELAYS, describe, is_transient

        # The link in it is a credential for days: emptied from the row once sent.
        outbox.register(
            INVITATION_MAIL,
            handle_invitation_mail,
            delays=RETRY_DELAYS,
            transient=is_transient,
            describe=describe,
            secret=True,
        )
