from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.contrib.auth.admin import UserAdmin as BaseUserAdmin
from django.http import HttpRequest
from django.utils.translation import gettext_lazy as _

from sportello.accounts.models import ApiToken, Group, User


class GroupMembershipInline(admin.TabularInline):
    model = Group.members.through
    extra = 0
    verbose_name = _("support group")
    verbose_name_plural = _("support groups")


@admin.register(User)
class UserAdmin(BaseUserAdmin):
    list_display = ("username", "display_name", "email", "role", "availability", "restricted_to_groups", "is_active")
    list_filter = ("role", "availability", "restricted_to_groups", "is_active", "support_groups")
    search_fields = ("username", "first_name", "last_name", "email")
    fieldsets = (
        *(BaseUserAdmin.fieldsets or ()),
        (_("Help desk"), {"fields": ("role", "restricted_to_groups", "language", "time_zone", "availability")}),
    )
    add_fieldsets = (
        *BaseUserAdmin.add_fieldsets,
        (_("Help desk"), {"fields": ("role", "email", "first_name", "last_name")}),
    )
    inlines = [GroupMembershipInline]


@admin.register(Group)
class GroupAdmin(admin.ModelAdmin):
    list_display = ("name", "tier", "member_count")
    list_filter = ("tier",)
    search_fields = ("name", "description")
    filter_horizontal = ("members",)

    @admin.display(description=_("members"))
    def member_count(self, obj: Group) -> int:
        return obj.members.count()


@admin.register(ApiToken)
class ApiTokenAdmin(admin.ModelAdmin):
    """Tokens are issued by their owner (tokens page, `sportello token`); here they are only seen or revoked."""

    list_display = ("name", "user", "hint", "created_at", "last_used_at", "revoked_at")
    list_filter = ("revoked_at",)
    search_fields = ("name", "user__username", "hint")
    readonly_fields = ("user", "name", "key_hash", "hint", "created_at", "last_used_at")
    fields = ("user", "name", "hint", "key_hash", "created_at", "last_used_at", "revoked_at")

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False
