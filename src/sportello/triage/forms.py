from __future__ import annotations

from django import forms
from django.utils.translation import gettext_lazy as _

from sportello.triage.models import Target, TriageSettings


class TriageSettingsForm(forms.ModelForm):
    class Meta:
        model = TriageSettings
        fields = [name for target in Target.values for name in (f"{target}_mode", f"{target}_threshold")] + [
            "retrain_days"
        ]

    def clean(self) -> dict[str, object]:
        cleaned = super().clean() or {}
        for target in Target.values:
            value = cleaned.get(f"{target}_threshold")
            if value is not None and not 1 <= int(str(value)) <= 100:
                self.add_error(f"{target}_threshold", _("Between 1 and 100 %."))
        days = cleaned.get("retrain_days")
        if days is not None and int(str(days)) > 365:
            self.add_error("retrain_days", _("At most 365 days, or 0 to retrain only on demand."))
        return cleaned
