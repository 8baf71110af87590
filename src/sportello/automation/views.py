"""Macros on the ticket page: search them while typing, insert one into the reply in one click.

The picker sits inside the reply form: each macro is a submit button whose `formaction` is
`apply`, so the agent's draft and the form's version come along. The view applies the macro's
field changes, keeps draft + macro text as the reply draft, and redirects back to the ticket,
where every form then carries the new version.
"""

from __future__ import annotations

from django.contrib import messages
from django.http import HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_POST

from sportello.automation.services import apply_macro, macro_for, macros_for
from sportello.core.errors import Conflict, InvalidInput
from sportello.tickets.access import ticket_for_agent
from sportello.tickets.views import AgentRequest, agent_view, save_reply_draft


@require_GET
@agent_view
def macro_picker(request: AgentRequest, number: int) -> HttpResponse:
    ticket = ticket_for_agent(request.user, number)
    query = request.GET.get("q", "")[:200]
    context = {"ticket": ticket, "macros": macros_for(request.user, query, limit=8), "query": query}
    return render(request, "automation/macro_list.html", context)


@require_POST
@agent_view
def insert_macro(request: AgentRequest, number: int) -> HttpResponse:
    ticket = ticket_for_agent(request.user, number, write=True)
    try:
        macro_id = int(request.POST.get("macro", ""))
        version = int(request.POST.get("version", ""))
    except ValueError as exc:
        raise InvalidInput("Choose a macro") from exc
    macro = macro_for(request.user, macro_id)
    draft = request.POST.get("body", "").rstrip()
    try:
        result = apply_macro(ticket, macro, request.user, expected_version=version)
    except Conflict as conflict:
        save_reply_draft(request, ticket, draft)
        messages.error(request, conflict.message + " " + _("The macro was not applied; your draft is kept."))
        return redirect("ticket", number=ticket.number)
    save_reply_draft(request, ticket, f"{draft}\n\n{result.text}" if draft else result.text)
    done = _("Macro “%(name)s” inserted.") % {"name": macro.name}
    if result.applied:
        done += " " + _("Its field changes were made.")
    messages.success(request, done)
    return redirect(f"/tickets/{ticket.number}/#reply-form")
