"""The settings area's mailbox pages: add one, change one, and test its IMAP connection.

The list with each mailbox's health stays at /mail/mailboxes/ (mail/views.py)."""

from __future__ import annotations

from django.contrib import messages
from django.http import HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_http_methods, require_POST

from sportello.mail.imap import ConnectionCheck
from sportello.mail.mailboxes import check_mailbox_connection, save_mailbox
from sportello.mail.models import Mailbox
from sportello.mail.settings_forms import IMAP_FIELDS, MailboxForm
from sportello.tickets.access import require_admin
from sportello.tickets.views import AgentRequest, agent_view


@never_cache
@require_http_methods(["GET", "POST"])
@agent_view
def mailbox_add(request: AgentRequest) -> HttpResponse:
    require_admin(request.user)
    return _edit(request, Mailbox())


@never_cache
@require_http_methods(["GET", "POST"])
@agent_view
def mailbox_edit(request: AgentRequest, pk: int) -> HttpResponse:
    require_admin(request.user)
    return _edit(request, get_object_or_404(Mailbox, pk=pk))


def _edit(request: AgentRequest, mailbox: Mailbox) -> HttpResponse:
    form = MailboxForm(request.POST or None, instance=mailbox)
    if request.method == "POST" and form.is_valid():
        saved = save_mailbox(form.save(commit=False), password=form.cleaned_data["password"])
        messages.success(request, _("The mailbox %(address)s was saved.") % {"address": saved.address})
        return redirect("mail_mailboxes")
    return _page(request, form, mailbox, status=422 if form.errors else 200)


def _page(
    request: AgentRequest, form: MailboxForm, mailbox: Mailbox, check: ConnectionCheck | None = None, status: int = 200
) -> HttpResponse:
    context = {"form": form, "mailbox": mailbox if mailbox.pk else None, "check": check}
    return render(request, "mail/settings/mailbox_form.html", context, status=status)


@never_cache
@require_POST
@agent_view
def mailbox_test(request: AgentRequest, pk: int | None = None) -> HttpResponse:
    """Test the IMAP settings as they stand in the form, saved or not; an empty password field
    means the stored password. With htmx, only the result is sent back, into the form."""
    require_admin(request.user)
    mailbox = get_object_or_404(Mailbox, pk=pk) if pk is not None else Mailbox()
    form = MailboxForm(request.POST, instance=mailbox)
    form.is_valid()
    wrong = [name for name in IMAP_FIELDS if name in form.errors]
    problems = [f"{form.fields[name].label}: {' '.join(str(e) for e in form.errors[name])}" for name in wrong]
    if problems:
        check = ConnectionCheck(False, " ".join(problems))
    else:
        check = check_mailbox_connection(form.instance, password=form.cleaned_data.get("password", ""))
    if request.headers.get("HX-Request"):
        return render(request, "mail/settings/_connection_check.html", {"check": check})
    return _page(request, form, mailbox, check)
