"""Channel accounts in the admin: credentials are written, never read back in full."""

from __future__ import annotations

from django import forms
from django.contrib import admin
from django.db.models import Count, Q, QuerySet
from django.http import HttpRequest
from django.urls import reverse
from django.utils.translation import gettext_lazy as _

from sportello.social.models import ChannelAccount, EventState, InboundEvent
from sportello.social.services import PLATFORMS
from sportello.tickets.models import PENDING_DELIVERY

CREDENTIAL_NAMES = sorted({name for platform in PLATFORMS.values() for name in platform.credential_names})  # type: ignore[attr-defined]


class _AccountForm(forms.ModelForm):
    """One write-only field per credential; left empty, the stored value stays."""

    class Meta:
        model = ChannelAccount
        fields = ["kind", "name", "active", "settings"]

    def save(self, commit: bool = True) -> ChannelAccount:
        account = super().save(commit=False)
        try:
            values = dict(account.credentials) if account.pk else {}
        except Exception:
            values = {}
        wanted = getattr(PLATFORMS.get(account.kind), "credential_names", ())
        values.update({name: self.cleaned_data[name] for name in wanted if self.cleaned_data.get(name)})
        account.set_credentials({name: value for name, value in values.items() if name in wanted})
        if commit:
            account.save()
        return account


def _secret_field() -> forms.CharField:
    return forms.CharField(
        required=False,
        widget=forms.PasswordInput(render_value=False),
        help_text=_("Left empty, the stored value stays."),
    )


ChannelAccountForm = type("ChannelAccountForm", (_AccountForm,), {name: _secret_field() for name in CREDENTIAL_NAMES})


@admin.register(ChannelAccount)
class ChannelAccountAdmin(admin.ModelAdmin):
    form = ChannelAccountForm
    list_display = ["name", "kind", "active", "last_event_at", "last_error_at", "quarantined", "replies_pending"]

    def get_queryset(self, request: HttpRequest) -> QuerySet[ChannelAccount]:
        # The health columns in the same query as the list: no query per row.
        return (
            super()
            .get_queryset(request)
            .annotate(
                quarantined_count=Count("events", filter=Q(events__state=EventState.QUARANTINED), distinct=True),
                pending_count=Count(
                    "conversations__ticket__entries",
                    filter=Q(conversations__ticket__entries__delivery__in=PENDING_DELIVERY),
                    distinct=True,
                ),
            )
        )

    @admin.display(description=_("Quarantined"))
    def quarantined(self, account: ChannelAccount) -> int:
        return getattr(account, "quarantined_count", 0)

    @admin.display(description=_("Replies waiting"))
    def replies_pending(self, account: ChannelAccount) -> int:
        return getattr(account, "pending_count", 0)

    readonly_fields = ["webhook_url", "stored_credentials", "last_event_at", "last_error", "last_error_at"]

    @admin.display(description=_("Webhook address"))
    def webhook_url(self, account: ChannelAccount) -> str:
        from django.conf import settings

        return settings.SITE_URL + reverse("social:webhook", kwargs={"key": account.key}) if account.pk else ""

    @admin.display(description=_("Stored credentials"))
    def stored_credentials(self, account: ChannelAccount) -> str:
        return ", ".join(f"{k}: {v}" for k, v in account.masked_credentials().items())


@admin.register(InboundEvent)
class InboundEventAdmin(admin.ModelAdmin):
    list_display = ["received_at", "account", "kind", "state", "platform_id", "reason"]
    list_filter = ["state", "kind", "account"]
    readonly_fields = ["account", "platform_id", "kind", "state", "reason", "payload", "entry", "received_at"]
