"""The admins' settings pages for statuses and ticket categories (types)."""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import messages
from django.db.models import Count
from django.http import HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_POST

from sportello.core.errors import InvalidInput
from sportello.tickets import settings_services as services
from sportello.tickets.access import require_admin
from sportello.tickets.models import Category, Status, Ticket
from sportello.tickets.views import AgentRequest, agent_view


class StatusForm(forms.Form):
    name = forms.CharField(label=gettext_lazy("Name"), max_length=60)
    category = forms.ChoiceField(
        label=gettext_lazy("Category"),
        choices=services.CHOOSABLE_CATEGORIES,
        help_text=gettext_lazy("What the status means for views, SLA clocks and reports."),
    )
    set_on_agent_reply = forms.BooleanField(
        label=gettext_lazy("Set by an agent's reply"),
        required=False,
        help_text=gettext_lazy("An agent's public reply moves the ticket to this status (one status at most)."),
    )

    def __init__(self, *args: Any, status: Status | None = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if status is not None and status.builtin:
            category = self.fields["category"]
            assert isinstance(category, forms.ChoiceField)
            category.choices = [(status.category, status.get_category_display())]
            category.disabled = True
            category.help_text = gettext_lazy("A built-in status keeps its category.")


class CategoryForm(forms.Form):
    name = forms.CharField(label=gettext_lazy("Name"), max_length=100)


def _save(request: AgentRequest, form: forms.Form, action: Any) -> bool:
    """Run a service with the form's data; its refusal becomes the form's error (shown with 422)."""
    if not form.is_valid():
        return False
    try:
        action(form.cleaned_data)
    except InvalidInput as err:
        field = err.details.get("field")
        form.add_error(field if field in form.fields else None, err.message)
        return False
    return True


# --- Statuses ------------------------------------------------------------------------------------


@agent_view
def status_list(request: AgentRequest) -> HttpResponse:
    """Every status in order, with its tickets' count, and a form to add one."""
    require_admin(request.user)
    form = StatusForm(request.POST or None)
    if request.method == "POST" and _save(request, form, lambda data: services.create_status(**data)):
        messages.success(request, _("Status “%(name)s” added.") % {"name": form.cleaned_data["name"]})
        return redirect("settings-statuses")
    return _status_page(request, form, status=422 if form.errors else 200)


def _status_page(request: AgentRequest, form: StatusForm, *, status: int = 200) -> HttpResponse:
    counts = dict(Ticket.objects.values_list("status").annotate(n=Count("pk")).order_by())
    rows = [(row, counts.get(row.pk, 0)) for row in Status.objects.order_by("position", "name", "pk")]
    context = {"rows": rows, "form": form, "preset": services.LIVEAGENT_PRESET}
    return render(request, "tickets/settings/statuses.html", context, status=status)


@agent_view
def status_edit(request: AgentRequest, status_id: int) -> HttpResponse:
    require_admin(request.user)
    row = get_object_or_404(Status, pk=status_id)
    initial = {"name": row.name, "category": row.category, "set_on_agent_reply": row.set_on_agent_reply}
    form = StatusForm(request.POST or None, initial=initial, status=row)
    if request.method == "POST" and _save(request, form, lambda data: services.update_status(row, **data)):
        messages.success(request, _("Status “%(name)s” saved.") % {"name": row.name})
        return redirect("settings-statuses")
    context = {"form": form, "row": row}
    return render(request, "tickets/settings/status_edit.html", context, status=422 if form.errors else 200)


@require_POST
@agent_view
def status_move(request: AgentRequest, status_id: int) -> HttpResponse:
    require_admin(request.user)
    services.move_status(get_object_or_404(Status, pk=status_id), up=request.POST.get("direction") == "up")
    return redirect("settings-statuses")


@require_POST
@agent_view
def status_active(request: AgentRequest, status_id: int) -> HttpResponse:
    """Deactivate a status (offered in no dropdown; tickets keep it) or bring it back."""
    require_admin(request.user)
    row = get_object_or_404(Status, pk=status_id)
    active = request.POST.get("active") == "true"
    try:
        services.set_status_active(row, active=active)
    except InvalidInput as err:
        messages.error(request, err.message)
        return _status_page(request, StatusForm(), status=422)
    if active:
        messages.success(request, _("Status “%(name)s” is offered again.") % {"name": row.name})
    else:
        messages.success(request, _("Status “%(name)s” is no longer offered; tickets keep it.") % {"name": row.name})
    return redirect("settings-statuses")


@require_POST
@agent_view
def status_delete(request: AgentRequest, status_id: int) -> HttpResponse:
    require_admin(request.user)
    row = get_object_or_404(Status, pk=status_id)
    try:
        services.delete_status(row)
    except InvalidInput as err:
        messages.error(request, err.message)
        return _status_page(request, StatusForm(), status=422)
    messages.success(request, _("Status “%(name)s” deleted.") % {"name": row.name})
    return redirect("settings-statuses")


@require_POST
@agent_view
def status_preset(request: AgentRequest) -> HttpResponse:
    """LiveAgent's set in one click (again: nothing changes)."""
    require_admin(request.user)
    services.apply_liveagent_preset()
    messages.success(request, _("LiveAgent's statuses are in place; an agent's reply now sets “Answered”."))
    return redirect("settings-statuses")


# --- Ticket categories -----------------------------------------------------------------------------


@agent_view
def category_list(request: AgentRequest) -> HttpResponse:
    require_admin(request.user)
    form = CategoryForm(request.POST or None)
    if request.method == "POST" and _save(request, form, lambda data: services.create_category(**data)):
        messages.success(request, _("Ticket type “%(name)s” added.") % {"name": form.cleaned_data["name"]})
        return redirect("settings-categories")
    return _category_page(request, form, status=422 if form.errors else 200)


def _category_page(request: AgentRequest, form: CategoryForm, *, status: int = 200) -> HttpResponse:
    counts = dict(Ticket.objects.exclude(category=None).values_list("category").annotate(n=Count("pk")).order_by())
    rows = [(row, counts.get(row.pk, 0)) for row in Category.objects.order_by("name")]
    return render(request, "tickets/settings/categories.html", {"rows": rows, "form": form}, status=status)


@agent_view
def category_edit(request: AgentRequest, category_id: int) -> HttpResponse:
    require_admin(request.user)
    row = get_object_or_404(Category, pk=category_id)
    form = CategoryForm(request.POST or None, initial={"name": row.name})
    if request.method == "POST" and _save(request, form, lambda data: services.rename_category(row, **data)):
        messages.success(request, _("Ticket type “%(name)s” saved.") % {"name": row.name})
        return redirect("settings-categories")
    context = {"form": form, "row": row}
    return render(request, "tickets/settings/category_edit.html", context, status=422 if form.errors else 200)


@require_POST
@agent_view
def category_active(request: AgentRequest, category_id: int) -> HttpResponse:
    require_admin(request.user)
    row = get_object_or_404(Category, pk=category_id)
    active = request.POST.get("active") == "true"
    services.set_category_active(row, active=active)
    if active:
        messages.success(request, _("Ticket type “%(name)s” is offered again.") % {"name": row.name})
    else:
        messages.success(
            request, _("Ticket type “%(name)s” is no longer offered; tickets keep it.") % {"name": row.name}
        )
    return redirect("settings-categories")


@require_POST
@agent_view
def category_delete(request: AgentRequest, category_id: int) -> HttpResponse:
    require_admin(request.user)
    row = get_object_or_404(Category, pk=category_id)
    try:
        services.delete_category(row)
    except InvalidInput as err:
        messages.error(request, err.message)
        return _category_page(request, CategoryForm(), status=422)
    messages.success(request, _("Ticket type “%(name)s” deleted.") % {"name": row.name})
    return redirect("settings-categories")
