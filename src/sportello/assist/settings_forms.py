"""The forms of the settings pages: the model server, and the log's filters."""

from __future__ import annotations

from typing import Any

from django import forms
from django.utils.translation import gettext_lazy as _

from sportello.accounts.models import User
from sportello.assist.models import Action, Outcome


class AssistSettingsForm(forms.Form):
    enabled = forms.BooleanField(
        label=_("Offer reply assistance to agents"),
        required=False,
        help_text=_("Off: nothing is ever sent to the model server."),
    )
    base_url = forms.CharField(
        label=_("Server address"),
        max_length=300,
        required=False,
        help_text=_(
            "An OpenAI-compatible server, e.g. http://127.0.0.1:11434 for Ollama "
            "or http://127.0.0.1:8080 for llama.cpp."
        ),
    )
    model = forms.CharField(
        label=_("Model"), max_length=200, required=False, help_text=_("As the server names it, e.g. llama3.1:8b.")
    )
    api_key = forms.CharField(
        label=_("API key"),
        max_length=500,
        required=False,
        strip=True,
        widget=forms.PasswordInput(render_value=False, attrs={"autocomplete": "new-password"}),
        help_text=_("Kept encrypted and never shown again; leave empty to keep the stored key."),
    )
    clear_api_key = forms.BooleanField(label=_("Remove the stored API key"), required=False)
    timeout_seconds = forms.IntegerField(
        label=_("Timeout (seconds)"),
        min_value=1,
        max_value=600,
        help_text=_("How long an agent waits for an answer before being told the server did not answer."),
    )
    allow_local = forms.BooleanField(
        label=_("On this machine or the local network"),
        required=False,
        help_text=_(
            "Allow a loopback or private address (127.0.0.1, 10.x, 192.168.x…). "
            "Link-local addresses such as 169.254.169.254 stay refused."
        ),
    )


class AssistLogFilter(forms.Form):
    user = forms.TypedChoiceField(label=_("Agent"), required=False, coerce=int, empty_value=None)
    action = forms.ChoiceField(label=_("Action"), required=False, choices=[("", _("Any action")), *Action.choices])
    outcome = forms.ChoiceField(label=_("Outcome"), required=False, choices=[("", _("Any outcome")), *Outcome.choices])
    ticket = forms.IntegerField(label=_("Ticket"), required=False, min_value=1)
    since = forms.DateField(label=_("From"), required=False, widget=forms.DateInput(attrs={"type": "date"}))
    until = forms.DateField(label=_("Until"), required=False, widget=forms.DateInput(attrs={"type": "date"}))

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        staff = User.objects.exclude(role="customer").order_by("first_name", "username")
        choices = [(u.pk, u.display_name) for u in staff]
        self.fields["user"].choices = [("", _("Any agent")), *choices]  # type: ignore[attr-defined]
