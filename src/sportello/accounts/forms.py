"""Forms of the accounts pages."""

from __future__ import annotations

from datetime import datetime, timedelta

from django import forms
from django.conf import settings
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from sportello.accounts.models import Scope, User
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
    access = forms.ChoiceField(
        label=_("Scopes"),
        required=False,
        help_text=_("What programs using it may do; never more than you may do yourself."),
    )
    expires = forms.ChoiceField(
        label=_("Expires"),
        required=False,
        choices=[
            ("", _("Never")),
            ("7", _("In 7 days")),
            ("30", _("In 30 days")),
            ("90", _("In 90 days")),
            ("365", _("In a year")),
        ],
    )

    def __init__(self, *args: object, user: User, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)  # type: ignore[arg-type]
        choices = [
            ("write", _("Read and write")),
            ("read", _("Read only (GET)")),
        ]
        if user.is_admin:
            choices.append(("admin", _("Read, write and admin operations")))
        self.fields["access"].choices = choices  # type: ignore[attr-defined]

    def clean_access(self) -> list[str]:
        return list(ACCESS[self.cleaned_data.get("access") or "write"])

    def clean_expires(self) -> datetime | None:
        days = self.cleaned_data.get("expires")
        return timezone.now() + timedelta(days=int(days)) if days else None


# The scopes of each choice of the token form's "Scopes".
ACCESS = {
    "read": (Scope.READ,),
    "write": (Scope.READ, Scope.WRITE),
    "admin": (Scope.READ, Scope.WRITE, Scope.ADMIN),
}
