"""The form of a CTI account on the settings page, with the fields of its kind. Twilio's Account
SID and auth token are write-only: kept encrypted, shown again only as their last four characters,
and left empty, the stored one stays."""

from __future__ import annotations

import re
from typing import Any

import phonenumbers
from django import forms
from django.db import models
from django.utils.translation import gettext_lazy as _

from sportello.phone import numbers
from sportello.phone.models import CtiAccount, CtiKind
from sportello.phone.twiml import is_sip

# sip:user@host[:port][;params], as Twilio's <Sip> noun takes it (no spaces, no markup).
SIP_ADDRESS = re.compile(r"sips?:[^\s@<>\"']+@[A-Za-z0-9.\-]+(:\d{1,5})?(;[^\s<>\"']*)?", re.IGNORECASE)
# https://www.twilio.com/docs/glossary/what-is-a-sid: two letters (AC for an account), 32 hex digits.
ACCOUNT_SID = re.compile(r"AC[0-9a-fA-F]{32}")
AUTH_TOKEN = re.compile(r"[0-9a-fA-F]{32}")

FIELDS = {
    CtiKind.GENERIC: ("name", "active", "region", "outbound_url"),
    CtiKind.TWILIO: ("name", "active", "region", "forward_to", "outbound_url", "api_base"),
}


def _formfield(field: Any, **kwargs: Any) -> forms.Field | None:
    """The model's form fields, URLs read as https:// when typed without a scheme."""
    if isinstance(field, models.URLField):
        kwargs.setdefault("assume_scheme", "https")
    return field.formfield(**kwargs)


class CtiAccountForm(forms.ModelForm):
    account_sid = forms.CharField(
        label=_("Account SID"),
        required=False,
        strip=True,
        max_length=64,
        widget=forms.PasswordInput(render_value=False, attrs={"autocomplete": "off"}),
        help_text=_("AC followed by 32 letters and digits, from the Twilio console's account dashboard."),
    )
    auth_token = forms.CharField(
        label=_("Auth token"),
        required=False,
        strip=True,
        max_length=64,
        widget=forms.PasswordInput(render_value=False, attrs={"autocomplete": "new-password"}),
        help_text=_("32 letters and digits, beside the Account SID. Twilio signs every request with it."),
    )

    class Meta:
        model = CtiAccount
        formfield_callback = _formfield
        fields = ("name", "active", "region", "forward_to", "outbound_url", "api_base")
        labels = {"name": _("Name"), "active": _("Active"), "outbound_url": _("Outbound URL")}
        help_texts = {
            "outbound_url": _(
                "Click to dial posts the number here (your PBX's script); empty: phone numbers are tel: links."
            ),
            "name": _("For agents and admins, for example “Office PBX”."),
            "active": _("Switched off, its webhook refuses every event and it no longer dials out."),
        }

    def __init__(self, *args: Any, kind: str, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.kind = kind
        self.instance.kind = kind
        for name in list(self.fields):
            if name in ("account_sid", "auth_token"):
                if kind != CtiKind.TWILIO:
                    del self.fields[name]
            elif name not in FIELDS[CtiKind(kind)]:
                del self.fields[name]
        self.fields["region"].widget.attrs.update(maxlength=2, size=3, autocapitalize="characters")
        stored = {"account_sid": self.instance.account_sid_hint, "auth_token": self.instance.secret_hint}
        for name, hint in stored.items():
            if name in self.fields and hint:
                self.fields[name].help_text = _("Stored (%(masked)s). Left empty, it stays.") % {"masked": hint}
            elif name in self.fields:
                self.fields[name].required = True

    def clean_region(self) -> str:
        region = str(self.cleaned_data.get("region") or "").strip().upper()
        if region and region not in phonenumbers.SUPPORTED_REGIONS:
            raise forms.ValidationError(
                _("%(code)s is not a country code: use two letters, as DE, IT or US.") % {"code": region[:8]}
            )
        return region

    def clean_outbound_url(self) -> str:
        return _web_address(self.cleaned_data.get("outbound_url"))

    def clean_api_base(self) -> str:
        return _web_address(self.cleaned_data.get("api_base"))

    def clean_account_sid(self) -> str:
        sid = str(self.cleaned_data.get("account_sid") or "").strip()
        if sid and not ACCOUNT_SID.fullmatch(sid):
            raise forms.ValidationError(
                _("An Account SID is AC followed by 32 letters a-f and digits (34 characters in all).")
            )
        return sid

    def clean_auth_token(self) -> str:
        token = str(self.cleaned_data.get("auth_token") or "").strip()
        if token and not AUTH_TOKEN.fullmatch(token):
            raise forms.ValidationError(
                _("An auth token is 32 letters a-f and digits; copy it whole from the Twilio console.")
            )
        return token

    def clean_forward_to(self) -> str:
        target = str(self.cleaned_data.get("forward_to") or "").strip()
        if not target:
            return ""
        if is_sip(target):
            if not SIP_ADDRESS.fullmatch(target):
                raise forms.ValidationError(_("Not a SIP address: write it as sip:desk@pbx.example.com."))
            return target
        region = str(self.data.get(self.add_prefix("region")) or "").strip().upper()
        e164 = numbers.to_e164(target, region if region in phonenumbers.SUPPORTED_REGIONS else "")
        if not e164 or not phonenumbers.is_valid_number(phonenumbers.parse(e164, None)):
            raise forms.ValidationError(
                _("Not a phone number that can be called: write it with its country code, as +493055571600.")
            )
        return e164


def _web_address(value: object) -> str:
    url = str(value or "").strip()
    if url and not url.lower().startswith(("https://", "http://")):
        raise forms.ValidationError(_("Use a web address, starting with https:// (or http://)."))
    return url
