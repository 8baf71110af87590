from django.contrib import admin

from sportello.fields.models import CustomField


@admin.register(CustomField)
class CustomFieldAdmin(admin.ModelAdmin):
    list_display = ("label", "key", "target", "type", "required", "position", "active")
    list_filter = ("target", "type", "active")
    search_fields = ("label", "key")
    ordering = ("target", "position", "id")
