from django.apps import AppConfig


class MailConfig(AppConfig):
    name = "sportello.mail"
    label = "mail"
    verbose_name = "Email channel"

    def ready(self) -> None:
        from django.conf import settings

        from sportello.core import scheduler
        from sportello.mail.imap import enqueue_polls

        # The scheduler only enqueues one poll task per mailbox; workers fetch (STYLE 11).
        scheduler.every(int(settings.MAIL_POLL_SECONDS), "mail.poll", enqueue_polls)
