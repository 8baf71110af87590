"""Admin for the ticket policy models (statuses, categories, tags) and a read-only look at tickets.

Tickets and entries change only through the services (history, versions, search index, mail),
so the admin shows them and never writes them.
"""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.http import HttpRequest
from django.utils.translation import gettext_lazy as _

from sportello.tickets.models import Attachment, Category, Change, Entry, Status, Tag, Ticket


@admin.register(Status)
class StatusAdmin(admin.ModelAdmin):
    list_display = ("name", "slug", "category", "position", "builtin")
    list_filter = ("category", "builtin")
    search_fields = ("name", "slug")
    prepopulated_fields = {"slug": ("name",)}
    ordering = ("position", "name")

    def get_readonly_fields(self, request: HttpRequest, obj: Status | None = None) -> tuple[str, ...]:
        # A built-in status keeps its slug and category: code finds it by them (statuses.builtin).
        return ("slug", "category", "builtin") if obj is not None and obj.builtin else ("builtin",)

    def get_prepopulated_fields(self, request: HttpRequest, obj: Status | None = None) -> dict[str, Any]:
        return {} if obj is not None and obj.builtin else {"slug": ("name",)}

    def has_delete_permission(self, request: HttpRequest, obj: Status | None = None) -> bool:
        return super().has_delete_permission(request, obj) and not (obj is not None and obj.builtin)

    def get_actions(self, request: HttpRequest) -> dict[str, Any]:
        # The bulk delete action cannot ask per row, so it is not offered; delete one status at a time.
        actions = super().get_actions(request)
        actions.pop("delete_selected", None)
        return actions


@admin.register(Category)
class CategoryAdmin(admin.ModelAdmin):
    list_display = ("name",)
    search_fields = ("name",)


@admin.register(Tag)
class TagAdmin(admin.ModelAdmin):
    list_display = ("name",)
    search_fields = ("name",)


class ReadOnlyInline(admin.TabularInline):
    extra = 0
    can_delete = False
    show_change_link = False

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


class EntryInline(ReadOnlyInline):
    model = Entry
    fields = ("created_at", "kind", "channel", "direction", "internal", "author_user", "author_customer", "delivery")


class ChangeInline(ReadOnlyInline):
    model = Change
    fields = ("created_at", "actor", "field", "old_value", "new_value", "note")


class ReadMostlyAdmin(admin.ModelAdmin):
    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(Ticket)
class TicketAdmin(ReadMostlyAdmin):
    list_display = ("number", "subject", "customer", "channel", "status", "priority", "group", "assignee", "updated_at")
    list_filter = ("state", "status", "channel", "priority", "group")
    search_fields = ("=number", "subject", "customer__name", "customer__identities__value")
    list_select_related = ("customer", "status", "group", "assignee")
    date_hierarchy = "created_at"
    inlines = [EntryInline, ChangeInline]


@admin.register(Entry)
class EntryAdmin(ReadMostlyAdmin):
    list_display = ("id", "ticket", "kind", "channel", "direction", "internal", "delivery", "created_at")
    list_filter = ("kind", "channel", "direction", "internal", "delivery")
    search_fields = ("=ticket__number", "body_text")
    list_select_related = ("ticket",)


@admin.register(Attachment)
class AttachmentAdmin(ReadMostlyAdmin):
    list_display = ("filename", "content_type", "size", "entry", "created_at")
    search_fields = ("filename",)
    list_select_related = ("entry__ticket",)

    @admin.display(description=_("ticket"))
    def ticket(self, obj: Attachment) -> str:
        return obj.entry.ticket.reference
