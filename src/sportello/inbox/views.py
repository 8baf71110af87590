"""The inbox page: the ticket list under one of the views, with its counts and keyset pages; bulk
changes to the chosen tickets; saving, sharing and deleting views."""

from __future__ import annotations

import hashlib
import json

from django.conf import settings
from django.contrib import messages
from django.core.cache import cache
from django.core.paginator import InvalidPage, Paginator
from django.db.models import prefetch_related_objects
from django.http import HttpRequest, HttpResponse, QueryDict
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.utils.translation import ngettext
from django.views.decorators.http import require_POST

from sportello.accounts.models import User
from sportello.core.errors import InvalidInput, NotFound
from sportello.forum.access import is_forum_agent, require_forum_agent
from sportello.forum.models import ForumSettings
from sportello.forum.queries import unanswered_count, unanswered_topics
from sportello.inbox.forms import BulkForm, InboxForm, SaveViewForm
from sportello.inbox.models import SavedView
from sportello.inbox.services import (
    BULK_MAX,
    BulkOutcome,
    bulk_targets,
    bulk_update,
    delete_view,
    may_edit_view,
    save_view,
    saved_filters,
    view_for_agent,
    views_for,
)
from sportello.tickets.queries import (
    COUNTS_GENERATION_KEY,
    VIEW_COUNTS_TTL,
    VIEWS,
    TicketFilter,
    filtered,
    latest_change,
    list_tickets,
    view_counts,
)
from sportello.tickets.views import AgentRequest, agent_view

# Sortable columns: (descending sort, ascending sort); a click on the header turns the order over.
SORTABLE = {
    "number": ("number", "number_asc"),
    "priority": ("priority", "priority_asc"),
    "updated": ("newest", "oldest"),
}


@agent_view
def inbox(request: AgentRequest) -> HttpResponse:
    form = InboxForm(request.GET)
    form.is_valid()
    sort = form.sort_order()
    flt = form.ticket_filter()
    page = list_tickets(
        request.user,
        flt,
        sort=sort,
        cursor=form.cleaned_data.get("cursor") or None,
        size=settings.INBOX_PAGE_SIZE,
        with_tags=False,  # the rows do not show them
        stamp=form.stamp,  # statuses and groups from this process's copy
        table=True,  # only the columns the table shows
    )
    # A customer without a name is shown by address: one query for those on the page, none if all have names.
    prefetch_related_objects([t.customer for t in page.tickets if not t.customer.name], "identities")
    saved = list(views_for(request.user))
    current_saved = form.cleaned_data.get("saved")
    # "Select every ticket matching": how many that is, counted (up to what one action takes) only
    # when the list has more than this page.
    matching: int | str = len(page.tickets)
    changed = latest_change()  # the counts' and the matching count's key: read once
    if page.next_cursor or form.cleaned_data.get("cursor"):
        found = _matching(request.user, flt, changed)
        matching = f"{BULK_MAX}+" if found > BULK_MAX else found
    # On a saved view its owner (or an admin, for a shared one) may update it with the current filters.
    editing = next((v for v in saved if v.pk == current_saved and may_edit_view(request.user, v)), None)
    initial: dict[str, object] = {"params": form.filter_params()}
    if editing is not None:
        initial.update(name=editing.name, sharing=editing.sharing, group=editing.group_id)
    context = {
        **_sidebar(request.user, saved, changed),
        "form": form,
        "page": page,
        "current_view": form.view_slug(),
        "matching": matching,
        "current_saved": current_saved if any(view.pk == current_saved for view in saved) else None,
        "sorts": _sort_links(request, sort),
        # The three forms' dropdowns at one version of the lookups (one read of it).
        "save_form": SaveViewForm(initial=initial, stamp=form.stamp),
        "editing": editing,
        "bulk_form": BulkForm(stamp=form.stamp),
        "next_url": _with_params(request, cursor=page.next_cursor) if page.next_cursor else None,
        "first_url": _with_params(request, cursor=None) if form.cleaned_data.get("cursor") else None,
        "query": "",
    }
    return render(request, "inbox/inbox.html", context)


def _sidebar(user: User, saved: list[SavedView], changed: str | None = None) -> dict[str, object]:
    """The views beside the list, with their counts: built-in, saved, and the forum's unanswered
    topics for agents who may answer them (a cached count: no query on a warm page)."""
    counts = view_counts(user, saved_filters(saved), changed=changed)
    return {
        "views": [(view, counts[view.slug]) for view in VIEWS],
        "saved_views": [(view, counts[view.count_key], may_edit_view(user, view), open_url(view)) for view in saved],
        "forum_unanswered": unanswered_count() if is_forum_agent(user) else None,
    }


@agent_view
def forum_unanswered(request: AgentRequest) -> HttpResponse:
    """The view "Unanswered forum topics": public topics nobody but their author replied to, older
    than the forum's setting, longest waiting first; each row links to the topic, where an answer
    takes it off the list."""
    require_forum_agent(request.user)
    hours = ForumSettings.current().unanswered_after_hours
    topics = unanswered_topics(hours).select_related("category", "author")
    number = request.GET.get("page", "1")
    try:
        page = Paginator(topics, settings.INBOX_PAGE_SIZE).page(number)
    except InvalidPage as err:
        raise NotFound(f"No page {number[:20]} of unanswered topics") from err
    context = {
        **_sidebar(request.user, list(views_for(request.user))),
        "topics": page.object_list,
        "topics_page": page,
        "forum_hours": hours,
        "current_view": "forum_unanswered",
        "current_saved": None,
    }
    return render(request, "inbox/forum_unanswered.html", context)


