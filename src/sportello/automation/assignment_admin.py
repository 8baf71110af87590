"""Automatic assignment in Django's admin: group methods and capacities with the agents' load,
skills (with the categories and tags that need them), agents' skills, languages and capacities.

Imported by the app's `ready()` (admin.py holds the triggers', time rules' and macros' admin).
"""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.http import HttpRequest, HttpResponse

from sportello.automation.assignment import configure_group_assignment, load_report
from sportello.automation.models import AgentProfile, AgentSkill, GroupAssignment, Skill


@admin.register(GroupAssignment)
class GroupAssignmentAdmin(admin.ModelAdmin):
    """The list shows, under the settings, every group's agents with their open tickets and capacity."""

    list_display = ("group", "method", "default_capacity", "last_agent")
    list_editable = ("method", "default_capacity")
    readonly_fields = ("last_agent", "updated_at")
    change_list_template = "admin/automation/groupassignment/change_list.html"

    def changelist_view(self, request: HttpRequest, extra_context: dict[str, Any] | None = None) -> HttpResponse:
        return super().changelist_view(request, {**(extra_context or {}), "load": load_report()})

    def save_model(self, request: HttpRequest, obj: GroupAssignment, form: Any, change: bool) -> None:
        saved = configure_group_assignment(obj.group, method=obj.method, default_capacity=obj.default_capacity)
        obj.pk = saved.pk


@admin.register(Skill)
class SkillAdmin(admin.ModelAdmin):
    list_display = ("name",)
    search_fields = ("name",)
    filter_horizontal = ("categories", "tags")


@admin.register(AgentSkill)
class AgentSkillAdmin(admin.ModelAdmin):
    list_display = ("agent", "skill", "level")
    list_filter = ("skill",)
    autocomplete_fields = ("skill",)
    raw_id_fields = ("agent",)


@admin.register(AgentProfile)
class AgentProfileAdmin(admin.ModelAdmin):
    list_display = ("agent", "languages", "max_open_tickets")
    raw_id_fields = ("agent",)
