from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import admin
from django.core.exceptions import ValidationError
from django.db.models import Q

from sportello.accounts.models import User
from sportello.accounts.team import STAFF_ROLES
from sportello.automation.actions import FIELD_ACTIONS, validate_actions
from sportello.automation.conditions import validate_conditions
from sportello.automation.models import Macro, TimeRule, Trigger, WebhookCall
from sportello.core.errors import InvalidInput


class RuleForm(forms.ModelForm):
    """Conditions and actions are checked as the API checks them, with the same messages."""

    allowed_actions: tuple[str, ...] | None = None

    def clean_conditions(self) -> Any:
        return _checked(validate_conditions, self.cleaned_data.get("conditions") or [])

    def clean_actions(self) -> Any:
        actions = self.cleaned_data.get("actions") or []
        if self.allowed_actions is None:
            return _checked(validate_actions, actions)
        return _checked(lambda value: validate_actions(value, allowed=FIELD_ACTIONS), actions)


def _checked(check: Any, value: Any) -> Any:
    try:
        return check(value)
    except InvalidInput as exc:
        raise ValidationError(exc.message) from exc


class TriggerForm(RuleForm):
    def clean(self) -> dict[str, Any]:
        from sportello.automation.services import check_loops

        data = super().clean() or {}
        if not self.errors:
            candidate = Trigger(pk=self.instance.pk, **{f: data.get(f) for f in ("name", "event", "match", "active")})
            candidate.conditions, candidate.actions = data.get("conditions") or [], data.get("actions") or []
            _checked(check_loops, candidate)
        return data


class MacroForm(RuleForm):
    allowed_actions = FIELD_ACTIONS

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        owner = self.fields.get("owner")
        if isinstance(owner, forms.ModelChoiceField):  # a personal macro is an agent's, never a customer's
            staff = Q(role__in=STAFF_ROLES, is_active=True)
            if self.instance.owner_id is not None:  # a deactivated owner stays choosable on their macro
                staff |= Q(pk=self.instance.owner_id)
            owner.queryset = User.objects.filter(staff).order_by("username")

    def clean_conditions(self) -> Any:  # macros have none
        return []


@admin.register(Trigger)
class TriggerAdmin(admin.ModelAdmin):
    form = TriggerForm
    list_display = ("name", "event", "match", "position", "active")
    list_editable = ("position", "active")
    list_filter = ("event", "active")
    search_fields = ("name",)


@admin.register(TimeRule)
class TimeRuleAdmin(admin.ModelAdmin):
    form = RuleForm
    list_display = ("name", "since", "hours", "position", "active")
    list_editable = ("position", "active")
    search_fields = ("name",)


@admin.register(Macro)
class MacroAdmin(admin.ModelAdmin):
    form = MacroForm
    list_display = ("name", "owner", "usage_count", "active")
    list_filter = ("active",)
    search_fields = ("name", "body")


@admin.register(WebhookCall)
class WebhookCallAdmin(admin.ModelAdmin):
    list_display = ("id", "url", "state", "attempts", "last_status", "created_at", "sent_at")
    list_filter = ("state",)
    readonly_fields = [f.name for f in WebhookCall._meta.fields]
    exclude = ("secret",)

    def has_add_permission(self, request: Any) -> bool:
        return False
