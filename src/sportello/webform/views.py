"""The public support form, as its own page and as an embeddable page for other sites' iframes."""

from __future__ import annotations

import logging

from django.conf import settings
from django.core import signing
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.cache import never_cache
from django.views.decorators.clickjacking import xframe_options_exempt
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_GET, require_http_methods

from sportello.core.errors import ServiceError
from sportello.tickets.models import Ticket
from sportello.webform.forms import SupportForm
from sportello.webform.services import RateLimited, open_ticket_from_form

log = logging.getLogger("sportello.webform")

THANKS_SALT = "sportello.webform.thanks"
THANKS_MAX_AGE = 24 * 3600  # the link is for the moment after sending; the mail keeps the number


@require_http_methods(["GET", "POST"])
def new(request: HttpRequest) -> HttpResponse:
    return _support_form(request, embedded=False)


# Embedded in another site's iframe, the browser withholds our (SameSite=Lax) CSRF cookie, so the
# check would refuse every post. The form acts for nobody signed in — it only opens a ticket for the
# address typed in, as anyone could with a plain POST — so CSRF protects nothing here; the signed
# time stamp, the honeypot and the rate limit do the work against abuse.
@csrf_exempt
@xframe_options_exempt
@require_http_methods(["GET", "POST"])
def embed(request: HttpRequest) -> HttpResponse:
    return _support_form(request, embedded=True)


@never_cache
@require_GET
def thanks(request: HttpRequest, token: str) -> HttpResponse:
    return _thanks(request, token, embedded=False)


@never_cache
@xframe_options_exempt
@require_GET
def embed_thanks(request: HttpRequest, token: str) -> HttpResponse:
    return _thanks(request, token, embedded=True)


def _support_form(request: HttpRequest, *, embedded: bool) -> HttpResponse:
    if request.method != "POST":
        return _render_form(request, SupportForm(), embedded)
    form = SupportForm(request.POST, request.FILES)
    client_ip = request.META.get("REMOTE_ADDR", "")
    trap = form.trap_reason()
    if trap:
        # Looks like success to the bot, so it has nothing to learn from; nothing is stored.
        log.info("webform: dropped a submission from %s (%s)", client_ip or "unknown", trap)
        return _redirect_to_thanks({"s": request.POST.get("subject", "")[:255]}, embedded)
    if not form.is_valid():
        return _render_form(request, form, embedded, status=413 if form.has_too_large_file() else 400)
    data = form.cleaned_data
    try:
        ticket = open_ticket_from_form(
            name=data["name"],
            email=data["email"],
            subject=data["subject"],
            message=data["message"],
            files=data["attachments"],
            language=request.LANGUAGE_CODE,
            client_ip=client_ip,
            embedded=embedded,
        )
    except RateLimited:
        return _render_form(request, form, embedded, status=429, rate_limited=True)
    except ServiceError as exc:  # what intake refuses that the form did not catch
        form.add_error(None, exc.message)
        return _render_form(request, form, embedded, status=exc.status)
    return _redirect_to_thanks({"t": ticket.pk}, embedded)


def _render_form(
    request: HttpRequest, form: SupportForm, embedded: bool, *, status: int = 200, rate_limited: bool = False
) -> HttpResponse:
    context = {
        "form": form,
        "embedded": embedded,
        "action": reverse("webform:embed" if embedded else "webform:new"),
        "rate_limited": rate_limited,
    }
    response = render(request, "webform/form.html", context, status=status)
    if rate_limited:
        response["Retry-After"] = str(settings.WEBFORM_RATE_WINDOW)
    return response


def _redirect_to_thanks(payload: dict[str, object], embedded: bool) -> HttpResponseRedirect:
    """Post/Redirect/Get to a page only the sender can find: the signed token is the key."""
    token = signing.dumps(payload, salt=THANKS_SALT, compress=True)
    return redirect("webform:embed-thanks" if embedded else "webform:thanks", token=token)


def _thanks(request: HttpRequest, token: str, *, embedded: bool) -> HttpResponse:
    try:
        payload = signing.loads(token, salt=THANKS_SALT, max_age=THANKS_MAX_AGE)
    except signing.BadSignature as exc:  # also an expired one
        raise Http404(_("This page has expired or does not exist.")) from exc
    ticket = get_object_or_404(Ticket, pk=payload["t"]) if "t" in payload else None
    subject = ticket.subject if ticket else str(payload.get("s", ""))
    context = {"ticket": ticket, "subject": subject, "embedded": embedded}
    return render(request, "webform/thanks.html", context)
