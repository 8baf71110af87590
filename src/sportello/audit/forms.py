from __future__ import annotations

from typing import Any

from django import forms
from django.utils.translation import gettext_lazy as _

from sportello.audit.models import Action


class AuditFilterForm(forms.Form):
    action = forms.ChoiceField(label=_("Action"), required=False, choices=[("", _("Any")), *Action.choices])
    actor = forms.CharField(label=_("Actor (username)"), required=False, max_length=150)
    since = forms.DateField(label=_("From"), required=False, widget=forms.DateInput(attrs={"type": "date"}))
    until = forms.DateField(label=_("To"), required=False, widget=forms.DateInput(attrs={"type": "date"}))
    q = forms.CharField(label=_("Target contains"), required=False, max_length=200)

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        if data.get("since") and data.get("until") and data["since"] > data["until"]:
            raise forms.ValidationError(_("“From” must not be after “To”."))
        return data

    def filters(self) -> dict[str, Any]:
        data = self.cleaned_data
        return {
            "action": data.get("action") or "",
            "actor": data.get("actor") or "",
            "since": data.get("since"),
            "until": data.get("until"),
            "text": data.get("q") or "",
        }
