"""Knowledge-base pages: the public help centre, the web form's suggestions, and the agents' editor.

Public pages answer in the language of their address (`/help/<lang>/…`); `/help/` picks one from
the browser. Agents' pages go through `agent_view` like the rest of the agent UI.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any

from django.conf import settings
from django.core.paginator import InvalidPage, Paginator
from django.db.models import F, Prefetch, Window
from django.db.models.functions import RowNumber
from django.http import FileResponse, Http404, HttpRequest, HttpResponse, HttpResponseRedirect
from django.http.response import HttpResponseBase
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import translation
from django.views.decorators.clickjacking import xframe_options_exempt
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from sportello.core.errors import InvalidInput, NotFound, ServiceError
from sportello.kb import services
from sportello.kb import sitemap as sitemaps
from sportello.kb.access import (
    article_file_for_reader,
    article_for_agent,
    public_article,
    public_article_languages,
    public_translations,
    require_kb_author,
)
from sportello.kb.forms import ArticleForm
from sportello.kb.models import LANGUAGES, Article, ArticleTranslation, Category, DeflectionSource, PublishState
from sportello.kb.render import render_body
from sportello.kb.search import search_articles, suggest_articles
from sportello.tickets.access import entry_for_agent, ticket_for_agent
from sportello.tickets.views import AgentRequest, agent_view

View = Callable[..., HttpResponseBase]
SUGGESTIONS = 5
HOME_PER_CATEGORY = 8  # articles listed under each category on the home page


CATEGORY_PAGE_SIZE = 30


def public_view(view: View) -> View:
    """A public page in the language of its address; a service's NotFound is a 404."""

    @wraps(view)
    def wrapper(request: HttpRequest, lang: str, *args: Any, **kwargs: Any) -> HttpResponseBase:
        if lang not in LANGUAGES:
            raise Http404("No such language")
        try:
            with translation.override(lang):
                return view(request, lang, *args, **kwargs)
        except NotFound as err:
            raise Http404(err.message) from err

    return wrapper


def _session_key(request: HttpRequest) -> str:
    if not request.session.session_key:
        request.session.save()
    return request.session.session_key or ""


def reader_language(request: HttpRequest) -> str:
    language = translation.get_language_from_request(request)
    return language if language in LANGUAGES else settings.LANGUAGE_CODE


# --- Public help centre ---------------------------------------------------------------------------------


@require_GET
def index(request: HttpRequest) -> HttpResponseRedirect:
    """The help centre in the reader's language (browser preference, or the language cookie)."""
    return redirect("kb:home", lang=reader_language(request))


@require_GET
@public_view
def home(request: HttpRequest, lang: str) -> HttpResponse:
    # The first few of each category, chosen in the database: a category may hold thousands.
    first_of_category = Window(
        RowNumber(), partition_by=F("article__category_id"), order_by=[F("article__position"), F("title"), F("pk")]
    )
    translations = list(
        public_translations(lang)
        .select_related("article__category")
        .defer("body", "body_html")
        .annotate(place=first_of_category)
        .filter(place__lte=HOME_PER_CATEGORY)
        .order_by("article__position", "title")
    )
    by_category: dict[int, list[ArticleTranslation]] = {}
    for item in translations:
        by_category.setdefault(item.article.category_id, []).append(item)
    categories = [c for c in Category.objects.select_related("parent") if c.pk in by_category]
    sections = [(c, c.name_in(lang), by_category[c.pk]) for c in categories]
    return render(request, "kb/home.html", {"lang": lang, "sections": sections, "switch": _switch(lang, "")})


@require_GET
@public_view
def category(request: HttpRequest, lang: str, category: str) -> HttpResponse:
    found = Category.objects.select_related("parent").filter(slug=category).first()
    if found is None:
        raise NotFound("No such category")
    items = public_translations(lang).filter(article__category__parent=found) | public_translations(lang).filter(
        article__category=found
    )
    listed = items.select_related("article__category").defer("body", "body_html").order_by("article__position", "title")
    number = request.GET.get("page", "1")
    try:
        page = Paginator(listed, CATEGORY_PAGE_SIZE).page(number)
    except InvalidPage as err:
        raise NotFound(f"No page {number[:20]} in this category") from err
    context = {
        "lang": lang,
        "category": found,
        "category_name": found.name_in(lang),
        "articles": page.object_list,
        "page": page,
        "switch": _switch(lang, f"{found.slug}/"),
    }
    return render(request, "kb/category.html", context)


