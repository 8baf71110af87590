"""The bell's pages: its dropdown, every notification, reading them, and the agent's choices."""

from __future__ import annotations

from django import forms
from django.contrib import messages
from django.http import HttpResponse, HttpResponseRedirect
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from sportello.notifications import services
from sportello.notifications.models import Kind
from sportello.tickets.views import AgentRequest, agent_view


def _back(request: AgentRequest, default: str) -> HttpResponseRedirect:
    target = request.POST.get("next", "")
    if not url_has_allowed_host_and_scheme(target, {request.get_host()}, require_https=request.is_secure()):
        target = default
    return redirect(target)


@require_GET
@agent_view
def menu(request: AgentRequest) -> HttpResponse:
    """The bell's dropdown (fetched when it opens): the latest few, newest first."""
    items = services.notifications_of(request.user, size=services.MENU_SIZE)
    return render(request, "notifications/_menu.html", {"notifications": items, "next": request.GET.get("next", "")})


class PageForm(forms.Form):
    before = forms.IntegerField(min_value=1, max_value=2**63 - 1, required=False)
    unread = forms.BooleanField(required=False)


@require_GET
@agent_view
def index(request: AgentRequest) -> HttpResponse:
    """Every notification, a page at a time (older: `?before=<id>`)."""
    form = PageForm(request.GET)
    page = form.cleaned_data if form.is_valid() else {"before": None, "unread": False}
    items = services.notifications_of(request.user, unread=page["unread"], before=page["before"])
    older = items[-1].pk if len(items) == services.PAGE_SIZE else None
    return render(
        request, "notifications/index.html", {"notifications": items, "older": older, "unread": page["unread"]}
    )


@require_POST
@agent_view
def open_notification(request: AgentRequest, pk: int) -> HttpResponse:
    """Mark it read and go to its ticket."""
    notification = services.mark_read(request.user, services.notification_for(request.user, pk))
    return redirect("ticket", notification.ticket.number)


@require_POST
@agent_view
def read(request: AgentRequest, pk: int) -> HttpResponse:
    services.mark_read(request.user, services.notification_for(request.user, pk))
    if request.headers.get("HX-Request"):
        return HttpResponse(status=204)
    return _back(request, reverse("notifications:index"))


@require_POST
@agent_view
def read_all(request: AgentRequest) -> HttpResponse:
    marked = services.mark_all_read(request.user)
    if request.headers.get("HX-Request"):
        return HttpResponse(status=204)
    if marked:
        messages.success(request, _("All notifications marked read."))
    return _back(request, reverse("notifications:index"))


@require_http_methods(["GET", "POST"])
@agent_view
def preferences(request: AgentRequest) -> HttpResponse:
    """Per kind: in the app, and by mail while away or offline."""
    if request.method == "POST":
        choices = {
            kind: (request.POST.get(f"{kind}-app") == "on", request.POST.get(f"{kind}-mail") == "on")
            for kind in Kind.values
        }
        services.set_preferences(request.user, choices)
        messages.success(request, _("Your notification choices were saved."))
        return redirect("notifications:preferences")
    return render(request, "notifications/preferences.html", {"choices": services.preferences_of(request.user)})
