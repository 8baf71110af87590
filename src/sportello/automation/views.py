"""Macros on the ticket page: search them while typing, preview one in the composer.

A macro changes nothing until the agent sends: its button asks for a preview (htmx), which fills
the composer with the macro's text and lists the field changes it will make; the composer then
carries the macro's id, and the send makes those changes with the reply, in one transaction
(tickets/views.py `reply`). Without a script the button posts the draft to `insert`, which does
the same through a redirect: the draft gains the text and the composer shows the preview.
"""

from __future__ import annotations

from django.contrib import messages
from django.http import HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_POST

from sportello.automation.services import macro_for, macros_for, preview_macro
from sportello.core.errors import InvalidInput
from sportello.tickets.access import ticket_for_agent
from sportello.tickets.views import AgentRequest, agent_view, save_reply_draft


@require_GET
@agent_view
def macro_picker(request: AgentRequest, number: int) -> HttpResponse:
    ticket = ticket_for_agent(request.user, number)
    query = request.GET.get("q", "")[:200]
    context = {"ticket": ticket, "macros": macros_for(request.user, query, limit=8), "query": query}
    return render(request, "automation/macro_list.html", context)


@require_GET
@agent_view
def macro_preview(request: AgentRequest, number: int, macro_id: int) -> HttpResponse:
    ticket = ticket_for_agent(request.user, number, write=True)
    preview = preview_macro(ticket, macro_for(request.user, macro_id), request.user)
    return render(request, "automation/macro_preview.html", {"ticket": ticket, "preview": preview})


@require_POST
@agent_view
def insert_macro(request: AgentRequest, number: int) -> HttpResponse:
    ticket = ticket_for_agent(request.user, number, write=True)
    try:
        macro_id = int(request.POST.get("macro", ""))
    except ValueError as exc:
        raise InvalidInput("Choose a macro") from exc
    macro = macro_for(request.user, macro_id)
    preview = preview_macro(ticket, macro, request.user)
    draft = request.POST.get("body", "").rstrip()
    save_reply_draft(request, ticket, f"{draft}\n\n{preview.text}" if draft else preview.text)
    request.session[f"reply_macro:{ticket.pk}"] = macro.pk
    done = _("Macro “%(name)s” inserted.") % {"name": macro.name}
    if preview.changes:
        done += " " + _("Its field changes are made when you send.")
    messages.success(request, done)
    return redirect(f"/tickets/{ticket.number}/#reply-form")
