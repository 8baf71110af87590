"""Admin-only pages of the email channel: mailbox health, the quarantine, raw downloads."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import user_passes_test
from django.db.models import Count, Q, QuerySet
from django.http import FileResponse, HttpRequest, HttpResponse, HttpResponseBase
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_POST

from sportello.audit import services as audit
from sportello.audit.models import Action
from sportello.mail.models import Mailbox, RawMessage, RawState
from sportello.mail.services import STALE_RECEIVED, retry_raw, rotate_inbound_token, stuck_received
from sportello.tickets.access import require_admin
from sportello.tickets.views import AgentRequest, agent_view

QUARANTINE_SHOWN = 100
OTHERS_SHOWN = 20


def _is_admin(user: object) -> bool:
    return bool(getattr(user, "is_authenticated", False) and getattr(user, "is_admin", False))


@user_passes_test(_is_admin)
def download_raw(request: HttpRequest, pk: int) -> FileResponse:
    """The message exactly as it arrived, as an .eml file (it may hold anything: never inline)."""
    row = get_object_or_404(RawMessage, pk=pk)
    # A whole mail, personal data and all, leaves the help desk: an export.
    audit.record(Action.EXPORT, target=row, target_label=f"Raw message {row.pk}", after={"what": "raw message"})
    return FileResponse(
        row.file.open("rb"), as_attachment=True, filename=f"message-{row.pk}.eml", content_type="message/rfc822"
    )


@never_cache  # a new inbound token is shown once; no cache may keep it
@agent_view
def mailboxes(request: AgentRequest, new_token: tuple[Mailbox, str] | None = None) -> HttpResponse:
    require_admin(request.user)
    stale = timezone.now() - STALE_RECEIVED
    boxes = Mailbox.objects.select_related("group").annotate(
        quarantined=Count("messages", filter=Q(messages__state=RawState.QUARANTINED)),
        duplicates=Count("messages", filter=Q(messages__state=RawState.DUPLICATE)),
        stuck=Count("messages", filter=Q(messages__state=RawState.RECEIVED, messages__received_at__lt=stale)),
    )
    quarantine = RawMessage.objects.filter(state=RawState.QUARANTINED).select_related("mailbox")
    duplicates = RawMessage.objects.filter(state=RawState.DUPLICATE).select_related("mailbox", "ticket")
    stuck = stuck_received().select_related("mailbox")
    shown_duplicates, duplicates_total = _newest(duplicates)
    shown_stuck, stuck_total = _newest(stuck)
    return render(
        request,
        "mail/mailboxes.html",
        {
            "mailboxes": boxes,
            "quarantine": quarantine[:QUARANTINE_SHOWN],
            "quarantine_total": quarantine.count(),
            "duplicates": shown_duplicates,
            "duplicates_total": duplicates_total,
            "stuck": shown_stuck,
            "stuck_total": stuck_total,
            "new_token": new_token,
        },
    )


def _newest(rows: QuerySet[RawMessage]) -> tuple[list[RawMessage], int]:
    """The newest rows to show and how many there are (counted only when not all are shown)."""
    shown = list(rows[:OTHERS_SHOWN])
    return shown, (rows.count() if len(shown) == OTHERS_SHOWN else len(shown))


@require_POST
@agent_view
def retry_message(request: AgentRequest, pk: int) -> HttpResponse:
    require_admin(request.user)
    row = retry_raw(get_object_or_404(RawMessage, pk=pk, state=RawState.QUARANTINED))
    audit.power_used(
        "mail.release",  # taken out of the quarantine, past the checks that put it there
        target=row,
        target_label=f"Raw message {row.pk}",
        details={"state": row.state, "ticket": row.ticket.number if row.ticket is not None else None},
        request=request,
    )
    if row.state == RawState.QUARANTINED:
        messages.error(
            request, _("Message %(id)s is still quarantined: %(reason)s") % {"id": row.pk, "reason": row.reason}
        )
    elif row.ticket is not None:
        messages.success(
            request, _("Message %(id)s is now on ticket #%(number)s.") % {"id": row.pk, "number": row.ticket.number}
        )
    else:
        messages.success(request, _("Message %(id)s was processed.") % {"id": row.pk})
    return redirect("mail_mailboxes")


@never_cache
@require_POST
@agent_view
def rotate_token(request: AgentRequest, pk: int) -> HttpResponseBase:
    require_admin(request.user)
    mailbox = get_object_or_404(Mailbox, pk=pk)
    key = rotate_inbound_token(mailbox)
    return mailboxes(request, new_token=(mailbox, key))
