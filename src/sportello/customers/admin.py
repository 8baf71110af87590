from __future__ import annotations

from django.contrib import admin

from sportello.customers.models import Customer, Identity, Integration, Organization


class IdentityInline(admin.TabularInline):
    model = Identity
    extra = 0
    fields = ("kind", "value", "verified", "undeliverable", "created_at")
    readonly_fields = ("created_at",)


@admin.register(Organization)
class OrganizationAdmin(admin.ModelAdmin):
    list_display = ("name", "domain", "shared_tickets", "created_at")
    list_filter = ("shared_tickets",)
    search_fields = ("name", "domain")


@admin.register(Customer)
class CustomerAdmin(admin.ModelAdmin):
    list_display = ("__str__", "organization", "language", "created_at")
    list_filter = ("organization", "language")
    search_fields = ("name", "identities__value", "organization__name")
    list_select_related = ("organization",)
    raw_id_fields = ("user",)
    inlines = [IdentityInline]


@admin.register(Integration)
class IntegrationAdmin(admin.ModelAdmin):
    """Outside systems shown on customer pages; the shape of the call and the answer is documented
    in sportello/customers/integrations.py."""

    list_display = ("name", "url", "enabled", "timeout_seconds", "cache_seconds")
    list_filter = ("enabled",)
    fields = ("name", "url", "enabled", "secret", "timeout_seconds", "cache_seconds")
