"""The admins' pages: the model server's settings with a connection test, and the log of uses."""

from __future__ import annotations

from django.contrib import messages
from django.http import HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from sportello.assist import services
from sportello.assist.models import AssistUse
from sportello.assist.settings_forms import AssistLogFilter, AssistSettingsForm
from sportello.core.errors import InvalidInput
from sportello.core.paging import filtered_page
from sportello.tickets.access import require_admin
from sportello.tickets.views import AgentRequest, agent_view

LOG_PAGE_SIZE = 50
# The log's filter fields (settings_forms.AssistLogFilter) and what each narrows.
LOG_FILTERS = {
    "user": "user_id",
    "action": "action",
    "outcome": "outcome",
    "ticket": "ticket__number",
    "since": "created_at__date__gte",
    "until": "created_at__date__lte",
}


def _page(
    request: AgentRequest, form: AssistSettingsForm, *, test: services.ConnectionTest | None = None, status: int = 200
) -> HttpResponse:
    row = services.current_settings()
    context = {"form": form, "row": row, "key_stored": bool(row.api_key_sealed), "test": test}
    return render(request, "assist/settings.html", context, status=status)


@agent_view
def assist_settings(request: AgentRequest) -> HttpResponse:
    require_admin(request.user)
    row = services.current_settings()
    initial = {
        "enabled": row.enabled,
        "base_url": row.base_url,
        "model": row.model,
        "timeout_seconds": row.timeout_seconds,
        "allow_local": row.allow_local,
    }
    form = AssistSettingsForm(request.POST or None, initial=initial)
    if request.method != "POST":
        return _page(request, form)
    if form.is_valid():
        try:
            services.save_assist_settings(request.user, **form.cleaned_data)
        except InvalidInput as err:
            field = err.details.get("field")
            form.add_error(field if field in form.fields else None, err.message)
        else:
            messages.success(request, _("Reply assistance settings saved."))
            return redirect("settings-assist")
    return _page(request, form, status=400)


@require_POST
@agent_view
def assist_test(request: AgentRequest) -> HttpResponse:
    require_admin(request.user)
    row = services.current_settings()
    form = AssistSettingsForm(
        initial={
            "enabled": row.enabled,
            "base_url": row.base_url,
            "model": row.model,
            "timeout_seconds": row.timeout_seconds,
            "allow_local": row.allow_local,
        }
    )
    return _page(request, form, test=services.test_connection(request.user))


@agent_view
def assist_log(request: AgentRequest) -> HttpResponse:
    require_admin(request.user)
    filters = AssistLogFilter(request.GET or None)
    uses = AssistUse.objects.select_related("user", "ticket").defer("messages", "answer")
    page, query = filtered_page(request, uses, filters, LOG_FILTERS, size=LOG_PAGE_SIZE)
    return render(request, "assist/log.html", {"filters": filters, "page": page, "query": query})


@agent_view
def assist_use(request: AgentRequest, use_id: int) -> HttpResponse:
    """One use as it was: the exact messages sent, the answer, the articles cited."""
    require_admin(request.user)
    use = get_object_or_404(AssistUse.objects.select_related("user", "ticket"), pk=use_id)
    return render(request, "assist/use.html", {"use": use})
