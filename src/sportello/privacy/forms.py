from __future__ import annotations

from django import forms
from django.utils.translation import gettext_lazy as _

from sportello.privacy.models import RetentionPolicy


class EraseForm(forms.Form):
    confirmation = forms.CharField(label=_("Type the customer's email address to confirm"), max_length=254)


class RetentionForm(forms.ModelForm):
    class Meta:
        model = RetentionPolicy
        fields = ["anonymise_inactive_years", "delete_closed_months", "batch_size", "agents_may_export"]

    def clean_anonymise_inactive_years(self) -> int | None:
        value: int | None = self.cleaned_data.get("anonymise_inactive_years")
        if value is not None and not 1 <= value <= 100:
            raise forms.ValidationError(_("Between 1 and 100 years, or empty to turn the rule off."))
        return value

    def clean_delete_closed_months(self) -> int | None:
        value: int | None = self.cleaned_data.get("delete_closed_months")
        if value is not None and not 1 <= value <= 1200:
            raise forms.ValidationError(_("Between 1 and 1200 months, or empty to turn the rule off."))
        return value

    def clean_batch_size(self) -> int:
        value: int = self.cleaned_data["batch_size"]
        if not 1 <= value <= 5000:
            raise forms.ValidationError(_("Between 1 and 5000."))
        return value
