"""CTI accounts in the settings area: add, change, test, switch off and delete. The list with each
account's health is the phone page (views.accounts, /phone/accounts/). A generic account's webhook
URL (its token) is shown once, on the page that answers its creation; Twilio's credentials are
entered here and never shown again in full."""

from __future__ import annotations

from django.contrib import messages
from django.http import Http404, HttpResponse, HttpResponseBase
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_http_methods, require_POST

from sportello.phone import services
from sportello.phone.checks import AccountCheck, check_account
from sportello.phone.models import CallState, CtiAccount, CtiKind, EventState
from sportello.phone.settings_forms import CtiAccountForm
from sportello.tickets.access import require_admin
from sportello.tickets.views import AgentRequest, agent_view


@never_cache  # the page that answers a new generic account shows its token once
@require_http_methods(["GET", "POST"])
@agent_view
def account_add(request: AgentRequest, kind: str) -> HttpResponse:
    require_admin(request.user)
    if kind not in CtiKind.values:
        raise Http404("No such kind of phone system")
    form = CtiAccountForm(request.POST or None, kind=kind, instance=CtiAccount(kind=kind))
    if request.method == "POST" and form.is_valid():
        account = services.save_account(
            form.save(commit=False),
            auth_token=form.cleaned_data.get("auth_token", ""),
            account_sid=form.cleaned_data.get("account_sid", ""),
        )
        messages.success(request, _("The phone system %(name)s was added.") % {"name": account.name})
        if account.kind == CtiKind.GENERIC:
            key = services.rotate_token(account)
            new_url = request.build_absolute_uri(reverse("phone:cti-token", args=[key]))
            return _account_page(request, CtiAccountForm(kind=kind, instance=account), account, new_url=new_url)
        return redirect("settings-phone", pk=account.pk)
    return _account_page(request, form, None)


@never_cache
@require_http_methods(["GET", "POST"])
@agent_view
def account_edit(request: AgentRequest, pk: int) -> HttpResponse:
    require_admin(request.user)
    account = get_object_or_404(CtiAccount, pk=pk)
    form = CtiAccountForm(request.POST or None, kind=account.kind, instance=account)
    if request.method == "POST" and form.is_valid():
        services.save_account(
            form.save(commit=False),
            auth_token=form.cleaned_data.get("auth_token", ""),
            account_sid=form.cleaned_data.get("account_sid", ""),
        )
        messages.success(request, _("The phone system %(name)s was saved.") % {"name": account.name})
        return redirect("phone:accounts")
    return _account_page(request, form, account)


def _account_page(
    request: AgentRequest, form: CtiAccountForm, account: CtiAccount | None, *, new_url: str = ""
) -> HttpResponse:
    kind = account.kind if account is not None else form.kind
    context = {
        "form": form,
        "account": account,
        "kind": kind,
        "kind_label": CtiKind(kind).label,
        "new_url": new_url,
        "webhook_url": _webhook(request, account) if account is not None else "",
        "quarantined": account.events.filter(state=EventState.QUARANTINED).count() if account else 0,
        "missed": account.calls.filter(state=CallState.MISSED).count() if account else 0,
    }
    return render(request, "phone/settings/account_form.html", context, status=422 if form.errors else 200)


def _webhook(request: AgentRequest, account: CtiAccount) -> str:
    if account.kind == CtiKind.TWILIO:
        return request.build_absolute_uri(reverse("phone:twilio", args=[account.pk]))
    if not account.token_hash:
        return ""
    return request.build_absolute_uri(reverse("phone:cti")) + f"{account.token_hint}…"


@require_POST
@agent_view
def account_test(request: AgentRequest, pk: int) -> HttpResponseBase:
    require_admin(request.user)
    account = get_object_or_404(CtiAccount, pk=pk)
    check = check_account(account, request)
    return _report(request, account, check)


def _report(request: AgentRequest, account: CtiAccount, check: AccountCheck) -> HttpResponseBase:
    """With htmx, the sentence alone (shown next to the button); else a message on the page it came from."""
    if request.headers.get("HX-Request"):
        return render(request, "phone/settings/_check.html", {"check": check})
    (messages.success if check.ok else messages.error)(request, f"{account.name}: {check.message}")
    if request.POST.get("back") == "edit":
        return redirect("settings-phone", pk=account.pk)
    return redirect("phone:accounts")


@require_POST
@agent_view
def account_active(request: AgentRequest, pk: int) -> HttpResponseBase:
    require_admin(request.user)
    account = get_object_or_404(CtiAccount, pk=pk)
    active = request.POST.get("active") == "1"
    services.set_active(account, active)
    if active:
        messages.success(request, _("%(name)s is active again.") % {"name": account.name})
    else:
        messages.success(
            request, _("%(name)s is switched off: its webhook no longer takes events.") % {"name": account.name}
        )
    return redirect("phone:accounts")


@require_http_methods(["GET", "POST"])
@agent_view
def account_delete(request: AgentRequest, pk: int) -> HttpResponse:
    """A confirmation that says what goes with the account; then the account, its call log and events."""
    require_admin(request.user)
    account = get_object_or_404(CtiAccount, pk=pk)
    if request.method == "POST" and request.POST.get("confirmed") == "yes":
        name = account.name
        services.delete_account(account)
        messages.success(request, _("The phone system %(name)s was deleted.") % {"name": name})
        return redirect("phone:accounts")
    context = {"account": account, "calls": account.calls.count(), "events": account.events.count()}
    return render(request, "phone/settings/account_delete.html", context)
