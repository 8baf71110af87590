"""The mailbox form of the settings area: the address, where new tickets go, and IMAP polling."""

from __future__ import annotations

from typing import Any

from django import forms
from django.core.validators import MaxValueValidator, MinValueValidator
from django.utils.translation import gettext_lazy as _

from sportello.accounts.models import Group
from sportello.mail.models import Mailbox

IMAP_FIELDS = ("imap_host", "imap_port", "imap_ssl", "imap_username", "imap_password_env", "imap_folder")


class MailboxForm(forms.ModelForm):
    """The IMAP password is written, never shown: left empty, the stored one stays."""

    password = forms.CharField(
        label=_("IMAP password"),
        required=False,
        strip=False,
        widget=forms.PasswordInput(render_value=False, attrs={"autocomplete": "new-password"}),
    )

    class Meta:
        model = Mailbox
        fields = [
            "address",
            "name",
            "group",
            "active",
            "imap_host",
            "imap_port",
            "imap_ssl",
            "imap_username",
            "password",
            "imap_password_env",
            "imap_folder",
            "imap_after_fetch",
        ]
        labels = {
            "address": _("Address"),
            "name": _("Display name"),
            "group": _("Group"),
            "active": _("Active: fetch and accept mail"),
            "imap_host": _("IMAP server"),
            "imap_port": _("Port"),
            "imap_ssl": _("TLS"),
            "imap_username": _("User name"),
            "imap_password_env": _("Or: environment variable with the password"),
            "imap_folder": _("Folder"),
            "imap_after_fetch": _("After fetching"),
        }
        help_texts = {
            "name": _("Shown as the sender's name on outgoing mail."),
            "group": _("New tickets from this mailbox go to this group."),
            "imap_host": _("Leave empty when mail reaches this address by SMTP/LMTP or the HTTP endpoint."),
            "imap_port": _("993 with TLS, 143 without."),
            "imap_ssl": _("Connect with TLS (IMAPS). Turn off only for a server on this machine or network."),
            "imap_username": _("Empty: the address."),
            "imap_password_env": _("For passwords kept out of the database; a password typed above wins."),
            "imap_after_fetch": _("What happens on the server to a message once Sportello has stored it."),
        }

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        group = self.fields["group"]
        assert isinstance(group, forms.ModelChoiceField)
        group.queryset = Group.objects.order_by("name")
        group.empty_label = _("No group")
        port = self.fields["imap_port"]
        port.validators += [MinValueValidator(1), MaxValueValidator(65535)]
        port.widget.attrs.update(min=1, max=65535)
        stored = bool(self.instance.pk and self.instance.imap_password_sealed)
        self.fields["password"].help_text = (
            _("A password is stored. Left empty, it stays.") if stored else _("Kept encrypted; never shown again.")
        )

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        host = (data.get("imap_host") or "").strip()
        data["imap_host"] = host
        if host and not (data.get("password") or data.get("imap_password_env") or self.instance.imap_password_sealed):
            self.add_error("password", _("Enter the IMAP password (or name the environment variable that holds it)."))
        if host and not (data.get("imap_folder") or "").strip():
            self.add_error("imap_folder", _("Name the folder to fetch from, usually INBOX."))
        return data