@require_GET
@public_view
def article(request: HttpRequest, lang: str, category: str, slug: str) -> HttpResponse:
    item, others = public_article_languages(lang, category, slug)
    context = {
        "lang": lang,
        "item": item,
        "category_name": item.article.category.name_in(lang),
        "others": others,
        "from_form": _form_source(request.GET.get("from")),
        "query": request.GET.get("q", "")[:255],
        # How the suggestion was found, handed on to "this solved my problem"; anything else is dropped.
        "method": _method(request.GET.get("via")),
        "voted": request.session.get(f"kb:voted:{item.article_id}"),
        "switch": [(o.language, o.public_path()) for o in others],
    }
    return render(request, "kb/article.html", context)


@require_GET
@public_view
def search(request: HttpRequest, lang: str) -> HttpResponse:
    query = request.GET.get("q", "").strip()[:200]
    hits = search_articles(query, lang, limit=20) if query else []
    return render(request, "kb/search.html", {"lang": lang, "query": query, "hits": hits, "switch": _switch(lang, "")})


@require_POST
def feedback(request: HttpRequest, article_id: int) -> HttpResponse:
    """ "Was this helpful?" — one vote per visitor session, a second click changes it."""
    item = _public_or_404(article_id)
    helpful = request.POST.get("helpful") == "yes"
    lang = request.POST.get("lang", "")
    lang = lang if lang in LANGUAGES else reader_language(request)
    services.record_feedback(item, session_key=_session_key(request), helpful=helpful, language=lang)
    request.session[f"kb:voted:{item.pk}"] = "yes" if helpful else "no"
    with translation.override(lang):  # the article's language, as the page it answers
        return render(request, "kb/_feedback.html", {"article_id": item.pk, "voted": "yes" if helpful else "no"})


@require_POST
@xframe_options_exempt
def deflect(request: HttpRequest, article_id: int) -> HttpResponse:
    """ "This solved my problem": the customer does not send the request; counted once per session."""
    item = _public_or_404(article_id)
    lang = request.POST.get("lang", "")
    try:
        services.record_deflection(
            item, session_key=_session_key(request), source=request.POST.get("source", DeflectionSource.WEBFORM),
            query=request.POST.get("q", ""), language=lang, method=request.POST.get("method", ""),
        )  # fmt: skip
    except ServiceError as err:
        return render(request, "error.html", {"message": err.message}, status=err.status)
    with translation.override(lang if lang in LANGUAGES else reader_language(request)):
        return render(request, "kb/deflected.html", {"lang": lang})


def _public_or_404(article_id: int) -> Article:
    try:
        return public_article(article_id)
    except NotFound as err:
        raise Http404(err.message) from err


@require_GET
@xframe_options_exempt
def suggest(request: HttpRequest) -> HttpResponse:
    """Public articles, and forum topics, matching what a customer is typing into the web form or
    the portal's new-request form (an htmx fragment)."""
    from sportello.forum.search import search_topics

    query = (request.GET.get("subject") or request.GET.get("q") or "").strip()[:200]
    lang = request.GET.get("lang") or reader_language(request)
    lang = lang if lang in LANGUAGES else settings.LANGUAGE_CODE
    hits = suggest_articles(query, lang, limit=SUGGESTIONS) if len(query) >= 3 else []
    source = _form_source(request.GET.get("source")) or DeflectionSource.WEBFORM
    topics = search_topics(query, lang, match_any=True, limit=SUGGESTIONS) if len(query) >= 3 else []
    context = {"hits": hits, "topics": topics, "query": query, "lang": lang, "source": source}
    with translation.override(lang):
        return render(request, "kb/_suggestions.html", context)


