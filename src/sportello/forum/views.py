"""Forum pages in the help centre: categories, topics, replies, and the moderators' actions.

Pages answer in the language of their address (`/help/forum/<lang>/…`) through `forum_page`,
which also turns a service's refusal into a page: not found is a 404, "sign in first" sends an
anonymous visitor to the portal's sign-in and back. Every action is a POST that redirects back to
the topic (post/redirect/get), so a reload never sends a reply twice.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from functools import wraps
from typing import Any

from django.contrib.auth.views import redirect_to_login
from django.core.paginator import InvalidPage, Paginator
from django.db.models import Count, Q
from django.http import FileResponse, Http404, HttpRequest, HttpResponse, HttpResponseRedirect
from django.http.response import HttpResponseBase
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import translation
from django.utils.translation import gettext as _
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from sportello.accounts.models import User
from sportello.core.errors import Forbidden, InvalidInput, NotFound, ServiceError
from sportello.core.ratelimit import client_ip
from sportello.forum import services
from sportello.forum.access import (
    category_in,
    is_forum_agent,
    post_for_agent,
    post_for_reader,
    readable_posts,
    readable_topics,
    require_forum_agent,
    topic_for_agent,
    topic_for_reader,
)
from sportello.forum.forms import EditForm, MoveForm, ReplyForm, TopicForm
from sportello.forum.models import Follow, ForumCategory, Member, Post, PostImage, PostState, Report, Topic
from sportello.kb.models import LANGUAGES
from sportello.kb.render import plain_text, summary_of
from sportello.kb.views import reader_language

View = Callable[..., HttpResponseBase]
PAGE_SIZE = 30
HOME_TOPICS = 20


def forum_page(view: View) -> View:
    """A forum page or action, in the language of its address (the topic's for actions); refusals
    become pages."""

    @wraps(view)
    def wrapper(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponseBase:
        lang = kwargs.get("lang") or request.POST.get("lang", "") or reader_language(request)
        if lang not in LANGUAGES:
            raise Http404("No such language")
        try:
            with translation.override(lang):
                return view(request, *args, **kwargs)
        except NotFound as err:
            raise Http404(err.message) from err
        except Forbidden as err:
            if not request.user.is_authenticated:
                return redirect_to_login(_back(request), reverse("portal:login"))
            return _error(request, lang, err)
        except ServiceError as err:
            return _error(request, lang, err)

    return wrapper


def _error(request: HttpRequest, lang: str, err: ServiceError) -> HttpResponse:
    with translation.override(lang):
        response = render(request, "forum/error.html", {"lang": lang, "message": err.message}, status=err.status)
    if "retry_after" in err.details:
        response["Retry-After"] = str(err.details["retry_after"])
    return response


def _back(request: HttpRequest) -> str:
    """Where an action came from (its topic page), for the sign-in's way back."""
    referer = request.headers.get("Referer", "")
    path = "/" + referer.split("://", 1)[-1].split("/", 1)[-1] if referer else ""
    return path if path.startswith("/help/forum/") else request.get_full_path()


def _user(request: HttpRequest) -> User:
    return request.user  # type: ignore[return-value]


def _switch(lang: str) -> list[tuple[str, str]]:
    return [(code, reverse("forum:home", args=[code])) for code in LANGUAGES if code != lang]


# --- Reading ---------------------------------------------------------------------------------------------


@require_GET
def index(request: HttpRequest) -> HttpResponseRedirect:
    return redirect("forum:home", lang=reader_language(request))


@require_GET
@forum_page
def home(request: HttpRequest, lang: str) -> HttpResponse:
    visible = readable_topics(None)
    categories = ForumCategory.objects.filter(language=lang).annotate(
        topic_count=Count("topics", filter=Q(topics__in=visible), distinct=True)
    )
    recent = readable_topics(_user(request), lang).select_related("category", "author", "solution")
    context = {
        "lang": lang, "categories": categories, "switch": _switch(lang),
        "topics": recent.order_by("-last_activity_at", "-id")[:HOME_TOPICS],
    }  # fmt: skip
    return render(request, "forum/home.html", context)


@require_GET
@forum_page
def category(request: HttpRequest, lang: str, category: str) -> HttpResponse:
    found = category_in(lang, category)
    topics = readable_topics(_user(request)).filter(category=found).select_related("author", "category", "solution")
    number = request.GET.get("page", "1")
    try:
        page = Paginator(topics.order_by("-pinned", "-last_activity_at", "-id"), PAGE_SIZE).page(number)
    except InvalidPage as err:
        raise NotFound(f"No page {number[:20]} in this category") from err
    context = {"lang": lang, "category": found, "topics": page.object_list, "page": page, "switch": _switch(lang)}
    return render(request, "forum/category.html", context)


@require_GET
@forum_page
def topic(request: HttpRequest, lang: str, topic_id: int, slug: str) -> HttpResponseBase:
    merged = Topic.objects.filter(pk=topic_id, merged_into__isnull=False).values_list("merged_into", flat=True).first()
    if merged is not None:  # merged into another topic: its address leads there (when that one is readable)
        return redirect(topic_for_reader(_user(request), merged).public_path(), permanent=True)
    found = topic_for_reader(_user(request), topic_id)
    if found.category.language != lang or found.slug != slug:  # moved, or renamed: one address per topic
        query = f"?page={request.GET['page'][:10]}" if request.GET.get("page", "1") != "1" else ""
        return redirect(found.public_path() + query, permanent=True)
    if request.GET.get("page") == "1":  # page 1 has one address: the topic's own
        return redirect(found.public_path(), permanent=True)
    return _topic_page(request, found, ReplyForm())


def _topic_page(request: HttpRequest, found: Topic, form: ReplyForm, status: int = 200) -> HttpResponse:
    """One page of a topic: the question, then REPLIES_PER_PAGE replies (`?page=n`, page 1 without
    it); page 1 also shows the answer that solved it when that answer is on a later page."""
    user = _user(request)
    readable = readable_posts(user, found).select_related("author", "ticket")
    number = request.GET.get("page", "1") if request.method == "GET" else "last"
    try:
        page = Paginator(readable.filter(opening=False), services.REPLIES_PER_PAGE, allow_empty_first_page=True).page(
            number if number != "last" else 1
        )
        if number == "last":
            page = page.paginator.page(page.paginator.num_pages)
    except InvalidPage as err:
        raise NotFound(f"No page {number[:20]} in this topic") from err
    replies = list(page.object_list)
    opening = readable.filter(opening=True).first()
    answer = None  # the solution, shown on page 1 when it is not there already
    if page.number == 1 and found.solution_id and all(p.pk != found.solution_id for p in replies):
        answer = readable.filter(pk=found.solution_id).first()
    posts = [p for p in (opening, answer, *replies) if p is not None]
    agent = is_forum_agent(user)
    editable = {p.pk for p in posts if services.may_edit(user, p)} if user.is_authenticated else set()
    if agent:  # each post's open reports, for the moderators
        reports = (
            Report.objects.filter(post__in=[p.pk for p in posts], resolved_at__isnull=True)
            .values("post")
            .annotate(n=Count("id"))
        )
        counts = {row["post"]: row["n"] for row in reports}
        for post in posts:
            post.open_reports = counts.get(post.pk, 0)  # type: ignore[attr-defined]
    path = found.public_path()
    context = {
        "lang": found.category.language, "topic": found, "opening": opening, "answer": answer,
        "replies": replies, "page": page, "form": form, "agent": agent,
        "page_url": path if page.number == 1 else f"{path}?page={page.number}",
        "prev_url": (path if page.number == 2 else f"{path}?page={page.number - 1}") if page.has_previous() else "",
        "next_url": f"{path}?page={page.number + 1}" if page.has_next() else "",
        "voted": services.has_voted(user, [p.pk for p in posts]),
        "editable": editable,
        "following": user.is_authenticated and Follow.objects.filter(topic=found, user=user).exists(),
        "description": summary_of(plain_text(opening.body_html)) if opening else "",
        "reported": {r for r in Report.objects.filter(post__in=[p.pk for p in posts], reporter=user)
                     .values_list("post", flat=True)} if user.is_authenticated else set(),
        "move_form": MoveForm(initial={"category": found.category_id}) if agent else None,
        "done": request.GET.get("done", "")[:20],
        "from_form": request.GET.get("from") if request.GET.get("from") in FORM_SOURCES else "",
        "query": request.GET.get("q", "")[:200],
        "held": PostState.HELD, "hidden": PostState.HIDDEN,
    }  # fmt: skip
    return render(request, "forum/topic.html", context, status=status)


def _post_url(request: HttpRequest, post: Post, done: str = "") -> str:
    """The address of a post on its topic's page, as this reader pages the topic."""
    return services.post_path(post, readable_posts(_user(request), post.topic), done=done)


FORM_SOURCES = ("webform", "portal")  # the forms that suggest topics (kb.views.FORM_SOURCES)


@require_POST
@forum_page
def deflect(request: HttpRequest, topic_id: int) -> HttpResponseBase:
    """ "This solved my problem" on a topic suggested by a request form: counted once per session."""
    found = topic_for_reader(None, topic_id)  # public topics only
    counted = request.session.get("forum:deflected", [])
    if found.pk not in counted:
        if not request.session.session_key:
            request.session.save()
        services.record_deflection(
            found, source=request.POST.get("source", ""), query=request.POST.get("q", "")[:255],
            session_key=request.session.session_key or "",
        )  # fmt: skip
        request.session["forum:deflected"] = [*counted, found.pk][-100:]
    lang = found.category.language
    return render(request, "kb/deflected.html", {"lang": lang})


@require_GET
@forum_page
def search(request: HttpRequest, lang: str) -> HttpResponse:
    """Topics whose title, question or answers match (forum/search.py); public topics only."""
    from sportello.forum.search import search_topics

    query = request.GET.get("q", "").replace("\x00", "").strip()[:200]
    hits = search_topics(query, lang, limit=30) if query else []
    return render(request, "forum/search.html", {"lang": lang, "query": query, "hits": hits, "switch": _switch(lang)})


@require_GET
def image(request: HttpRequest, image_id: int, name: str) -> HttpResponseBase:
    """A picture of a post, to whoever may read the post (held and hidden posts' pictures to their
    readers only); shown inline with the type its decoding proved, never sniffed, never a page."""
    item = PostImage.objects.filter(pk=image_id).first()
    try:
        if item is None:
            raise NotFound("No such picture")
        post_for_reader(_user(request), item.post_id)
    except NotFound as err:
        raise Http404(err.message) from err
    response = FileResponse(item.file.open("rb"), filename=item.filename, content_type=item.content_type)
    response["X-Content-Type-Options"] = "nosniff"
    response["Content-Security-Policy"] = "sandbox; default-src 'none'"
    response["Cache-Control"] = "private, max-age=300"  # a post hidden later stops showing it soon
    return response


@require_GET
def sitemap(request: HttpRequest) -> HttpResponse:
    """Public topics and their categories, for search engines (forum/sitemap.py)."""
    from sportello.forum.sitemap import sitemap_page

    page = request.GET.get("p", "1")
    xml = sitemap_page(int(page)) if page.isdigit() and len(page) < 7 else None
    if xml is None:
        raise Http404("No such sitemap page")
    return HttpResponse(xml, content_type="application/xml")


# --- Writing ---------------------------------------------------------------------------------------------


@require_http_methods(["GET", "POST"])
@forum_page
def new_topic(request: HttpRequest, lang: str, category: str) -> HttpResponseBase:
    found = category_in(lang, category)
    if not request.user.is_authenticated:
        return redirect_to_login(request.get_full_path(), reverse("portal:login"))
    form = TopicForm(request.POST or None, request.FILES or None)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        text = services.TopicText(kind=data["kind"], title=data["title"], body=data["body"])
        try:
            created = services.start_topic(
                _user(request), found, text, client_ip=client_ip(request), image=data.get("image")
            )
        except ServiceError as err:
            if err.status in (403, 429):
                raise
            form.add_error(None, err.message)
        else:
            return redirect(created.public_path())
    context = {"lang": lang, "category": found, "form": form}
    return render(request, "forum/new_topic.html", context, status=422 if form.errors else 200)


@require_POST
@forum_page
def reply(request: HttpRequest, topic_id: int) -> HttpResponseBase:
    found = topic_for_reader(_user(request), topic_id)
    form = ReplyForm(request.POST, request.FILES)
    if not form.is_valid():
        return _topic_page(request, found, form, status=422)
    try:
        post = services.reply_to_topic(
            _user(request), found, form.cleaned_data["body"], client_ip=client_ip(request),
            image=form.cleaned_data.get("image"),
        )  # fmt: skip
    except ServiceError as err:
        if err.status in (403, 404, 429):
            raise
        form.add_error(None, err.message)
        return _topic_page(request, found, form, status=err.status)
    return redirect(_post_url(request, post))


@require_POST
@forum_page
def vote(request: HttpRequest, post_id: int) -> HttpResponseBase:
    post = post_for_reader(_user(request), post_id)
    services.vote_for_post(_user(request), post, up=request.POST.get("up", "1") != "0")
    return redirect(_post_url(request, post))


@require_POST
@forum_page
def follow(request: HttpRequest, topic_id: int) -> HttpResponseBase:
    found = topic_for_reader(_user(request), topic_id)
    if request.POST.get("follow", "1") == "0":
        services.unfollow_topic(_user(request), found)
    else:
        services.follow_topic(_user(request), found)
    return redirect(found.public_path())


@require_POST
@forum_page
def solution(request: HttpRequest, post_id: int) -> HttpResponseBase:
    post = post_for_reader(_user(request), post_id)
    if request.POST.get("solved", "1") == "0":
        services.unmark_solution(_user(request), post.topic)
    else:
        services.mark_solution(_user(request), post)
    return redirect(_post_url(request, post))


@require_POST
@forum_page
def report(request: HttpRequest, post_id: int) -> HttpResponseBase:
    post = post_for_reader(_user(request), post_id)
    services.report_post(_user(request), post, request.POST.get("reason", ""))
    return redirect(_post_url(request, post, done="reported"))


@require_http_methods(["GET", "POST"])
@forum_page
def edit(request: HttpRequest, post_id: int) -> HttpResponseBase:
    """Edit a post: its author (within services.AUTHOR_EDIT_DAYS, not in a locked topic) or an agent;
    the text it had is kept as a revision."""
    post = post_for_reader(_user(request), post_id)
    services.require_may_edit(_user(request), post)
    form = EditForm(request.POST or None, request.FILES or None, initial={"body": services.text_without_pictures(post)})
    if request.method == "POST" and form.is_valid():
        try:
            services.edit_post(
                _user(request),
                post,
                form.cleaned_data["body"],
                client_ip=client_ip(request),
                image=form.cleaned_data["image"],
                remove_image=form.cleaned_data["remove_image"],
            )
        except ServiceError as err:
            if err.status in (403, 404, 429):
                raise
            form.add_error(None, err.message)
        else:
            return redirect(_post_url(request, post))
    lang = post.topic.category.language
    with translation.override(lang):
        context = {"lang": lang, "post": post, "topic": post.topic, "form": form, "pictures": post.images.all()}
        return render(request, "forum/edit_post.html", context, status=422 if form.errors else 200)


@require_GET
@forum_page
def history(request: HttpRequest, post_id: int) -> HttpResponse:
    """A post's edit history, for the moderators: its text now, then each earlier text with who
    replaced it and when, newest first."""
    post = post_for_agent(_user(request), post_id)
    revisions = post.revisions.select_related("edited_by")
    lang = post.topic.category.language
    with translation.override(lang):
        context = {"lang": lang, "post": post, "topic": post.topic, "revisions": revisions}
        return render(request, "forum/post_history.html", context)


@csrf_exempt  # the signed token is the credential; mail clients' one-click unsubscribe posts without a form
@require_http_methods(["GET", "POST"])
def unsubscribe(request: HttpRequest, token: str) -> HttpResponse:
    """GET shows a button; the POST (the button, or a mail client's one-click, RFC 8058) unsubscribes."""
    lang = reader_language(request)
    with translation.override(lang):
        if request.method == "GET":
            return render(request, "forum/unsubscribe.html", {"lang": lang, "token": token})
        found = services.unsubscribe(token)
        status = 200 if found is not None else 400
        return render(request, "forum/unsubscribe.html", {"lang": lang, "done": True, "topic": found}, status=status)


# --- Moderation --------------------------------------------------------------------------------------------

POST_ACTIONS: dict[str, Callable[[User, Post], object]] = {
    "approve": services.approve_post,
    "hide": services.hide_post,
    "show": services.show_post,
    "dismiss": services.dismiss_reports,
}


@require_POST
@forum_page
def moderate_post(request: HttpRequest, post_id: int, action: str) -> HttpResponseBase:
    post = post_for_agent(_user(request), post_id)
    if action == "ticket":
        ticket = services.turn_post_into_ticket(_user(request), post)
        return redirect("ticket", number=ticket.number)
    if action == "ban":
        services.ban_member(_user(request), post.author)
    elif action in POST_ACTIONS:
        POST_ACTIONS[action](_user(request), post)
    else:
        raise NotFound("No such action")
    back = request.POST.get("next", "")
    return redirect(back if back == reverse("forum:queue") else _post_url(request, post))


@require_POST
@forum_page
def moderate_topic(request: HttpRequest, topic_id: int, action: str) -> HttpResponseBase:
    found = topic_for_agent(_user(request), topic_id)
    on = request.POST.get("on", "1") != "0"
    if action == "pin":
        services.pin_topic(_user(request), found, pinned=on)
    elif action == "lock":
        services.lock_topic(_user(request), found, locked=on)
    elif action == "merge":
        target = topic_for_agent(_user(request), _topic_number(request.POST.get("into", "")))
        return redirect(services.merge_topics(_user(request), found, target).public_path())
    elif action == "article":
        draft = services.draft_article_from_topic(_user(request), found)
        return redirect("kb:agent-edit", article_id=draft.article_id, lang=draft.language)
    elif action == "move":
        form = MoveForm(request.POST)
        if not form.is_valid():
            raise InvalidInput(_("Choose a category."))
        services.move_topic(_user(request), found, form.cleaned_data["category"])
    else:
        raise NotFound("No such action")
    return redirect(found.public_path())


def _topic_number(value: str) -> int:
    """The topic named in the merge form: its number, or its address (…/t/<number>/<slug>)."""
    value = value.strip()
    match = re.search(r"/t/(\d{1,18})(?:/|$)", value) or re.fullmatch(r"#?(\d{1,18})", value)
    if match is None:
        raise InvalidInput(_("Give the number or the address of the topic to merge into."))
    return int(match.group(1))


@require_GET
@forum_page
def queue(request: HttpRequest) -> HttpResponse:
    """What waits for the moderators: posts held for approval, posts readers reported."""
    require_forum_agent(_user(request))
    held = Post.objects.filter(state=PostState.HELD).select_related("topic__category", "author").order_by("created_at")
    reported = (
        Post.objects.filter(reports__resolved_at__isnull=True)
        .annotate(n=Count("reports", filter=Q(reports__resolved_at__isnull=True)))
        .select_related("topic__category", "author")
        .order_by("-n", "id")
    )
    banned = Member.objects.filter(banned_at__isnull=False).select_related("user", "banned_by").order_by("-banned_at")
    context = {
        "lang": translation.get_language(),
        "held": held[:200],
        "reported": reported[:200],
        "banned": banned[:200],
    }
    return render(request, "forum/queue.html", context)


@require_POST
@forum_page
def unban(request: HttpRequest, user_id: int) -> HttpResponseBase:
    require_forum_agent(_user(request))
    member = Member.objects.select_related("user").filter(user=user_id).first()
    if member is None:
        raise NotFound("No such member")
    services.unban_member(_user(request), member.user)
    return redirect(reverse("forum:queue") + "#banned")
