"""The chat's HTTP side: the widget script, the agent console and its actions, availability.

Console actions are small POSTs (htmx or fetch); the conversation itself travels over the
console's socket. Each view goes through a gate (`agent_view`, `conversation_for_agent`) and
calls one service.
"""

from __future__ import annotations

import html
from pathlib import Path

from django import forms
from django.conf import settings
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.http.response import HttpResponseBase
from django.shortcuts import redirect, render
from django.utils.html import strip_tags
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_GET, require_POST

from sportello.accounts.models import Availability, Group, User
from sportello.chat import services
from sportello.chat.models import ConversationState
from sportello.core.errors import Conflict, InvalidInput, NotFound, ServiceError
from sportello.tickets.attachments import AttachmentIn, download
from sportello.tickets.views import AgentRequest, agent_view

WIDGET = Path(__file__).resolve().parent / "static" / "chat" / "widget.js"


@require_GET
def widget_js(request: HttpRequest) -> HttpResponse:
    """The one script a website embeds; it finds its own origin from its `src`, so any site can load it.

    Read whole (9 kB), not streamed: a streamed file makes the ASGI handler wrap a sync iterator.
    """
    response = HttpResponse(WIDGET.read_bytes(), content_type="application/javascript; charset=utf-8")
    response["Access-Control-Allow-Origin"] = "*"
    response["Cache-Control"] = "public, max-age=300"
    response["Cross-Origin-Resource-Policy"] = "cross-origin"
    return response


@require_GET
def try_widget(request: HttpRequest, key: str = "website") -> HttpResponse:
    """A page with nothing but the widget of one channel, to try it as a visitor would.

    Agents preview their channels here; anyone may when DEBUG is on. Otherwise it does not exist:
    a help desk's own address is not a page for the public to chat from.
    """
    user = request.user
    if not settings.DEBUG and not (user.is_authenticated and user.is_staff_member):
        raise Http404("No such page")
    try:
        channel = services.channel_by_key(key)
    except NotFound as err:
        raise Http404(err.message) from err
    return render(request, "chat/try.html", {"channel": channel})


@csrf_exempt  # no cookie is involved: the signed token in the form is the only credential
@require_POST
def upload(request: HttpRequest, key: str) -> JsonResponse:
    """A visitor's file, posted by the widget from any website (a simple CORS request)."""
    try:
        channel = services.channel_by_key(key)
        visitor = services.read_token(request.POST.get("token", ""), channel)
        file = request.FILES.get("file")
        if visitor is None:
            raise NotFound("Unknown conversation")
        if file is None:
            raise InvalidInput("No file", field="file")
        conversation, entry = services.post_visitor_file(
            visitor, AttachmentIn(filename=file.name or "file", content=file, content_type=file.content_type or "")
        )
        response = JsonResponse({"conversation": conversation.pk, "entry": entry.pk})
    except ServiceError as err:
        response = JsonResponse({"error": err.message}, status=err.status)
    response["Access-Control-Allow-Origin"] = "*"
    return response


@csrf_exempt  # as upload: the visitor's token in the form is the credential, no cookie
@require_POST
def visitor_file(request: HttpRequest, key: str, attachment_id: int) -> HttpResponseBase:
    """A file of the visitor's own conversation, fetched by the widget with the token (never in a URL)."""
    try:
        visitor = services.read_token(request.POST.get("token", ""), services.channel_by_key(key))
        if visitor is None:
            raise NotFound("Unknown file")
        item = services.attachment_for_visitor(visitor, attachment_id)
    except ServiceError as err:
        response: HttpResponseBase = JsonResponse({"error": err.message}, status=err.status)
    else:
        response = download(item)
    response["Access-Control-Allow-Origin"] = "*"
    return response


@require_GET
def suggest(request: HttpRequest, key: str) -> JsonResponse:
    """Public help-centre articles matching what the visitor types, for the widget on any website."""
    try:
        services.channel_by_key(key)
    except NotFound as err:
        response = JsonResponse({"error": err.message}, status=404)
    else:
        hits = services.suggest_articles(request.GET.get("q"), request.GET.get("lang"))
        articles = [
            {
                "id": hit.translation.article_id,
                "title": hit.translation.title,
                "url": request.build_absolute_uri(hit.translation.public_path()),
                "snippet": html.unescape(strip_tags(hit.snippet)),  # the widget shows text, never markup
                "method": hit.method,  # handed back with "this solved my problem"
            }
            for hit in hits
        ]
        response = JsonResponse({"articles": articles})
    response["Access-Control-Allow-Origin"] = "*"
    return response


