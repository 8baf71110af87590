"""The customer portal: sign in, one's requests (and the organization's where shared), replies.

Every ticket page goes through `ticket_for_customer`: a number alone never grants access, and a
ticket the customer may not see is not found (404). Only the public thread is shown — entries
with `internal` set never reach these templates.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any

from django.conf import settings
from django.contrib.auth import login, logout
from django.contrib.auth.forms import SetPasswordForm
from django.contrib.auth.views import redirect_to_login
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpRequest, HttpResponse
from django.http.response import HttpResponseBase
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import translation
from django.utils.translation import gettext as _
from django.views.decorators.http import require_http_methods, require_POST

from sportello.accounts.models import Role, User
from sportello.core.errors import Forbidden, NotFound, ServiceError
from sportello.core.ratelimit import client_ip
from sportello.csat import services as csat_services
from sportello.csat.access import survey_for_customer
from sportello.csat.forms import SurveyForm
from sportello.csat.models import Source, Survey
from sportello.customers.models import Customer
from sportello.customers.services import confirm_identity
from sportello.portal import services
from sportello.portal.forms import LinkForm, NewTicketForm, PasswordSignInForm, ReplyForm
from sportello.tickets.access import ticket_for_customer, tickets_for_customer
from sportello.tickets.attachments import download
from sportello.tickets.models import Attachment, StatusCategory, Ticket
from sportello.tickets.services import close_ticket_by_customer

View = Callable[..., HttpResponseBase]
PAGE = 100
SURVEY_STATES = (StatusCategory.SOLVED, StatusCategory.CLOSED)


class CustomerRequest(HttpRequest):
    user: User


def customer_view(view: View) -> View:
    """Signed-in customers with a customer file only; anonymous visitors go to the portal sign-in.

    The page speaks the customer's language (`customer_language`).
    """

    @wraps(view)
    def wrapper(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponseBase:
        user = request.user
        if not user.is_authenticated:
            return redirect_to_login(request.get_full_path(), reverse("portal:login"))
        language = Customer.objects.filter(user=user).values_list("language", flat=True).first()
        if user.role != Role.CUSTOMER or language is None:  # type: ignore[union-attr]
            raise PermissionDenied(_("The portal is for customers."))
        try:
            with translation.override(customer_language(request, language)):
                return view(request, *args, **kwargs)
        except NotFound as err:
            raise Http404(err.message) from err
        except Forbidden as err:
            raise PermissionDenied(err.message) from err

    return wrapper


def customer_language(request: HttpRequest, file_language: str) -> str:
    """The language a signed-in customer reads the portal in.

    The one they picked with the language switcher (Django's language cookie) comes first, then
    the language of their customer file, then what the browser asks for (LocaleMiddleware's
    choice). A language the site does not offer (a customer file saying "fr") is skipped.
    """
    for candidate in (request.COOKIES.get(settings.LANGUAGE_COOKIE_NAME), file_language):
        try:
            return translation.get_supported_language_variant(candidate or "")
        except LookupError:
            continue
    return getattr(request, "LANGUAGE_CODE", settings.LANGUAGE_CODE)


def _language() -> str:
    """The active language, inside `customer_view` the customer's (for the KB search box, new tickets)."""
    return translation.get_language() or settings.LANGUAGE_CODE


# --- Signing in -------------------------------------------------------------------------------------------


@require_http_methods(["GET", "POST"])
def sign_in(request: HttpRequest) -> HttpResponse:
    link_form, password_form, sent, error = LinkForm(), PasswordSignInForm(), False, ""
    if request.method == "POST" and request.POST.get("method") == "password":
        password_form = PasswordSignInForm(request.POST)
        if password_form.is_valid():
            data = password_form.cleaned_data
            try:
                user = services.sign_in_with_password(data["email"], data["password"], client_ip=client_ip(request))
            except services.RateLimited as err:
                return _limited(request, link_form, password_form, err)
            except ServiceError as err:
                error = err.message
            else:
                if user is not None:
                    login(request, user)
                    return redirect("portal:home")
                error = _("That email address and password do not match.")
    elif request.method == "POST":
        link_form = LinkForm(request.POST)
        if link_form.is_valid():
            try:
                services.send_sign_in_link(link_form.cleaned_data["email"], client_ip=client_ip(request))
            except services.RateLimited as err:
                return _limited(request, link_form, password_form, err)
            except ServiceError as err:
                error = err.message
            else:
                sent = True  # the same answer for every address: the form tells nobody who is a customer
    context = {"link_form": link_form, "password_form": password_form, "sent": sent, "error": error}
    return render(request, "portal/sign_in.html", context, status=401 if error else 200)


def _limited(
    request: HttpRequest, link_form: LinkForm, password_form: PasswordSignInForm, err: ServiceError
) -> HttpResponse:
    context = {"link_form": link_form, "password_form": password_form, "sent": False, "error": err.message}
    response = render(request, "portal/sign_in.html", context, status=429)
    response["Retry-After"] = str(err.details.get("retry_after", settings.PORTAL_LINK_RATE_WINDOW))
    return response


@require_http_methods(["GET", "POST"])
def redeem_link(request: HttpRequest, key: str) -> HttpResponse:
    """GET shows a button; only the POST spends the link, so mail scanners that fetch links do not."""
    if request.method == "GET":
        return render(request, "portal/link.html", {"key": key})
    try:
        user = services.redeem_sign_in_link(key)
    except ServiceError as err:
        return render(request, "portal/link.html", {"key": key, "error": err.message}, status=410)
    login(request, user, backend=settings.AUTHENTICATION_BACKENDS[0])
    return redirect("portal:home")


@require_http_methods(["GET", "POST"])
def confirm_address(request: HttpRequest, token: str) -> HttpResponse:
    """The link of a confirmation mail (an address an agent added). GET shows a button; only the
    POST confirms, so mail scanners that fetch links confirm nothing."""
    if request.method == "GET":
        return render(request, "portal/confirm.html", {})
    try:
        identity = confirm_identity(token)
    except ServiceError as err:
        return render(request, "portal/confirm.html", {"error": err.message}, status=410)
    return render(request, "portal/confirm.html", {"confirmed": identity})


@require_POST
def sign_out(request: HttpRequest) -> HttpResponse:
    logout(request)
    return redirect("portal:login")


@require_http_methods(["GET", "POST"])
@customer_view
def password(request: CustomerRequest) -> HttpResponse:
    form = SetPasswordForm(request.user, request.POST or None)
    if request.method == "POST" and form.is_valid():
        services.change_portal_password(request.user, form.cleaned_data["new_password1"])
        login(request, request.user, backend=settings.AUTHENTICATION_BACKENDS[0])
        return render(request, "portal/password.html", {"form": None, "done": True})
    return render(request, "portal/password.html", {"form": form}, status=422 if form.errors else 200)


# --- Requests ---------------------------------------------------------------------------------------------


@customer_view
def home(request: CustomerRequest) -> HttpResponse:
    tickets = tickets_for_customer(request.user).select_related("status", "customer").order_by("-updated_at", "-id")
    customer = Customer.objects.select_related("organization").get(user=request.user)
    context = {"tickets": tickets[:PAGE], "customer": customer, "lang": _language()}
    return render(request, "portal/home.html", context)


@customer_view
def ticket(request: CustomerRequest, number: int) -> HttpResponse:
    return _ticket_page(request, ticket_for_customer(request.user, number), ReplyForm())


def _ticket_page(
    request: CustomerRequest, found: Ticket, form: ReplyForm, status: int = 200, survey_form: SurveyForm | None = None
) -> HttpResponse:
    entries = (
        found.entries.filter(internal=False)
        .exclude(kind="note")
        .select_related("author_user", "author_customer")
        .prefetch_related("attachments")
    )
    context = {
        "ticket": found, "entries": entries, "form": form, "lang": _language(),
        **_survey_context(request, found, survey_form),
    }  # fmt: skip
    return render(request, "portal/ticket.html", context, status=status)


def _survey_context(request: CustomerRequest, found: Ticket, form: SurveyForm | None) -> dict[str, Any]:
    """The satisfaction survey of a solved ticket; its form for the ticket's own customer only."""
    survey = Survey.objects.filter(ticket=found).first()
    if survey is None or (found.state not in SURVEY_STATES and not survey.rating):
        return {"survey": None}
    own = found.customer.user_id == request.user.pk
    if form is None:
        form = SurveyForm(initial={"rating": survey.rating, "comment": survey.comment})
    can_change = own and csat_services.can_change(survey)
    return {"survey": survey, "survey_form": form if own else None, "can_change": can_change}


@require_POST
@customer_view
def rate(request: CustomerRequest, number: int) -> HttpResponse:
    """The customer's answer to the survey of their solved ticket."""
    survey = survey_for_customer(request.user, number)
    form = SurveyForm(request.POST)
    if not form.is_valid():
        return _ticket_page(request, survey.ticket, ReplyForm(), status=422, survey_form=form)
    try:
        csat_services.rate_ticket(
            survey, rating=form.cleaned_data["rating"], comment=form.cleaned_data["comment"],
            actor=request.user, source=Source.PORTAL,
        )  # fmt: skip
    except ServiceError as err:
        form.add_error(None, err.message)
        return _ticket_page(request, survey.ticket, ReplyForm(), status=err.status, survey_form=form)
    return redirect(reverse("portal:ticket", kwargs={"number": number}) + "#survey")


@require_POST
@customer_view
def reply(request: CustomerRequest, number: int) -> HttpResponse:
    found = ticket_for_customer(request.user, number)
    form = ReplyForm(request.POST, request.FILES)
    if not form.is_valid():
        return _ticket_page(request, found, form, status=422)
    try:
        services.reply_from_portal(
            request.user, found, body=form.cleaned_data["body"], files=form.cleaned_data["attachments"]
        )
    except ServiceError as err:
        form.add_error(None, err.message)
        return _ticket_page(request, found, form, status=err.status)
    return redirect("portal:ticket", number=found.number)


@require_POST
@customer_view
def close(request: CustomerRequest, number: int) -> HttpResponse:
    close_ticket_by_customer(ticket_for_customer(request.user, number), request.user)
    return redirect("portal:ticket", number=number)


@require_http_methods(["GET", "POST"])
@customer_view
def new(request: CustomerRequest) -> HttpResponse:
    form = NewTicketForm(request.POST or None, request.FILES or None)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            created = services.open_ticket_from_portal(
                request.user, subject=data["subject"], body=data["body"], files=data["attachments"],
                language=_language(),
            )  # fmt: skip
        except ServiceError as err:
            form.add_error(None, err.message)
        else:
            return redirect("portal:ticket", number=created.number)
    return render(request, "portal/new.html", {"form": form}, status=422 if form.errors else 200)


@customer_view
def attachment(request: CustomerRequest, attachment_id: int) -> HttpResponseBase:
    """A file on a public entry of a ticket this customer may see; always a download."""
    item = (
        Attachment.objects.select_related("entry")
        .filter(pk=attachment_id, entry__internal=False, entry__ticket__in=tickets_for_customer(request.user))
        .first()
    )
    if item is None:
        raise Http404("No such file")
    return download(item)
