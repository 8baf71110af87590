"""The forms of the "Chat and messaging" settings page: a website chat widget, and a messaging
account with the fields of its own kind (credentials write-only: left empty, the stored one stays)."""

from __future__ import annotations

import re
import secrets as random
from typing import Any

from django import forms
from django.utils.translation import gettext_lazy as _

from sportello.accounts.models import Group
from sportello.chat.models import ChatChannel
from sportello.social.models import AccountKind, ChannelAccount
from sportello.social.services import PLATFORMS

# name: (label, help text, field class)
SETTINGS: dict[str, tuple[Any, Any, type[forms.Field]]] = {
    "phone_number_id": (_("Phone number id"), _("From WhatsApp, API setup in Meta's App Dashboard."), forms.CharField),
    "template_name": (
        _("Template for late replies"),
        _("An approved template with one body parameter {{1}}: replies after the 24-hour window go out as it."),
        forms.CharField,
    ),
    "template_language": (_("Template language"), _("For example en_US."), forms.CharField),
    "page_id": (_("Page id"), _("The Facebook Page's id."), forms.CharField),
    "from_number": (_("Sending number"), _("The Twilio number replies come from, as +41791234567."), forms.CharField),
    "messaging_service_sid": (
        _("Messaging service SID"),
        _("Instead of a sending number: a Twilio messaging service (MG…)."),
        forms.CharField,
    ),
    "delivery_url": (
        _("Delivery URL"),
        _("Where agents' replies are posted, signed with the secret (docs/channels.md). Empty: replies are not sent."),
        forms.URLField,
    ),
    "api_base": (_("API address"), _("Advanced: empty means the platform's own."), forms.URLField),
    "api_version": (_("Graph API version"), _("Advanced: empty means v21.0."), forms.CharField),
}
CREDENTIALS: dict[str, tuple[Any, Any]] = {
    "bot_token": (_("Bot token"), _("From @BotFather.")),
    "secret_token": (
        _("Secret token"),
        _("Telegram sends it with every update. Empty on a new channel: one is made for you."),
    ),
    "access_token": (_("Access token"), _("A system user's permanent token with whatsapp_business_messaging.")),
    "page_access_token": (_("Page access token"), _("With pages_messaging (Instagram: instagram_manage_messages).")),
    "app_secret": (_("App secret"), _("App settings, Basic: Meta signs every webhook with it.")),
    "verify_token": (_("Verify token"), _("Any string you choose; type the same one in Meta's webhook settings.")),
    "account_sid": (_("Account SID"), _("AC…, from the Twilio console.")),
    "auth_token": (_("Auth token"), _("Twilio signs every webhook with it.")),
    "secret": (_("Shared secret"), _("Both sides sign their requests with it (HMAC-SHA256).")),
}
REQUIRED_SETTINGS: dict[str, tuple[str, ...]] = {
    AccountKind.WHATSAPP: ("phone_number_id",),
    AccountKind.MESSENGER: ("page_id",),
    AccountKind.INSTAGRAM: ("page_id",),
}
MADE_FOR_YOU: dict[str, tuple[str, ...]] = {AccountKind.TELEGRAM: ("secret_token",)}
TELEGRAM_TOKEN = re.compile(r"^[A-Za-z0-9_-]{1,256}$")
E164 = re.compile(r"^\+[1-9][0-9]{6,14}$")


def setting_names(kind: str) -> tuple[str, ...]:
    return tuple(getattr(PLATFORMS[kind], "setting_names", ()))


def credential_names(kind: str) -> tuple[str, ...]:
    return tuple(getattr(PLATFORMS[kind], "credential_names", ()))


class AccountForm(forms.Form):
    """A messaging account of one kind: its name, its settings, its credentials (write-only)."""

    name = forms.CharField(
        label=_("Name"), max_length=100, help_text=_("For agents and admins, for example “Shop bot”.")
    )
    active = forms.BooleanField(label=_("Active"), required=False, initial=True)

    def __init__(self, *args: Any, kind: str, account: ChannelAccount | None = None, **kwargs: Any) -> None:
        if account is not None:
            initial = {"name": account.name, "active": account.active, **account.settings}
            kwargs.setdefault("initial", initial)
        super().__init__(*args, **kwargs)
        self.kind, self.account = kind, account
        stored = account.masked_credentials() if account is not None else {}
        for name in setting_names(kind):
            label, help_text, field_class = SETTINGS[name]
            if kind == AccountKind.INSTAGRAM and name == "page_id":
                label, help_text = _("Instagram account id"), _("The Instagram professional account's id.")
            required = name in REQUIRED_SETTINGS.get(kind, ())
            if field_class is forms.URLField:
                self.fields[name] = forms.URLField(
                    label=label, help_text=help_text, required=required, assume_scheme="https"
                )
            else:
                self.fields[name] = field_class(label=label, help_text=help_text, required=required)
        for name in credential_names(kind):
            label, help_text = CREDENTIALS[name]
            if stored.get(name):
                help_text = _("Stored (%(masked)s). Left empty, it stays.") % {"masked": stored[name]}
            required = not stored.get(name) and name not in MADE_FOR_YOU.get(kind, ())
            self.fields[name] = forms.CharField(
                label=label,
                help_text=help_text,
                required=required,
                strip=True,
                widget=forms.PasswordInput(render_value=False, attrs={"autocomplete": "new-password"}),
            )

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        token = data.get("secret_token")
        if token and not TELEGRAM_TOKEN.match(token):
            self.add_error("secret_token", _("Use 1 to 256 of the characters A-Z, a-z, 0-9, _ and -."))
        number = (data.get("from_number") or "").replace(" ", "")
        if number:
            if not E164.match(number):
                self.add_error("from_number", _("Write the number with its country code, as +41791234567."))
            data["from_number"] = number
        if self.kind == AccountKind.SMS and not (number or data.get("messaging_service_sid")):
            self.add_error("from_number", _("Give a sending number or a messaging service SID."))
        return data

    def settings_values(self) -> dict[str, str]:
        return {name: str(self.cleaned_data.get(name) or "").strip() for name in setting_names(self.kind)}

    def credential_values(self) -> dict[str, str]:
        values = {name: self.cleaned_data.get(name) or "" for name in credential_names(self.kind)}
        if self.account is None:
            for name in MADE_FOR_YOU.get(self.kind, ()):
                values[name] = values[name] or random.token_urlsafe(32)
        return values


class ChatWidgetForm(forms.ModelForm):
    class Meta:
        model = ChatChannel
        fields = ["name", "key", "enabled", "ask_identity", "group", "greeting", "max_chats_per_agent", "hours"]
        labels = {
            "name": _("Name"),
            "key": _("Key"),
            "enabled": _("Enabled"),
            "ask_identity": _("Ask the visitor"),
            "group": _("Answered by"),
            "greeting": _("Greeting"),
            "max_chats_per_agent": _("Chats per agent at once"),
            "hours": _("Business hours"),
        }
        help_texts = {
            "key": _("What the website's tag names in data-channel: letters, digits, - and _."),
            "group": _("Empty: every agent."),
            "hours": _("Outside them the widget offers to leave a message. Empty: always open."),
        }

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        group = self.fields["group"]
        assert isinstance(group, forms.ModelChoiceField)
        group.queryset = Group.objects.order_by("name")
        group.empty_label = _("Every agent")
        self.fields["max_chats_per_agent"].validators.append(_at_least_one)
        self.fields["max_chats_per_agent"].widget.attrs["min"] = 1


def _at_least_one(value: int) -> None:
    if value < 1:
        raise forms.ValidationError(_("At least one chat per agent."))
