"""The gate to a survey from the portal: the ticket's own customer only.

A colleague who sees the ticket through the organization's sharing reads it, but the answer is
the requester's; anyone else does not find the ticket at all (404).
"""

from __future__ import annotations

from django.utils.translation import gettext as _

from sportello.accounts.models import User
from sportello.core.errors import Forbidden, NotFound
from sportello.csat.models import Survey
from sportello.tickets.access import ticket_for_customer


def survey_for_customer(user: User, number: int) -> Survey:
    ticket = ticket_for_customer(user, number)
    survey = Survey.objects.select_related("ticket__customer").filter(ticket=ticket).first()
    if survey is None:
        raise NotFound("This request has no survey")
    if ticket.customer.user_id != user.pk:
        raise Forbidden(_("Only the customer who made the request answers its survey."))
    return survey
