from django.apps import AppConfig


class MailConfig(AppConfig):
    name = "sportello.mail"
    label = "mail"
    verbose_name = "Email channel"

    def ready(self) -> None:
        from django.conf import settings

        from sportello.core import events, scheduler
        from sportello.mail.acknowledgements import on_ticket_created
        from sportello.mail.imap import enqueue_polls
        from sportello.mail.services import sweep_received
        from sportello.mail.tasks import retry_due_deliveries

        events.subscribe(events.TICKET_CREATED, on_ticket_created)
        register_email_adapter()
        # The scheduler only enqueues one poll task per mailbox; workers fetch (STYLE 11).
        scheduler.every(int(settings.MAIL_POLL_SECONDS), "mail.poll", enqueue_polls)
        # Retries whose deferred task was lost (or a backend that cannot defer) are picked up here:
        # replies on every channel (tickets/delivery.py), under the name this sweep always had.
        scheduler.every(60, "mail.retry_deliveries", retry_due_deliveries)
        # Messages a crash left "received" are processed again (by a task) or quarantined.
        scheduler.every(300, "mail.sweep_received", sweep_received)


def register_email_adapter() -> None:
    """Mail is the email channel's adapter, and the fallback for replies on channels without one
    (web form, portal, API tickets are answered by mail): tickets/delivery.py finds it here."""
    from sportello.mail import blocking, outbound, tasks
    from sportello.mail.reasons import threading_reason
    from sportello.tickets import delivery
    from sportello.tickets.models import Channel

    delivery.register(
        delivery.Adapter(
            name="email",
            channels=(Channel.EMAIL,),
            deliver=lambda entry: outbound.deliver_reply(entry),  # looked up per call: tests replace it
            is_transient=tasks.is_transient,
            describe=tasks.describe,
            retry_delays=tasks.RETRY_DELAYS,
            explain=threading_reason,
            fallback=True,
            block=blocking.block,
        )
    )
