"""Admin for CTI accounts (with their health), the call log, and the events as received (the
quarantine with its reasons). A generic account's token is shown once, when it is issued; a
Twilio auth token is entered, kept encrypted (SPORTELLO_CREDENTIALS_KEY or SECRET_KEY), and never
shown again (only its last characters)."""

from __future__ import annotations

import re
from typing import Any

from django import forms
from django.contrib import admin, messages
from django.http import HttpRequest
from django.urls import reverse
from django.utils.translation import gettext_lazy as _

from sportello.phone import numbers, services
from sportello.phone.models import Call, CallEvent, CtiAccount, CtiKind
from sportello.phone.twiml import is_sip

# sip:user@host[:port][;params], as Twilio's <Sip> noun takes it (no spaces, no markup).
SIP_ADDRESS = re.compile(r"sips?:[^\s@<>\"']+@[A-Za-z0-9.\-]+(:\d{1,5})?(;[^\s<>\"']*)?", re.IGNORECASE)


class CtiAccountForm(forms.ModelForm):
    secret = forms.CharField(
        label=_("Twilio auth token"),
        required=False,
        strip=True,
        widget=forms.PasswordInput(render_value=False),
        help_text=_("Twilio accounts only; kept encrypted, never shown again. Leave empty to keep the current one."),
    )
    outbound_url = forms.URLField(
        label=_("Outbound URL"),
        required=False,
        max_length=500,
        assume_scheme="https",
        help_text=_("Click to dial posts the number here; empty: phone numbers are tel: links"),
    )
    issue_token = forms.BooleanField(
        label=_("Issue a new token"),
        required=False,
        help_text=_("Generic accounts: the PBX's URL changes; the old token stops working at once."),
    )

    class Meta:
        model = CtiAccount
        fields = ("name", "kind", "active", "region", "outbound_url", "forward_to")

    def clean_region(self) -> str:
        return str(self.cleaned_data.get("region", "")).upper()

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        target = str(data.get("forward_to") or "").strip()
        if target and data.get("kind") != CtiKind.TWILIO:
            self.add_error("forward_to", _("Only Twilio accounts put calls through; a PBX rings its own phones."))
        elif target and is_sip(target):
            if not SIP_ADDRESS.fullmatch(target):
                self.add_error("forward_to", _("Not a SIP address: write it as sip:desk@pbx.example.com."))
        elif target:
            e164 = numbers.to_e164(target, str(data.get("region") or ""))
            if not e164:
                self.add_error("forward_to", _("Not a phone number: write it with its country code, as +493055571600."))
            target = e164
        data["forward_to"] = target
        return data


@admin.register(CtiAccount)
class CtiAccountAdmin(admin.ModelAdmin):
    form = CtiAccountForm
    list_display = ("name", "kind", "active", "last_event_at", "health", "last_error_at", "credential")
    list_filter = ("kind", "active")
    readonly_fields = ("endpoint", "credential", "last_event_at", "last_error", "last_error_at")

    @admin.display(description=_("Health"))
    def health(self, obj: CtiAccount) -> str:
        if obj.last_error and (
            obj.last_event_at is None or (obj.last_error_at and obj.last_error_at >= obj.last_event_at)
        ):
            return str(_("Error: %(error)s") % {"error": obj.last_error[:120]})
        if obj.last_event_at is None:
            return str(_("No event yet"))
        return str(_("OK"))

    @admin.display(description=_("Secret"))
    def credential(self, obj: CtiAccount) -> str:
        if obj.kind == CtiKind.TWILIO:
            return obj.secret_hint or str(_("no auth token"))
        return f"{obj.token_hint}…" if obj.token_hint else str(_("no token"))

    @admin.display(description=_("Webhook URL"))
    def endpoint(self, obj: CtiAccount) -> str:
        if obj.pk is None:
            return ""
        if obj.kind == CtiKind.TWILIO:
            return reverse("phone:twilio", args=[obj.pk])
        return reverse("phone:cti-token", args=["<token>"]).replace("%3Ctoken%3E", "<token>")

    def save_model(self, request: HttpRequest, obj: CtiAccount, form: Any, change: bool) -> None:
        super().save_model(request, obj, form, change)
        if form.cleaned_data.get("secret"):
            services.set_secret(obj, form.cleaned_data["secret"])
        if obj.kind == CtiKind.GENERIC and (form.cleaned_data.get("issue_token") or not obj.token_hash):
            key = services.rotate_token(obj)
            url = request.build_absolute_uri(reverse("phone:cti-token", args=[key]))
            messages.warning(
                request, _("The PBX's webhook URL (shown only now; keep it secret): %(url)s") % {"url": url}
            )
        elif obj.kind == CtiKind.TWILIO:
            url = request.build_absolute_uri(reverse("phone:twilio", args=[obj.pk]))
            messages.info(
                request,
                _("Twilio's webhook URL, for “A call comes in” and for call status changes: %(url)s") % {"url": url},
            )
        services.ensure_callbacks_view()


@admin.register(Call)
class CallAdmin(admin.ModelAdmin):
    list_display = ("started_at", "direction", "from_number", "to_number", "state", "agent", "duration", "cause")
    list_filter = ("state", "direction", "account")
    search_fields = ("call_id", "from_number", "to_number")
    date_hierarchy = "started_at"
    list_select_related = ("agent",)
    readonly_fields = [f.name for f in Call._meta.fields]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False  # calls come from the phone system only


@admin.register(CallEvent)
class CallEventAdmin(admin.ModelAdmin):
    list_display = ("received_at", "account", "state", "key", "short_reason")
    list_filter = ("state", "account")
    search_fields = ("key", "reason")
    date_hierarchy = "received_at"
    readonly_fields = [f.name for f in CallEvent._meta.fields]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: CallEvent | None = None) -> bool:
        return False

    @admin.display(description=_("Reason"))
    def short_reason(self, obj: CallEvent) -> str:
        return obj.reason[:120]
