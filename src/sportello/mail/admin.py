"""Admin for mailboxes and the raw messages: the quarantine with its reasons, retry, download."""

from __future__ import annotations

from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest
from django.urls import NoReverseMatch, reverse
from django.utils.html import format_html
from django.utils.translation import gettext_lazy as _

from sportello.mail.models import BlockedSender, EmailTemplate, Mailbox, RawMessage, RawState
from sportello.mail.services import retry_raw


@admin.register(Mailbox)
class MailboxAdmin(admin.ModelAdmin):
    list_display = ("address", "name", "group", "active", "last_fetch_at", "last_error")
    list_filter = ("active", "group")
    search_fields = ("address", "name")
    readonly_fields = ("last_fetch_at", "last_error")


@admin.register(EmailTemplate)
class EmailTemplateAdmin(admin.ModelAdmin):
    """The wording of automatic mails per language; placeholders as in macros (docs/automation.md)."""

    list_display = ("key", "language", "subject", "active", "updated_at")
    list_filter = ("key", "language", "active")
    search_fields = ("key", "subject", "body")

    def save_model(self, request: HttpRequest, obj: EmailTemplate, form: object, change: bool) -> None:
        from django.utils import timezone

        obj.updated_at = timezone.now()
        super().save_model(request, obj, form, change)


@admin.register(RawMessage)
class RawMessageAdmin(admin.ModelAdmin):
    list_display = ("received_at", "state", "sender", "subject", "short_reason", "ticket_number", "download")
    list_filter = ("state", "source", "mailbox")
    search_fields = ("message_id", "sender", "subject", "sha256")
    date_hierarchy = "received_at"
    actions = ["retry"]
    list_select_related = ("ticket",)
    readonly_fields = [f.name for f in RawMessage._meta.fields] + ["download"]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False  # messages arrive through receive_raw only

    def has_change_permission(self, request: HttpRequest, obj: RawMessage | None = None) -> bool:
        return False

    @admin.display(description=_("Reason"))
    def short_reason(self, obj: RawMessage) -> str:
        return obj.reason[:120]

    @admin.display(description=_("Ticket"))
    def ticket_number(self, obj: RawMessage) -> str:
        return f"#{obj.ticket.number}" if obj.ticket else ""

    @admin.display(description=_("Raw"))
    def download(self, obj: RawMessage) -> str:
        try:
            url = reverse("mail_raw_download", args=[obj.pk])
        except NoReverseMatch:  # the mail URLs are not included in this project's urls.py
            return ""
        return format_html('<a href="{}">{}</a>', url, _("download raw"))

    @admin.action(description=_("Retry processing the selected messages"))
    def retry(self, request: HttpRequest, queryset: QuerySet[RawMessage]) -> None:
        done = 0
        for row in queryset.filter(state__in=[RawState.QUARANTINED, RawState.RECEIVED]):
            if retry_raw(row).state == RawState.PROCESSED:
                done += 1
        self.message_user(request, _("%(count)d message(s) processed.") % {"count": done}, messages.INFO)


@admin.register(BlockedSender)
class BlockedSenderAdmin(admin.ModelAdmin):
    """Addresses and domains whose mail is quarantined as "blocked" (release it from the raw messages)."""

    list_display = ("value", "created_by", "created_at")
    search_fields = ("value",)
    readonly_fields = ("created_by", "created_at")
