"""Survey pages: the landing page of the email's links, and the result on the agent's ticket page.

One click on the email's good or bad link records that answer, and the page that opens thanks the
customer and holds the same form preselected, to change the answer or add a comment (one POST).

Mail scanners (Safe Links, Proofpoint, Mimecast, Barracuda...) fetch every link of a mail, and a
scanner must not vote. A confirm button would stop them all but makes the customer click twice, so
the link's own GET records the answer only when it is a person's browser opening a page:

1. Not a known prefetch: HEAD, or `Sec-Purpose`/`Purpose`/`X-Purpose`/`X-Moz` saying prefetch,
   prerender or preview (browsers' and mail apps' speculative fetches).
2. A top-level navigation by a browser: `Sec-Fetch-Mode: navigate` and `Sec-Fetch-Dest: document`,
   which every current browser sends (Chrome 76, Firefox 90, Safari 16.4) when a person opens a
   link, also through a redirect such as Safe Links', while the HTTP clients scanners are built
   on send no Sec-Fetch headers. An older browser gets the preselected form: one click more.
3. The survey has no answer yet. A scanner that drives a real browser through every link records
   the first link at most; it never turns one answer into another, and never drops a comment. A
   person who opens the other link later finds it preselected, with their current answer shown,
   and saves it in one click, within the change window (CHANGE_WINDOW).

The form's POST records whatever it says, as before.
"""

from __future__ import annotations

from django.conf import settings
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils import translation
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET, require_http_methods

from sportello.core.errors import NotFound, ServiceError
from sportello.csat import services
from sportello.csat.forms import SurveyForm
from sportello.csat.models import Rating, Source, Survey
from sportello.tickets.access import ticket_for_agent
from sportello.tickets.views import AgentRequest, agent_view

# Request headers (as Django's META names them) by which browsers and mail apps mark a fetch nobody
# asked to see: a value containing one of PREFETCH_WORDS.
PREFETCH_HEADERS = ("HTTP_SEC_PURPOSE", "HTTP_PURPOSE", "HTTP_X_PURPOSE", "HTTP_X_MOZ")
PREFETCH_WORDS = ("prefetch", "prerender", "preview")


@never_cache
@require_http_methods(["GET", "HEAD", "POST"])
def answer(request: HttpRequest, number: int, token: str, rating: str) -> HttpResponse:
    if rating not in Rating.values:
        raise Http404("No such answer")
    try:
        survey = services.survey_for_token(number, token)
    except NotFound as err:
        raise Http404(err.message) from err
    except ServiceError as err:
        return render(request, "csat/answer.html", {"error": err.message}, status=err.status)
    with translation.override(_survey_language(request, survey)):
        return _answer(request, survey, rating)


def _survey_language(request: HttpRequest, survey: Survey) -> str:
    """The customer's language (as the survey mail's), else the ticket's; a language the site does
    not offer (a customer file saying "fr") falls back to what the browser asks for."""
    for candidate in (survey.customer.language, survey.ticket.language):
        try:
            return translation.get_supported_language_variant(candidate or "")
        except LookupError:
            continue
    return getattr(request, "LANGUAGE_CODE", settings.LANGUAGE_CODE)


def _answer(request: HttpRequest, survey: Survey, rating: str) -> HttpResponse:
    if request.method != "POST":
        return _open_link(request, survey, rating)
    form = SurveyForm(request.POST)
    if not form.is_valid():
        return _page(request, survey, form, status=422)
    try:
        survey = services.rate_ticket(
            survey, rating=form.cleaned_data["rating"], comment=form.cleaned_data["comment"],
            actor=request.user if request.user.is_authenticated else None, source=Source.EMAIL,
        )  # fmt: skip
    except ServiceError as err:
        form.add_error(None, err.message)
        return _page(request, survey, form, status=err.status)
    return _page(request, survey, SurveyForm(initial={"rating": survey.rating, "comment": survey.comment}), done=True)


def _open_link(request: HttpRequest, survey: Survey, rating: str) -> HttpResponse:
    """A link of the mail opened: the click records its answer if a person made it (module docstring)."""
    if survey.rating or not services.can_change(survey) or not _opened_by_a_person(request):
        return _page(request, survey, SurveyForm(initial={"rating": rating, "comment": survey.comment}))
    try:
        survey = services.rate_ticket(
            survey, rating=rating, actor=request.user if request.user.is_authenticated else None, source=Source.EMAIL
        )
    except ServiceError as err:  # an agent trying the customer's link: the form, with the reason
        form = SurveyForm({"rating": rating, "comment": ""})
        form.is_valid()
        form.add_error(None, err.message)
        return _page(request, survey, form, status=err.status)
    return _page(request, survey, SurveyForm(initial={"rating": survey.rating}), done=True)


def _opened_by_a_person(request: HttpRequest) -> bool:
    """A browser's top-level GET of the page, not a prefetch (see the module docstring)."""
    if request.method != "GET":
        return False
    for header in PREFETCH_HEADERS:
        value = request.META.get(header, "").lower()
        if any(word in value for word in PREFETCH_WORDS):
            return False
    return (
        request.META.get("HTTP_SEC_FETCH_MODE", "").lower() == "navigate"
        and request.META.get("HTTP_SEC_FETCH_DEST", "").lower() == "document"
    )


def _page(
    request: HttpRequest, survey: Survey, form: SurveyForm, *, status: int = 200, done: bool = False
) -> HttpResponse:
    context = {
        "survey": survey,
        "ticket": survey.ticket,
        "form": form,
        "done": done,
        "can_change": services.can_change(survey),
    }
    return render(request, "csat/answer.html", context, status=status)


@require_GET
@agent_view
def ticket_panel(request: AgentRequest, number: int) -> HttpResponse:
    """The survey's answer on the agent's ticket page (an htmx fragment; empty when none was offered)."""
    ticket = ticket_for_agent(request.user, number)
    survey = Survey.objects.select_related("agent", "group").filter(ticket=ticket).first()
    return render(request, "csat/_ticket_panel.html", {"survey": survey})
