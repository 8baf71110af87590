from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.contrib.auth.admin import UserAdmin as BaseUserAdmin  # its module registers Django's Group
from django.contrib.auth.models import Group as DjangoGroup
from django.http import HttpRequest
from django.utils.translation import gettext_lazy as _

from sportello.accounts.models import ApiToken, Group, User

# Sportello's support groups are "Groups"; Django's permission groups, which nothing in Sportello
# uses, would be a second "Groups" in the index (issue #15).
if admin.site.is_registered(DjangoGroup):
    admin.site.unregister(DjangoGroup)


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

    list_display = ("name", "user", "hint", "scopes", "created_at", "expires_at", "last_used_at", "revoked_at")
    list_filter = ("revoked_at",)
    search_fields = ("name", "user__username", "hint")
    list_select_related = ("user",)
    readonly_fields = ("user", "name", "key_hash", "hint", "scopes", "created_at", "last_used_at")
    fields = ("user", "name", "hint", "key_hash", "scopes", "created_at", "expires_at", "last_used_at", "revoked_at")

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


_admin_sign_in = admin.site.login


def _counted_admin_sign_in(request: HttpRequest, extra_context: dict[str, Any] | None = None) -> Any:
    """The admin site's own sign-in, with failed passwords counted and locked as on the agents'
    sign-in page (accounts/views.py): otherwise it would be a way around the lock."""
    from sportello.accounts.views import SCOPE, LoginView
    from sportello.core.ratelimit import (
        client_ip,
        record_sign_in_failure,
        record_sign_in_success,
        sign_in_retry_after,
    )

    if request.method != "POST":
        return _admin_sign_in(request, extra_context)
    username, address = request.POST.get("username", ""), client_ip(request)
    wait = sign_in_retry_after(SCOPE, client_ip=address, account=username)
    if not wait:
        response = _admin_sign_in(request, extra_context)
        # Signed in: Django redirects (a failure shows the form again, even to someone signed in already).
        if response.status_code == 302 and request.user.is_authenticated:
            record_sign_in_success(SCOPE, account=username)
            return response
        if not (username and request.POST.get("password")):
            return response
        wait = record_sign_in_failure(SCOPE, client_ip=address, account=username)
        if not wait:
            return response
    page = LoginView()
    page.setup(request)
    return page.locked(wait)


admin.site.login = _counted_admin_sign_in  # type: ignore[method-assign]