# The forms that suggest articles while a customer types, and where "I still need help" goes back to.
FORM_SOURCES = {DeflectionSource.WEBFORM: "webform:new", DeflectionSource.PORTAL: "portal:new"}


def _method(value: str | None) -> str:
    return value if value in services.ARTICLE_METHODS else ""


def _form_source(value: str | None) -> str:
    """The web form or the portal's new-request form, when an article was opened from one; else ""."""
    return value if value is not None and value in FORM_SOURCES else ""


@require_GET
def sitemap(request: HttpRequest) -> HttpResponse:
    """The sitemap index for search engines: one sitemap per language, cut into pages (kb.sitemap)."""
    return HttpResponse(sitemaps.sitemap_index(), content_type="application/xml")


@require_GET
def sitemap_language(request: HttpRequest, lang: str) -> HttpResponse:
    """Published translations of public articles in one language; nothing internal, nothing in draft."""
    page = request.GET.get("p", "1")
    xml = sitemaps.sitemap_page(lang, int(page)) if page.isdigit() else None
    if xml is None:
        raise Http404("No such sitemap page")
    return HttpResponse(xml, content_type="application/xml")


def _switch(lang: str, rest: str) -> list[tuple[str, str]]:
    return [(code, f"/help/{code}/{rest}") for code in LANGUAGES if code != lang]


# --- Agents: list, editor with preview, suggestions on a ticket ---------------------------------------------


@agent_view
def agent_list(request: AgentRequest) -> HttpResponse:
    # Published languages first, so the title shown is one readers see.
    in_order = Prefetch("translations", queryset=ArticleTranslation.objects.order_by("-state", "language"))
    articles = Article.objects.select_related("category__parent").prefetch_related(in_order)
    query = request.GET.get("q", "").strip()[:200]
    if query:
        articles = articles.filter(translations__title__icontains=query).distinct()
    return render(request, "kb/agent_list.html", {"articles": articles[:500], "query": query, "languages": LANGUAGES})


@require_http_methods(["GET", "POST"])
@agent_view
def agent_new(request: AgentRequest) -> HttpResponse:
    require_kb_author(request.user)
    language = request.GET.get("language", request.user.language)
    form = ArticleForm(request.POST or None, initial={"language": language if language in LANGUAGES else "en"})
    if request.method == "POST" and form.is_valid():
        try:
            item = services.create_article(
                request.user, category=form.cleaned_data["category"], text=form.text(),
                visibility=form.cleaned_data["visibility"], tags=form.tag_names(),
                publish=request.POST.get("action") == "publish",
            )  # fmt: skip
        except ServiceError as err:
            form.add_error(None, err.message)
        else:
            return redirect("kb:agent-edit", article_id=item.article_id, lang=item.language)
    context = {"form": form, "item": None, "article": None}
    return render(request, "kb/agent_edit.html", context, status=422 if form.errors else 200)


@require_http_methods(["GET", "POST"])
@agent_view
def agent_edit(request: AgentRequest, article_id: int, lang: str) -> HttpResponse:
    """One language of an article: edit and save, publish or unpublish; other languages are tabs."""
    found = article_for_agent(request.user, article_id)
    if lang not in LANGUAGES:
        raise Http404("No such language")
    item = found.translations.filter(language=lang).first()
    initial = {
        "category": found.category_id, "visibility": found.visibility, "language": lang,
        "tags": ", ".join(found.tags.values_list("name", flat=True)),
        **({"title": item.title, "slug": item.slug, "summary": item.summary, "body": item.body} if item else {}),
    }  # fmt: skip
    form = ArticleForm(request.POST or None, initial=initial)
    if request.method == "POST":
        require_kb_author(request.user)
        if form.is_valid():
            try:
                item = _save(request, found, form)
            except ServiceError as err:
                form.add_error(None, err.message)
            else:
                return redirect("kb:agent-edit", article_id=found.pk, lang=item.language)
    context = {
        "form": form,
        "article": found,
        "item": item,
        "lang": lang,
        "languages": [(code, found.translations.filter(language=code).first()) for code in LANGUAGES],
        "revisions": item.revisions.select_related("author")[:20] if item else [],
        "feedback": services.feedback_counts(found),
        "preview": item.body_html if item else "",
        "files": found.files.all(),
        "max_file_bytes": settings.KB_MAX_FILE_BYTES,
    }
    return render(request, "kb/agent_edit.html", context, status=422 if form.errors else 200)


