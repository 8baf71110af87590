"""Automation tasks: they take ids, not objects, and are safe to run twice."""

from __future__ import annotations

from django_tasks import task


@task()
def send_rule_mail(ticket_id: int, to: list[str], subject: str, body: str, reason: str) -> str:
    """Kept for tasks enqueued before the outbox: writes the mail to the outbox and delivers it."""
    from sportello.core import outbox
    from sportello.mail.outbound import NOTIFICATION

    payload = {"ticket": ticket_id, "to": list(to), "subject": subject, "text": body, "reason": reason}
    return outbox.drain(outbox.put(NOTIFICATION, payload).pk)


@task()
def deliver_webhook(call_id: int) -> str:
    """Kept for tasks enqueued before the outbox: writes the call's outbox row (once) and delivers it."""
    from sportello.automation.webhooks import WEBHOOK
    from sportello.core import outbox

    return outbox.drain(outbox.put(WEBHOOK, {"call": call_id}, key=f"{WEBHOOK}:{call_id}").pk)


@task()
def run_time_rules_task() -> int:
    from sportello.automation.services import run_time_rules

    return run_time_rules()
