"""Reply assistance: the admin's settings, the connection test, and one use from the ticket page.

Nothing here sends anything to a customer: a use returns text for the agent's composer, and is
recorded (`AssistUse`) with the exact messages sent, whether the server answered or not.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from urllib.parse import urlsplit

from django.conf import settings
from django.db import transaction
from django.utils.encoding import iri_to_uri
from django.utils.translation import get_language
from django.utils.translation import gettext as _

from sportello.accounts.models import User
from sportello.assist import client, prompts
from sportello.assist.models import Action, AssistSettings, AssistUse, Outcome
from sportello.audit import services as audit
from sportello.core.errors import Conflict, Forbidden, InvalidInput
from sportello.kb.models import ArticleTranslation, Visibility
from sportello.kb.render import plain_text
from sportello.kb.search import suggest_articles
from sportello.social.secrets import UnreadableCredentials, seal, unseal
from sportello.tickets.access import require_admin, ticket_for_agent
from sportello.tickets.models import Direction, Entry, Ticket

MAX_TIMEOUT = 600
ARTICLES = 3


def current_settings() -> AssistSettings:
    """The settings row; an unsaved one (off) before an admin saved the page."""
    return AssistSettings.objects.filter(pk=1).first() or AssistSettings(pk=1)


def save_assist_settings(
    actor: User,
    *,
    enabled: bool,
    base_url: str,
    model: str,
    timeout_seconds: int,
    allow_local: bool,
    api_key: str = "",
    clear_api_key: bool = False,
) -> AssistSettings:
    """Save the page. An empty `api_key` keeps the one stored (it is never shown again)."""
    require_admin(actor)
    base_url = base_url.strip()
    model = model.strip()
    if base_url:
        parts = urlsplit(base_url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise InvalidInput(_("The server address must be an http:// or https:// URL."), field="base_url")
    if enabled and not (base_url and model):
        raise InvalidInput(
            _("Give the server's address and a model name before turning assistance on."), field="base_url"
        )
    if not 1 <= timeout_seconds <= MAX_TIMEOUT:
        raise InvalidInput(_("The timeout must be from 1 to 600 seconds."), field="timeout_seconds")
    with transaction.atomic():
        row = AssistSettings.objects.select_for_update().filter(pk=1).first() or AssistSettings(pk=1)
        row.enabled = enabled
        row.base_url = base_url
        row.model = model
        row.timeout_seconds = timeout_seconds
        row.allow_local = allow_local
        if clear_api_key:
            row.api_key_sealed = ""
        elif api_key.strip():
            row.api_key_sealed = seal({"api_key": api_key.strip()})
        row.save()
    return row


def server_of(row: AssistSettings) -> client.Server:
    try:
        key = str(unseal(row.api_key_sealed).get("api_key", ""))
    except UnreadableCredentials:
        raise client.AssistError(
            _("The stored API key cannot be read with this server's key: enter it again on the settings page.")
        ) from None
    return client.Server(row.base_url, key, float(row.timeout_seconds), row.allow_local)


@dataclass
class ConnectionTest:
    ok: bool
    message: str
    models: list[str] = field(default_factory=list)
    elapsed_ms: int = 0


def test_connection(actor: User) -> ConnectionTest:
    """Ask the saved server for its models (`GET /v1/models`): does it answer, and has it the model?"""
    require_admin(actor)
    row = current_settings()
    started = time.monotonic()
    if not row.base_url:
        result = ConnectionTest(False, _("Give the server's address first."))
    else:
        try:
            models = client.list_models(server_of(row))
        except client.AssistError as err:
            result = ConnectionTest(False, err.message)
        else:
            if row.model and row.model not in models:
                message = _("The server answers, but has no model called “%(model)s”.") % {"model": row.model}
                result = ConnectionTest(False, message, models)
            else:
                result = ConnectionTest(True, _("The server answers and offers the model."), models)
    result.elapsed_ms = int((time.monotonic() - started) * 1000)
    saved = not row._state.adding
    audit.power_used(
        "assist.test_connection",
        target=row if saved else None,
        target_type="" if saved else "assist.assistsettings",
        target_label=audit.trail_url(row.base_url) if row.base_url else "—",
        details={"ok": result.ok, "error": "" if result.ok else result.message[:300], "elapsed_ms": result.elapsed_ms},
        actor=actor,
    )
    return result


def visible_entries(ticket: Ticket, *, with_notes: bool) -> list[Entry]:
    """The thread as the agent sees it, oldest first; internal notes only when asked for."""
    entries = ticket.entries.select_related("author_user", "author_customer").order_by("created_at", "id")
    if not with_notes:
        entries = entries.filter(internal=False)
    return list(entries)


def matching_articles(ticket: Ticket, entries: list[Entry]) -> list[prompts.Article]:
    """Up to three published public articles that may answer the ticket, in its language, else
    the site's: found as the web form, the portal and the chat find them (kb.search.suggest_articles:
    by meaning when the encoder is loaded, full text filling in or standing in).

    Public only (`internal=False`): the draft goes to the customer, who must be able to open
    every link it cites.
    """
    terms = prompts.article_terms(ticket, entries)
    hits = suggest_articles(terms, ticket.language, internal=False, limit=ARTICLES)
    if not hits and ticket.language != settings.LANGUAGE_CODE:
        hits = suggest_articles(terms, settings.LANGUAGE_CODE, internal=False, limit=ARTICLES)
    site = settings.SITE_URL.rstrip("/")
    found: list[prompts.Article] = []
    # The search defers the bodies; the few hits are read whole here, in one query.
    bodies = ArticleTranslation.objects.select_related("article__category").in_bulk([h.translation.pk for h in hits])
    for hit in hits:
        translation = bodies.get(hit.translation.pk)
        if translation is None or translation.article.visibility != Visibility.PUBLIC:
            continue
        text = plain_text(translation.body_html).strip()[: prompts.ARTICLE_CHARS]
        url = site + iri_to_uri(translation.public_path())
        found.append(prompts.Article(translation.article_id, translation.title, url, text))
    return found


def assist(actor: User, number: int, action: str, *, text: str = "", with_notes: bool = False) -> AssistUse:
    """Ask the model server for one action on ticket `number`; the recorded use, answered or failed.

    1. The agent must be able to reply on the ticket (light agents only write notes: refused).
    2. Assistance must be on; when it is off nothing is built and nothing is sent.
    3. The messages are built from what the agent sees (prompts.py says what, per action).
    4. The server is called outside any transaction (it may take a minute), then the use is written.
    """
    ticket = ticket_for_agent(actor, number, write=True)
    row = current_settings()
    if not row.ready:
        raise Conflict(_("Reply assistance is off: an admin turns it on in the settings."))
    if action not in Action.values:
        raise InvalidInput(_("Unknown assistance action."), field="action")
    text = text.strip()
    if action in (Action.TONE, Action.TRANSLATE_OUT) and not text:
        raise InvalidInput(_("Type something in the reply first: this action works on your text."), field="text")
    with_notes = with_notes and action in (Action.SUMMARISE, Action.DRAFT)
    articles: list[prompts.Article] = []
    agent_language = actor.language or get_language() or settings.LANGUAGE_CODE
    if action == Action.SUMMARISE:
        messages = prompts.summarise(ticket, visible_entries(ticket, with_notes=with_notes), agent_language)
    elif action == Action.DRAFT:
        entries = visible_entries(ticket, with_notes=with_notes)
        articles = matching_articles(ticket, entries)
        messages = prompts.draft(ticket, entries, articles, actor.first_name or actor.display_name)
    elif action == Action.TONE:
        messages = prompts.tone(text)
    elif action == Action.TRANSLATE_OUT:
        messages = prompts.translate(text, ticket.language)
    else:
        latest = (
            ticket.entries.filter(direction=Direction.INBOUND, internal=False).order_by("-created_at", "-id").first()
        )
        if latest is None or not prompts.entry_text(latest):
            raise InvalidInput(_("The customer has not written anything to translate."), field="action")
        messages = prompts.translate(prompts.entry_text(latest), agent_language)
    use = AssistUse(
        user=actor,
        ticket=ticket,
        action=action,
        model=row.model,
        server=audit.trail_url(row.base_url),
        messages=messages,
        prompt_chars=sum(len(m["content"]) for m in messages),
        with_notes=with_notes,
        articles=[{"id": a.id, "title": a.title, "url": a.url} for a in articles],
    )
    started = time.monotonic()
    try:
        completion = client.chat(server_of(row), row.model, messages)
    except client.AssistError as err:
        use.outcome, use.error = Outcome.FAILED, err.message[:500]
    else:
        use.outcome, use.answer = Outcome.ANSWERED, completion.text
        use.prompt_tokens, use.answer_tokens = completion.prompt_tokens, completion.answer_tokens
    use.elapsed_ms = int((time.monotonic() - started) * 1000)
    use.save()
    return use


def mark_use(actor: User, use_id: int, *, accepted: bool) -> AssistUse:
    """The agent put the answer into the composer (accepted) or discarded it; their own uses only."""
    use = AssistUse.objects.filter(pk=use_id, user=actor).first()
    if use is None:
        raise Forbidden(_("Not your assistance request."))
    if use.outcome != Outcome.ANSWERED:
        raise Conflict(_("This request has no answer to use."))
    AssistUse.objects.filter(pk=use.pk).update(accepted=accepted)
    use.accepted = accepted
    return use
