"""The phone systems' webhooks, and the admins' page of CTI accounts with their health.

The webhooks: A PBX is not a person: it proves itself with its account's token
(generic CTI: in the URL as Zammad's endpoint has it, or as `X-CTI-Token` / `Authorization: Bearer`)
or Twilio's signature. A refusal is 401 and logged; an event we cannot read is kept in quarantine
and answered 202 with the reason; anything else 200 with `{}` (what Zammad answers a PBX), or for
Twilio with TwiML (twiml.py: an incoming call is put through or told no one can answer; status
callbacks get an empty `<Response>`)."""

from __future__ import annotations

import json
import logging

from django.conf import settings
from django.db.models import Count, Q
from django.http import HttpRequest, HttpResponse, HttpResponseBase, JsonResponse
from django.shortcuts import get_object_or_404, render
from django.urls import reverse
from django.views.decorators.cache import never_cache
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST

from sportello.phone import services
from sportello.phone.models import CallEvent, CallState, CtiAccount, CtiKind, EventState
from sportello.phone.parse import parse_generic, parse_twilio, twilio_signature_ok
from sportello.tickets.access import require_admin
from sportello.tickets.views import AgentRequest, agent_view

log = logging.getLogger("sportello.phone")

MAX_BODY = 64 * 1024  # a call event is a few hundred bytes


def _refused(request: HttpRequest, why: str, account: CtiAccount | None = None) -> JsonResponse:
    log.warning("phone webhook refused from %s: %s", request.META.get("REMOTE_ADDR", "?"), why)
    if account is not None:
        services.record_error(account, f"refused a request: {why}")
    return JsonResponse({"detail": why}, status=401)


def _answer(outcome: services.Outcome) -> JsonResponse:
    if outcome.quarantined:
        return JsonResponse({"detail": outcome.quarantined, "quarantined": True}, status=202)
    return JsonResponse({})


def _body(request: HttpRequest) -> object:
    """The event as a form (what PBX scripts send) or a JSON object; a JSON body that is not an
    object is passed on as text, to be quarantined as unreadable."""
    if request.content_type == "application/json":
        try:
            return json.loads(request.body or b"{}")
        except (ValueError, RecursionError):
            return request.body[:10_000].decode("utf-8", "replace")
    return request.POST


@csrf_exempt
@require_POST
def generic_webhook(request: HttpRequest, token: str = "") -> JsonResponse:
    if len(request.body) > MAX_BODY:
        return JsonResponse({"detail": "The event is too large"}, status=413)
    header = request.headers.get("Authorization", "")
    token = token or request.headers.get("X-CTI-Token", "") or header.removeprefix("Bearer ").strip()
    account = services.account_for_token(token)
    if account is None:
        return _refused(request, "unknown or missing CTI token")
    return _answer(services.receive(account, _body(request), parse_generic))


@csrf_exempt
@require_POST
def twilio_webhook(request: HttpRequest, account_id: int) -> HttpResponse:
    if len(request.body) > MAX_BODY:
        return JsonResponse({"detail": "The event is too large"}, status=413)
    account = services.twilio_account(account_id)
    if account is None:
        return _refused(request, f"no active Twilio account {account_id}")
    from sportello.phone.crypto import unseal

    # Twilio signs the URL it called: as this server sees it, or (behind a proxy that ends TLS)
    # the public address SPORTELLO_SITE_URL names.
    urls = {request.build_absolute_uri(), settings.SITE_URL + request.get_full_path()}
    params = dict(request.POST.lists())
    secret, signature = unseal(account.secret_sealed), request.headers.get("X-Twilio-Signature", "")
    signed = next((url for url in sorted(urls) if twilio_signature_ok(url, params, secret, signature)), None)
    if signed is None:
        return _refused(request, "bad X-Twilio-Signature", account)
    outcome = services.receive(account, request.POST, parse_twilio)
    if outcome.quarantined:
        return _answer(outcome)
    # Callbacks our TwiML asks for go to this address as Twilio called it (so they are signed alike).
    twiml = services.answer_twilio(account, request.POST, signed.split("?", 1)[0])
    return HttpResponse(twiml, content_type="text/xml")


QUARANTINE_SHOWN = 50


@never_cache  # a new token is shown once; no cache may keep it
@agent_view
def accounts(request: AgentRequest, new_url: tuple[CtiAccount, str] | None = None) -> HttpResponse:
    """Each CTI account's webhook address, last event, last error, quarantined events and missed
    calls; the newest quarantined events with their reasons. Admins only."""
    require_admin(request.user)
    rows = CtiAccount.objects.annotate(
        quarantined=Count("events", filter=Q(events__state=EventState.QUARANTINED), distinct=True),
        missed=Count("calls", filter=Q(calls__state=CallState.MISSED), distinct=True),
    ).order_by("name")
    quarantine = CallEvent.objects.filter(state=EventState.QUARANTINED).select_related("account")
    context = {
        "accounts": [(account, _webhook(request, account)) for account in rows],
        "quarantine": quarantine[:QUARANTINE_SHOWN],
        "new_url": new_url,
        "kinds": CtiKind.choices,
    }
    return render(request, "phone/accounts.html", context)


def _webhook(request: HttpRequest, account: CtiAccount) -> str:
    if account.kind == CtiKind.TWILIO:
        return request.build_absolute_uri(reverse("phone:twilio", args=[account.pk]))
    return request.build_absolute_uri(reverse("phone:cti")) + (f"{account.token_hint}…" if account.token_hint else "")


@never_cache
@require_POST
@agent_view
def rotate_token(request: AgentRequest, pk: int) -> HttpResponseBase:
    require_admin(request.user)
    account = get_object_or_404(CtiAccount, pk=pk, kind=CtiKind.GENERIC)
    key = services.rotate_token(account)
    return accounts(request, new_url=(account, request.build_absolute_uri(reverse("phone:cti-token", args=[key]))))
