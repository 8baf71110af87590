"""The admins' forum settings page: how long a topic may wait for an answer before the agents'
inbox lists it."""

from __future__ import annotations

from django import forms
from django.contrib import messages
from django.http import HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_http_methods

from sportello.core.errors import InvalidInput
from sportello.forum import services
from sportello.forum.models import ForumSettings
from sportello.tickets.access import require_admin
from sportello.tickets.views import AgentRequest, agent_view


class ForumSettingsForm(forms.Form):
    unanswered_after_hours = forms.IntegerField(
        label=gettext_lazy("Unanswered after (hours)"),
        min_value=1,
        max_value=services.MAX_UNANSWERED_HOURS,
        help_text=gettext_lazy(
            "A public topic with no reply from anyone but its author for this long is listed in the "
            "agents' inbox under “Unanswered forum topics”."
        ),
    )


@require_http_methods(["GET", "POST"])
@agent_view
def forum_settings(request: AgentRequest) -> HttpResponse:
    require_admin(request.user)
    current = ForumSettings.current()
    form = ForumSettingsForm(request.POST or None, initial={"unanswered_after_hours": current.unanswered_after_hours})
    if request.method == "POST" and form.is_valid():
        try:
            services.save_forum_settings(request.user, **form.cleaned_data)
        except InvalidInput as err:
            form.add_error(err.details.get("field") or None, err.message)
        else:
            messages.success(request, _("Forum settings saved."))
            return redirect("settings-forum")
    return render(request, "forum/settings.html", {"form": form}, status=422 if form.errors else 200)
