from __future__ import annotations

from typing import Any

from django.apps import apps
from django.contrib import admin
from django.http import HttpRequest

from sportello.core.models import OutboxMessage, PeriodicRun


class ReadOnlyAdmin(admin.ModelAdmin):
    """Rows the system keeps by itself: shown to admins for diagnosis, never edited by hand."""

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(PeriodicRun)
class PeriodicRunAdmin(ReadOnlyAdmin):
    list_display = ("name", "due_at", "last_started_at", "last_holder", "last_error")
    search_fields = ("name", "last_error")


@admin.register(OutboxMessage)
class OutboxMessageAdmin(ReadOnlyAdmin):
    list_display = ("id", "kind", "state", "attempts", "next_attempt_at", "created_at", "done_at", "last_error")
    list_filter = ("state", "kind")
    search_fields = ("key", "last_error")
    exclude = ("payload",)  # a sign-in link's address is a secret until it is sent (outbox.register(secret=True))


# Not shown in the admin (issue #15): ticket-number counters and the task queue's results are
# internals with nothing an admin can act on. django_tasks_db registers its results' admin
# itself; it is loaded first here so that the order of INSTALLED_APPS does not matter.
if apps.is_installed("django_tasks_db"):
    import django_tasks_db.admin  # noqa: F401
    from django_tasks_db.models import DBTaskResult

    if admin.site.is_registered(DBTaskResult):
        admin.site.unregister(DBTaskResult)
