"""The admins' settings page for custom fields: list, add, edit, reorder, deactivate."""

from __future__ import annotations

from django.contrib import messages
from django.http import HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from sportello.core.ordering import move_among
from sportello.fields.forms import CustomFieldForm
from sportello.fields.models import CustomField, FieldTarget
from sportello.tickets.access import require_admin
from sportello.tickets.views import AgentRequest, agent_view


@agent_view
def field_list(request: AgentRequest) -> HttpResponse:
    """Every field, grouped by what it belongs to, with a form to add one."""
    require_admin(request.user)
    form = CustomFieldForm(request.POST or None, initial={"target": request.GET.get("target", FieldTarget.TICKET)})
    if request.method == "POST" and form.is_valid():
        field = form.save()
        messages.success(request, _("Field “%(label)s” added.") % {"label": field.label})
        return redirect("fields:settings")
    return _page(request, form, status=422 if form.errors else 200)


@agent_view
def field_edit(request: AgentRequest, field_id: int) -> HttpResponse:
    require_admin(request.user)
    field = get_object_or_404(CustomField, pk=field_id)
    form = CustomFieldForm(request.POST or None, instance=field)
    if request.method == "POST" and form.is_valid():
        form.save()
        messages.success(request, _("Field “%(label)s” saved.") % {"label": field.label})
        return redirect("fields:settings")
    return render(request, "fields/edit.html", {"form": form, "field": field}, status=422 if form.errors else 200)


@require_POST
@agent_view
def field_move(request: AgentRequest, field_id: int) -> HttpResponse:
    """Move a field one place up or down among its target's fields (the order forms show)."""
    require_admin(request.user)
    field = get_object_or_404(CustomField, pk=field_id)
    siblings = CustomField.objects.filter(target=field.target).order_by("position", "id")
    move_among(siblings, field, up=request.POST.get("direction") == "up", step=1)
    return redirect(f"{reverse('fields:settings')}#target-{field.target}")


@require_POST
@agent_view
def field_active(request: AgentRequest, field_id: int) -> HttpResponse:
    """Deactivate a field (hidden everywhere, values kept) or bring it back."""
    require_admin(request.user)
    field = get_object_or_404(CustomField, pk=field_id)
    field.active = request.POST.get("active") == "true"
    field.save(update_fields=["active"])
    if field.active:
        messages.success(request, _("Field “%(label)s” is shown again.") % {"label": field.label})
    else:
        messages.success(request, _("Field “%(label)s” is hidden; its values are kept.") % {"label": field.label})
    return redirect("fields:settings")


def _page(request: AgentRequest, form: CustomFieldForm, *, status: int = 200) -> HttpResponse:
    fields = list(CustomField.objects.order_by("target", "position", "id"))
    groups = [(value, label, [f for f in fields if f.target == value]) for value, label in FieldTarget.choices]
    return render(request, "fields/settings.html", {"groups": groups, "form": form}, status=status)
