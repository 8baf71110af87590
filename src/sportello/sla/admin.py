"""Admin for calendars and policies. Saving one recomputes the open tickets' clocks (a task)."""

from __future__ import annotations

from functools import partial
from typing import Any

from django.contrib import admin
from django.db import transaction
from django.http import HttpRequest
from django.utils import timezone

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


@admin.register(Policy)
class PolicyAdmin(ResyncOnSave):
    list_display = ("name", "position", "active", "calendar")
    list_editable = ("position", "active")
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
