"""Admin for calendars and policies. Saving one recomputes the open tickets' clocks (a task)."""

from __future__ import annotations

from functools import partial
from typing import Any

from django import forms
from django.contrib import admin
from django.db import transaction
from django.http import HttpRequest
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from sportello.sla.models import Calendar, CalendarInterval, Holiday, Policy, Target, TicketSLA
from sportello.sla.services import _forget_settings, _schedule_resync


class IntervalInline(admin.TabularInline):
    model = CalendarInterval
    extra = 1


class HolidayInline(admin.TabularInline):
    model = Holiday
    extra = 1


class ResyncOnSave(admin.ModelAdmin):
    """A saved calendar or policy (its inline rows included) is re-read and open tickets recomputed."""

    def save_model(self, request: HttpRequest, obj: Any, form: Any, change: bool) -> None:
        obj.updated_at = timezone.now()
        super().save_model(request, obj, form, change)

    def save_related(self, request: HttpRequest, form: Any, formsets: Any, change: bool) -> None:
        super().save_related(request, form, formsets, change)
        _forget_settings()
        changed = {"calendar_id" if isinstance(form.instance, Calendar) else "policy_id": form.instance.pk}
        transaction.on_commit(partial(_schedule_resync, **changed))

    def delete_model(self, request: HttpRequest, obj: Any) -> None:
        super().delete_model(request, obj)
        _forget_settings()


@admin.register(Calendar)
class CalendarAdmin(ResyncOnSave):
    list_display = ("name", "time_zone", "holiday_countries")
    search_fields = ("name",)
    inlines = [IntervalInline, HolidayInline]
    exclude = ("created_at", "updated_at")


class TargetInline(admin.TabularInline):
    model = Target
    extra = 1


CONDITION_FIELDS = ("priorities", "channels", "tiers", "groups", "organizations", "tags")


class PolicyAdminForm(forms.ModelForm):
    """Refuses to save an active policy with no conditions (it would take every ticket no policy
    above it takes) unless the box is ticked, as the settings page and the API ask."""

    confirm_all_tickets = forms.BooleanField(
        label=_("Applies to every ticket"),
        required=False,
        help_text=_(
            "Tick to save an active policy with no conditions: it takes every ticket no policy above it takes."
        ),
    )

    class Meta:
        model = Policy
        fields = ("name", "position", "active", "calendar", *CONDITION_FIELDS, "warning_minutes")

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        conditions = any(data.get(name) for name in CONDITION_FIELDS if name in self.fields)
        if data.get("active") and not conditions and not data.get("confirm_all_tickets"):
            self.add_error(
                "confirm_all_tickets",
                _(
                    "This policy has no conditions: it applies to every ticket no policy above it takes. "
                    "Tick the box to save it anyway, or add a condition."
                ),
            )
        return data


@admin.register(Policy)
class PolicyAdmin(ResyncOnSave):
    """`active` is not editable in the list: a policy with no conditions is activated from its
    form, which asks first."""

    form = PolicyAdminForm
    list_display = ("name", "position", "active", "calendar")
    list_editable = ("position",)
    filter_horizontal = ("groups", "organizations", "tags")
    inlines = [TargetInline]
    exclude = ("created_at", "updated_at")


@admin.register(TicketSLA)
class TicketSLAAdmin(admin.ModelAdmin):
    """Read-only: clocks change only through the SLA services."""

    list_display = ("ticket", "policy", "next_due", "paused_at")
    raw_id_fields = ("ticket",)

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False
