"""Admin: agents' notifications (to answer "why was I told?") and their choices, read only."""

from __future__ import annotations

from django.contrib import admin
from django.http import HttpRequest

from sportello.notifications.models import Notification, Preference


class ReadOnly(admin.ModelAdmin):
    """Written by the listener and by each agent; an admin looks, and may delete."""

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False


@admin.register(Notification)
class NotificationAdmin(ReadOnly):
    list_display = ("created_at", "recipient", "kind", "ticket", "actor", "read_at")
    list_filter = ("kind",)
    list_select_related = ("recipient", "ticket", "actor")
    search_fields = ("recipient__username", "ticket__number")
    raw_id_fields = ("recipient", "ticket", "entry", "actor")
    ordering = ("-id",)


@admin.register(Preference)
class PreferenceAdmin(ReadOnly):
    list_display = ("user", "kind", "in_app", "by_mail")
    list_filter = ("kind",)
    list_select_related = ("user",)