@csrf_exempt  # as upload: the visitor's token is the credential
@require_POST
def solved(request: HttpRequest, key: str) -> JsonResponse:
    """ "This solved my problem" on a suggested article: a deflection from the chat."""
    try:
        visitor = services.read_token(request.POST.get("token", ""), services.channel_by_key(key))
        if visitor is None:
            raise NotFound("Unknown visitor")
        services.record_chat_deflection(
            visitor,
            request.POST.get("article"),
            query=request.POST.get("q", ""),
            language=request.POST.get("lang"),
            method=request.POST.get("method", ""),
        )
        response = JsonResponse({"ok": True})
    except ServiceError as err:
        response = JsonResponse({"error": err.message}, status=err.status)
    response["Access-Control-Allow-Origin"] = "*"
    return response


@agent_view
def console(request: AgentRequest) -> HttpResponse:
    return render(request, "chat/console.html", _console_context(request.user))


@agent_view
def console_part(request: AgentRequest) -> HttpResponse:
    """The queue and the agent's chats, re-fetched when the console's socket says they changed."""
    return render(request, "chat/_console.html", _console_context(request.user))


def _console_context(user: User) -> dict[str, object]:
    chats = list(services.chats_of(user))
    queue = list(services.queue_for(user)[:50])
    return {
        "queue": queue,
        "chats": [(chat, services.history(chat)) for chat in chats],
        "unproven": services.unproven_visitors(queue + chats),
        "agents": services.answering_agents(None).exclude(pk=user.pk).order_by("first_name", "username"),
        "groups": Group.objects.all(),
        "availability": Availability,
    }


def _answer(request: HttpRequest, call: object) -> HttpResponse:
    """Run a console action: JSON for fetch, a redirect back to the console otherwise."""
    try:
        call()  # type: ignore[operator]
    except Conflict as err:
        return JsonResponse({"error": err.message}, status=409)
    except ServiceError as err:
        return JsonResponse({"error": err.message}, status=err.status)
    if request.headers.get("Accept", "").startswith("application/json") or request.headers.get("HX-Request"):
        return JsonResponse({"ok": True})
    return redirect("chat:console")


@require_POST
@agent_view
def accept(request: AgentRequest, conversation_id: int) -> HttpResponse:
    chat = services.conversation_for_agent(request.user, conversation_id)
    return _answer(request, lambda: services.accept_chat(chat, request.user))


class MessageForm(forms.Form):
    text = forms.CharField(max_length=100_000, strip=True)


@require_POST
@agent_view
def send(request: AgentRequest, conversation_id: int) -> HttpResponse:
    chat = services.conversation_for_agent(request.user, conversation_id)
    form = MessageForm(request.POST)
    if not form.is_valid():
        return JsonResponse({"error": "The message is empty"}, status=422)
    return _answer(request, lambda: services.send_agent_message(chat, request.user, form.cleaned_data["text"]))


@require_POST
@agent_view
def send_file(request: AgentRequest, conversation_id: int) -> HttpResponse:
    """A file the agent sends into a chat they hold; the visitor's widget shows it as a link."""
    chat = services.conversation_for_agent(request.user, conversation_id)
    file = request.FILES.get("file")
    if file is None:
        return JsonResponse({"error": "Choose a file to send"}, status=422)
    upload = AttachmentIn(filename=file.name or "file", content=file, content_type=file.content_type or "")
    return _answer(request, lambda: services.send_agent_file(chat, request.user, upload))


class TransferForm(forms.Form):
    target = forms.CharField(max_length=30)  # "agent:<id>" or "group:<id>"

    def parts(self) -> tuple[User | None, Group | None]:
        kind, _, number = self.cleaned_data["target"].partition(":")
        if kind == "agent" and number.isdigit():
            return User.objects.filter(pk=int(number), is_active=True).first(), None
        if kind == "group" and number.isdigit():
            return None, Group.objects.filter(pk=int(number)).first()
        return None, None


@require_POST
@agent_view
def transfer(request: AgentRequest, conversation_id: int) -> HttpResponse:
    chat = services.conversation_for_agent(request.user, conversation_id)
    form = TransferForm(request.POST)
    to_agent, to_group = form.parts() if form.is_valid() else (None, None)
    if to_agent is None and to_group is None:
        return JsonResponse({"error": "Choose an agent or a group"}, status=422)
    return _answer(request, lambda: services.transfer_chat(chat, request.user, to_agent=to_agent, to_group=to_group))


@require_POST
@agent_view
def close(request: AgentRequest, conversation_id: int) -> HttpResponse:
    chat = services.conversation_for_agent(request.user, conversation_id)
    if chat.state == ConversationState.CLOSED:
        return _answer(request, lambda: None)
    return _answer(request, lambda: services.close_chat(chat, request.user))


@require_POST
@agent_view
def availability(request: AgentRequest) -> HttpResponse:
    value = request.POST.get("availability", "")
    try:
        services.set_availability(request.user, value)
    except InvalidInput as err:
        return JsonResponse({"error": err.message}, status=422)
    if request.headers.get("HX-Request"):
        return JsonResponse({"availability": request.user.availability})
    target = request.POST.get("next", "")
    if not url_has_allowed_host_and_scheme(target, allowed_hosts={request.get_host()}):
        target = "/"
    return redirect(target)