def _save(request: AgentRequest, found: Article, form: ArticleForm) -> ArticleTranslation:
    data = form.cleaned_data
    services.update_article(
        request.user, found, category=data["category"], visibility=data["visibility"], tags=form.tag_names()
    )
    item = services.save_translation(request.user, found, form.text())
    action = request.POST.get("action")
    if action == "publish":
        item = services.publish_translation(request.user, item)
    elif action == "unpublish" and item.state == PublishState.PUBLISHED:
        item = services.unpublish_translation(request.user, item)
    return item


@require_POST
@agent_view
def agent_upload(request: AgentRequest, article_id: int) -> HttpResponse:
    """An image or attachment for an article, from the editor; back to the editor with its address."""
    found = article_for_agent(request.user, article_id)
    require_kb_author(request.user)
    upload = request.FILES.get("file")
    if upload is None:
        raise InvalidInput("Choose a file to upload")
    services.add_article_file(request.user, found, upload)
    return redirect(_editor_files(request, found.pk))


@require_POST
@agent_view
def agent_remove_file(request: AgentRequest, file_id: int) -> HttpResponse:
    require_kb_author(request.user)
    item = article_file_for_reader(request.user, file_id)
    services.remove_article_file(request.user, item)
    return redirect(_editor_files(request, item.article_id))


def _editor_files(request: HttpRequest, article_id: int) -> str:
    lang = request.POST.get("lang", "")
    lang = lang if lang in LANGUAGES else settings.LANGUAGE_CODE
    return reverse("kb:agent-edit", args=[article_id, lang]) + "#files"


@require_GET
def article_file(request: HttpRequest, file_id: int, name: str) -> HttpResponseBase:
    """An article's file: an allowed image shown inline, anything else a download; never sniffed."""
    try:
        item = article_file_for_reader(request.user, file_id)  # type: ignore[arg-type]
    except NotFound as err:
        raise Http404(err.message) from err
    content_type = item.content_type.lower() if item.is_image else "application/octet-stream"
    response = FileResponse(
        item.file.open("rb"), as_attachment=not item.is_image, filename=item.filename, content_type=content_type
    )
    response["X-Content-Type-Options"] = "nosniff"
    response["Content-Security-Policy"] = "sandbox; default-src 'none'"
    if item.is_image:
        response["Cache-Control"] = "public, max-age=86400"
    return response


@require_POST
@agent_view
def agent_from_entry(request: AgentRequest, entry_id: int) -> HttpResponse:
    """ "Turn this reply into an article": a draft from a public reply, opened in the editor."""
    require_kb_author(request.user)
    item = services.draft_article_from_entry(request.user, entry_for_agent(request.user, entry_id))
    return redirect("kb:agent-edit", article_id=item.article_id, lang=item.language)


@require_POST
@agent_view
def agent_preview(request: AgentRequest) -> HttpResponse:
    """The body as readers will see it: rendered and sanitized exactly as when it is saved."""
    return render(request, "kb/_preview.html", {"html": render_body(request.POST.get("body", "")[:500_000])})


@require_GET
@agent_view
def ticket_suggestions(request: AgentRequest, number: int) -> HttpResponse:
    """Articles that may answer a ticket (by meaning, then by its words), with their public link to insert."""
    ticket = ticket_for_agent(request.user, number)
    first = (
        ticket.entries.filter(internal=False).order_by("created_at", "id").values_list("body_text", flat=True).first()
    )
    text = f"{ticket.subject} {(first or '')[:300]}"
    hits = suggest_articles(text, ticket.language, internal=True, limit=SUGGESTIONS)
    if not hits and ticket.language != settings.LANGUAGE_CODE:
        hits = suggest_articles(text, settings.LANGUAGE_CODE, internal=True, limit=SUGGESTIONS)
    return render(request, "kb/_ticket_suggestions.html", {"hits": hits, "site_url": settings.SITE_URL})
