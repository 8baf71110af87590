"""Forms of the accounts pages."""

from __future__ import annotations

from django import forms
from django.conf import settings
from django.utils.translation import gettext_lazy as _

from sportello.accounts.services import time_zones


class ProfileForm(forms.Form):
    language = forms.ChoiceField(
        label=_("Language"),
        required=False,
        help_text=_("The language of every page you open here. Unset, your browser's language is used."),
    )
    time_zone = forms.ChoiceField(label=_("Time zone"), help_text=_("Dates and times are shown in it."))

    def __init__(self, *args: object, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)  # type: ignore[arg-type]
        languages = [("", _("Same as my browser")), *settings.LANGUAGES]
        self.fields["language"].choices = languages  # type: ignore[attr-defined]
        self.fields["time_zone"].choices = [(zone, zone.replace("_", " ")) for zone in time_zones()]  # type: ignore[attr-defined]


class TokenForm(forms.Form):
    name = forms.CharField(
        label=_("Token name"),
        max_length=100,
        help_text=_("What it is for, so you recognise it later: “reporting script”, “CRM sync”."),
    )