def _matching(user: User, flt: TicketFilter, changed: str) -> int:
    """How many tickets the filters match, counted up to one past BULK_MAX.

    Counting reads up to 5,001 index entries (20 ms and more for "My open tickets" at 1M tickets) on
    every page, though the answer only changes when a ticket does. It is kept as the view counts are
    (tickets/queries.py `view_counts`): under the latest change of any ticket (`changed`, from
    `latest_change`), the deleted-tickets generation and the filter, for VIEW_COUNTS_TTL at
    most (an agent's groups, an SLA deadline passing).
    """
    shape = json.dumps(flt.to_json(), sort_keys=True, default=str)
    digest = hashlib.sha256(shape.encode()).hexdigest()[:16]
    key = f"sportello:inbox-matching:{user.pk}:{changed}:{cache.get(COUNTS_GENERATION_KEY, 0)}:{digest}"
    found: int | None = cache.get(key)
    if found is None:
        found = filtered(user, flt).values("pk")[: BULK_MAX + 1].count()
        cache.set(key, found, VIEW_COUNTS_TTL)
    return found


def _sort_links(request: HttpRequest, sort: str) -> dict[str, dict[str, str]]:
    """Per sortable column: the link that sorts by it (or turns its order over) and its aria-sort."""
    links = {}
    for column, (desc, asc) in SORTABLE.items():
        state = "descending" if sort == desc else "ascending" if sort == asc else "none"
        links[column] = {
            "url": _with_params(request, sort=asc if sort == desc else desc, cursor=None),
            "aria": state,
        }
    return links


def _with_params(request: HttpRequest, **changes: str | None) -> str:
    params = request.GET.copy()
    for name, value in changes.items():
        params.pop(name, None)
        if value:
            params[name] = value
    return "?" + params.urlencode()


@require_POST
@agent_view
def bulk(request: AgentRequest) -> HttpResponse:
    """Apply one action to the chosen tickets, or to every ticket the list's filters match."""
    form = BulkForm(request.POST)
    if not form.is_valid():
        problems = "; ".join(f"{name}: {' '.join(errors)}" for name, errors in form.errors.items())
        raise InvalidInput(_("The bulk action was not understood: %(problems)s") % {"problems": problems})
    match = form.cleaned_data.get("match") or ""
    if match:
        filters = InboxForm(QueryDict(match.lstrip("?")))
        filters.is_valid()
        targets = bulk_targets(request.user, filters.ticket_filter())
    else:
        targets = form.cleaned_data["tickets"]
    outcome = bulk_update(request.user, targets, form.changes())
    summary = _summary(outcome)
    if request.headers.get("HX-Request"):
        return render(request, "inbox/_bulk_result.html", {"summary": summary, "outcome": outcome})
    (messages.warning if outcome.refused else messages.success)(request, summary)
    return redirect(reverse("inbox") + ("?" + match.lstrip("?") if match else ""))


def _summary(outcome: BulkOutcome) -> str:
    """ "3 updated, 1 refused: #1042 was changed by Anna since you saw it"."""
    parts = [ngettext("%(n)s updated", "%(n)s updated", len(outcome.updated)) % {"n": len(outcome.updated)}]
    if outcome.unchanged:
        parts.append(
            ngettext("%(n)s already so", "%(n)s already so", len(outcome.unchanged)) % {"n": len(outcome.unchanged)}
        )
    if outcome.refused:
        parts.append(ngettext("%(n)s refused", "%(n)s refused", len(outcome.refused)) % {"n": len(outcome.refused)})
    text = ", ".join(parts)
    if outcome.refused:
        text += ": " + "; ".join(refusal.reason for refusal in outcome.refused[:20])
        if len(outcome.refused) > 20:
            text += " …"
    return text


@require_POST
@agent_view
def save_view_(request: AgentRequest, view_id: int | None = None) -> HttpResponse:
    """Save the list's current filters as a view (or change the view `view_id`)."""
    view: SavedView | None = view_for_agent(request.user, view_id) if view_id else None
    form = SaveViewForm(request.POST)
    if not form.is_valid():
        problems = "; ".join(f"{name}: {' '.join(errors)}" for name, errors in form.errors.items())
        raise InvalidInput(_("The view was not saved: %(problems)s") % {"problems": problems})
    params = (form.cleaned_data.get("params") or "").lstrip("?")
    filters = InboxForm(QueryDict(params))
    if not filters.is_valid():
        raise InvalidInput(_("The view's filters were not understood; fix them in the list first"))
    data = form.cleaned_data
    view = save_view(
        request.user,
        name=data["name"],
        flt=filters.ticket_filter(),
        params=filters.filter_params(),
        sharing=data["sharing"],
        group=data.get("group"),
        view=view,
    )
    messages.success(request, _("View “%(name)s” saved.") % {"name": view.name})
    return redirect(open_url(view))


@require_POST
@agent_view
def delete_view_(request: AgentRequest, view_id: int) -> HttpResponse:
    view = view_for_agent(request.user, view_id)
    delete_view(request.user, view)
    messages.success(request, _("View “%(name)s” deleted.") % {"name": view.name})
    return redirect("inbox")


def open_url(view: SavedView) -> str:
    return reverse("inbox") + f"?saved={view.pk}" + (f"&{view.params}" if view.params else "")
