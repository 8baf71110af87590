"""Automation tasks: they take ids, not objects, and are safe to run twice."""

from __future__ import annotations

from django_tasks import task

from sportello.tickets.models import Ticket


@task()
def send_rule_mail(ticket_id: int, to: list[str], subject: str, body: str, reason: str) -> list[str]:
    from sportello.mail.outbound import send_notification

    ticket = Ticket.objects.select_related("customer").filter(pk=ticket_id).first()
    if ticket is None:
        return []
    return send_notification(ticket, to=to, subject=subject, text=body, reason=reason)


@task()
def deliver_webhook(call_id: int) -> str:
    from sportello.automation import webhooks

    call = webhooks.claim(call_id)
    if call is None:
        return "skipped"
    return webhooks.deliver(call)


@task()
def run_time_rules_task() -> int:
    from sportello.automation.services import run_time_rules

    return run_time_rules()
