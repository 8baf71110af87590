"""The "Chat and messaging" settings page: website chat widgets and messaging accounts, each with
its health; add, change, test and switch off an account; the snippet a website embeds."""

from __future__ import annotations

from django.conf import settings
from django.contrib import messages
from django.db.models import Count, Q
from django.http import Http404, HttpResponse, HttpResponseBase
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_http_methods, require_POST

from sportello.audit import services as audit
from sportello.chat.models import ChatChannel
from sportello.core.errors import InvalidInput
from sportello.social.checks import AccountCheck, check_account, set_telegram_webhook, webhook_url
from sportello.social.models import AccountKind, ChannelAccount, EventState
from sportello.social.services import create_account, set_account_active, update_account
from sportello.social.settings_forms import AccountForm, ChatWidgetForm
from sportello.tickets.access import require_admin
from sportello.tickets.models import PENDING_DELIVERY
from sportello.tickets.views import AgentRequest, agent_view


def embed_snippet(widget: ChatChannel) -> str:
    widget_js = settings.SITE_URL + reverse("chat:widget")
    return f'<script src="{widget_js}" data-channel="{widget.key}" async></script>'


@agent_view
def channels(request: AgentRequest) -> HttpResponse:
    require_admin(request.user)
    widgets = list(ChatChannel.objects.select_related("group").order_by("name"))
    for widget in widgets:
        widget.snippet = embed_snippet(widget)  # type: ignore[attr-defined]
    accounts = list(
        ChannelAccount.objects.annotate(
            quarantined=Count("events", filter=Q(events__state=EventState.QUARANTINED), distinct=True),
            # Replies on the account's conversations not delivered yet (queued, sending, retrying).
            waiting=Count(
                "conversations__ticket__entries",
                filter=Q(conversations__ticket__entries__delivery__in=PENDING_DELIVERY),
                distinct=True,
            ),
        ).order_by("-active", "name")
    )
    for account in accounts:
        account.webhook_url = webhook_url(account)  # type: ignore[attr-defined]
    context = {"widgets": widgets, "accounts": accounts, "kinds": AccountKind.choices}
    return render(request, "social/settings/channels.html", context)


# --- Chat widgets ------------------------------------------------------------------------------------


@require_http_methods(["GET", "POST"])
@agent_view
def widget_add(request: AgentRequest) -> HttpResponse:
    require_admin(request.user)
    return _widget(request, ChatChannel())


@require_http_methods(["GET", "POST"])
@agent_view
def widget_edit(request: AgentRequest, pk: int) -> HttpResponse:
    require_admin(request.user)
    return _widget(request, get_object_or_404(ChatChannel, pk=pk))


def _widget(request: AgentRequest, widget: ChatChannel) -> HttpResponse:
    form = ChatWidgetForm(request.POST or None, instance=widget)
    if request.method == "POST" and form.is_valid():
        # A configuration row with no history of its own: saved as it is (the audit trail records it).
        saved = form.save()
        messages.success(request, _("The chat widget %(name)s was saved.") % {"name": saved.name})
        return redirect("settings-channels")
    context = {
        "form": form,
        "widget": widget if widget.pk else None,
        "snippet": embed_snippet(widget) if widget.pk else "",
    }
    return render(request, "social/settings/widget_form.html", context, status=422 if form.errors else 200)


# --- Messaging accounts ------------------------------------------------------------------------------


@never_cache
@require_http_methods(["GET", "POST"])
@agent_view
def account_add(request: AgentRequest, kind: str) -> HttpResponse:
    require_admin(request.user)
    if kind not in AccountKind.values:
        raise Http404("No such kind of channel")
    form = AccountForm(request.POST or None, kind=kind)
    if request.method == "POST" and form.is_valid():
        try:
            account = create_account(
                kind, form.cleaned_data["name"], credentials=form.credential_values(), settings=form.settings_values()
            )
        except InvalidInput as err:
            form.add_error(err.details.get("field"), err.message)
        else:
            if not form.cleaned_data["active"]:
                set_account_active(account, False)
            messages.success(request, _("The channel %(name)s was added.") % {"name": account.name})
            return redirect("settings-channel", pk=account.pk)
    return _account_page(request, form, None, kind)


@never_cache
@require_http_methods(["GET", "POST"])
@agent_view
def account_edit(request: AgentRequest, pk: int) -> HttpResponse:
    require_admin(request.user)
    account = get_object_or_404(ChannelAccount, pk=pk)
    form = AccountForm(request.POST or None, kind=account.kind, account=account)
    if request.method == "POST" and form.is_valid():
        try:
            update_account(
                account,
                name=form.cleaned_data["name"],
                active=form.cleaned_data["active"],
                credentials=form.credential_values(),
                settings=form.settings_values(),
            )
        except InvalidInput as err:
            form.add_error(err.details.get("field"), err.message)
        else:
            messages.success(request, _("The channel %(name)s was saved.") % {"name": account.name})
            return redirect("settings-channels")
    return _account_page(request, form, account, account.kind)


def _account_page(request: AgentRequest, form: AccountForm, account: ChannelAccount | None, kind: str) -> HttpResponse:
    context = {
        "form": form,
        "account": account,
        "kind": kind,
        "kind_label": AccountKind(kind).label,
        "webhook_url": webhook_url(account) if account else "",
        "quarantined": account.events.filter(state=EventState.QUARANTINED).count() if account else 0,
    }
    return render(request, "social/settings/account_form.html", context, status=422 if form.errors else 200)


@require_POST
@agent_view
def account_test(request: AgentRequest, pk: int) -> HttpResponseBase:
    require_admin(request.user)
    account = get_object_or_404(ChannelAccount, pk=pk)
    return _report(request, account, check_account(account))


@require_POST
@agent_view
def account_point_webhook(request: AgentRequest, pk: int) -> HttpResponseBase:
    """Telegram only: `setWebhook` to this channel's address, with its secret token."""
    require_admin(request.user)
    account = get_object_or_404(ChannelAccount, pk=pk, kind=AccountKind.TELEGRAM)
    check = set_telegram_webhook(account)
    # Only whether it worked: the message names the channel's webhook address, a credential.
    audit.power_used("telegram.set_webhook", target=account, details={"ok": check.ok}, request=request)
    return _report(request, account, check)


def _report(request: AgentRequest, account: ChannelAccount, check: AccountCheck) -> HttpResponseBase:
    """With htmx, the sentence alone (shown next to the button); else a message on the page it came from."""
    if request.headers.get("HX-Request"):
        return render(request, "social/settings/_check.html", {"check": check})
    (messages.success if check.ok else messages.error)(request, f"{account.name}: {check.message}")
    back = request.POST.get("back") == "edit"
    return redirect("settings-channel", pk=account.pk) if back else redirect("settings-channels")


@require_POST
@agent_view
def account_active(request: AgentRequest, pk: int) -> HttpResponseBase:
    require_admin(request.user)
    account = get_object_or_404(ChannelAccount, pk=pk)
    active = request.POST.get("active") == "1"
    set_account_active(account, active)
    if active:
        messages.success(request, _("%(name)s is active again.") % {"name": account.name})
    else:
        messages.success(
            request, _("%(name)s is switched off: its webhook no longer takes messages.") % {"name": account.name}
        )
    return redirect("settings-channels")
