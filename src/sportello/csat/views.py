"""Survey pages: the landing page of the email's links, and the result on the agent's ticket page.

The email's good and bad links open a page with the answer chosen and a confirm button: only the
POST records it, so a mail scanner that fetches every link does not vote.
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


@never_cache
@require_http_methods(["GET", "POST"])
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
    if request.method == "GET":
        form = SurveyForm(initial={"rating": rating, "comment": survey.comment})
        return _page(request, survey, form)
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
