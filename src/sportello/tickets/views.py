"""The agent UI's ticket pages: inbox, ticket, its actions, and attachment downloads.

Each view parses a form, goes through an access gate, calls one service, then renders or
redirects. `agent_view` turns the services' errors into the matching HTTP answer in one place.
"""

from __future__ import annotations

import json
import zoneinfo
from collections.abc import Callable
from functools import wraps
from typing import Any

from django.contrib import messages
from django.contrib.auth.views import redirect_to_login
from django.core.exceptions import PermissionDenied
from django.db import transaction
from django.db.models import Q
from django.forms import Form
from django.http import Http404, HttpRequest, HttpResponse
from django.http.response import HttpResponseBase
from django.shortcuts import redirect, render
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_POST

from sportello.accounts.models import User
from sportello.automation.services import MacroPreview, apply_macro_changes, macro_for, preview_macro
from sportello.core import lookups
from sportello.core.errors import Conflict, Forbidden, InvalidInput, NotFound, ServiceError
from sportello.core.prefetch import hold
from sportello.customers.models import Identity
from sportello.fields.forms import custom_field_labels
from sportello.tickets import delivery
from sportello.tickets.access import (
    entry_for_agent,
    entry_on_ticket,
    require_agent,
    ticket_for_agent,
    tickets_visible_to,
)
from sportello.tickets.attachments import download
from sportello.tickets.forms import (
    FIELD_LABELS,
    PROPERTY_FIELDS,
    ComposeForm,
    ComposeMode,
    LinkForm,
    MergeForm,
    MoveEntryForm,
    NoteForm,
    SplitEntryForm,
    UpdateForm,
    attachments_in,
    use_cached_choices,
)
from sportello.tickets.models import Attachment, Entry, Tag, Ticket, TicketLink
from sportello.tickets.services import (
    add_note,
    forward_ticket,
    link_tickets,
    links_of,
    merge_tickets,
    move_entry,
    reply_to_ticket,
    resend_entry,
    split_entry,
    unlink_tickets,
    update_ticket,
)
from sportello.tickets.thread import load_attachments

View = Callable[..., HttpResponseBase]

# The ticket page shows this many of the latest entries of a thread; the rest on request.
THREAD_PAGE = 20

# Forms whose input `_act` keeps on the re-rendered page (drafts and field edits, not one-button actions).
DRAFT_FORMS = ("reply_form", "note_form", "update_form")


class AgentRequest(HttpRequest):
    """A request that went through `agent_view`: its user is a signed-in staff member."""

    user: User


def agent_view(view: View) -> View:
    """Agents only (anonymous users go to sign in), in the agent's time zone; maps service errors."""

    @wraps(view)
    def wrapper(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponseBase:
        if not request.user.is_authenticated:
            return redirect_to_login(request.get_full_path())
        try:
            require_agent(request.user)
            with timezone.override(_zone(request.user.time_zone)):
                return view(request, *args, **kwargs)
        except Forbidden as err:
            raise PermissionDenied(err.message) from err
        except NotFound as err:
            raise Http404(err.message) from err
        except ServiceError as err:
            return render(request, "error.html", {"message": err.message}, status=err.status)

    return wrapper


def _zone(name: str) -> zoneinfo.ZoneInfo:
    try:
        return zoneinfo.ZoneInfo(name or "UTC")
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        return zoneinfo.ZoneInfo("UTC")


# --- Ticket page and its actions ----------------------------------------------------------------------


@agent_view
def ticket_detail(request: AgentRequest, number: int) -> HttpResponse:
    stamp = lookups.read_stamp()  # the page's one read of the lookups' version
    return _ticket_page(request, ticket_for_agent(request.user, number, stamp=stamp), stamp=stamp)


@require_POST
@agent_view
def reply(request: AgentRequest, number: int) -> HttpResponse:
    """The composer: a reply (To/Cc/Bcc), an internal note or a forward, as its `mode` says; a
    previewed macro's field changes are made with it, in the same transaction."""
    mode = request.POST.get("mode") or ComposeMode.REPLY
    light = mode == ComposeMode.NOTE
    ticket = ticket_for_agent(request.user, number, write=not light)
    form = ComposeForm(request.POST, request.FILES)
    if not form.is_valid():
        return _ticket_page(request, ticket, status=422, forms={"reply_form": form})
    data = form.cleaned_data
    macro = macro_for(request.user, data["macro"]) if data["macro"] else None
    files = attachments_in(data["attachments"])
    done = {
        ComposeMode.REPLY: _("Reply saved; it is on its way to the customer."),
        ComposeMode.NOTE: _("Internal note added."),
        ComposeMode.FORWARD: _("Forward saved; it is on its way to %(to)s.") % {"to": ", ".join(data["to"])},
    }[data["mode"]]

    def send() -> Entry:
        with transaction.atomic():
            if data["mode"] == ComposeMode.NOTE:
                entry = add_note(ticket, request.user, body_text=data["body"], attachments=files,
                                 time_spent=data["time_spent"])  # fmt: skip
            elif data["mode"] == ComposeMode.FORWARD:
                entry = forward_ticket(
                    ticket, request.user, to=data["to"], cc=data["cc"], bcc=data["bcc"], body_text=data["body"],
                    attachments=files, expected_version=data["version"], time_spent=data["time_spent"],
                )  # fmt: skip
            else:
                entry = reply_to_ticket(
                    ticket, request.user, body_text=data["body"], attachments=files, expected_version=data["version"],
                    status=data["status"], to=data["to"], cc=data["cc"], bcc=data["bcc"],
                    time_spent=data["time_spent"],
                )  # fmt: skip
            if macro is not None:
                apply_macro_changes(entry.ticket, macro, request.user)
            return entry

    return _act(request, ticket, "reply_form", form, done, send)


@require_POST
@agent_view
def note(request: AgentRequest, number: int) -> HttpResponse:
    ticket = ticket_for_agent(request.user, number)
    form = NoteForm(request.POST, request.FILES)
    if not form.is_valid():
        return _ticket_page(request, ticket, status=422, forms={"note_form": form})
    data = form.cleaned_data
    return _act(
        request, ticket, "note_form", form, _("Internal note added."),
        lambda: add_note(ticket, request.user, body_text=data["body"], attachments=attachments_in(data["attachments"])),
    )  # fmt: skip


@require_POST
@agent_view
def update(request: AgentRequest, number: int) -> HttpResponse:
    """Save the ticket's properties. The properties panel posts each change as it is made (htmx)
    with the values the agent saw, so only a field someone else changed meanwhile is refused."""
    ticket = ticket_for_agent(request.user, number, write=True)
    form = UpdateForm(request.POST)
    partial = request.headers.get("HX-Request") == "true"
    if not form.is_valid():
        if partial:
            return _properties(request, ticket, form=form, status=422)
        return _ticket_page(request, ticket, status=422, forms={"update_form": form})
    seen = form.seen()
    if not partial and seen is not None:  # the panel without a script: per field, as with htmx
        try:
            update_ticket(ticket, request.user, form.changes(), seen=seen)
        except Conflict as err:
            fresh = ticket_for_agent(request.user, number)
            return _ticket_page(request, fresh, status=409, error=" ".join(_conflict_lines(err)))
        messages.success(request, _("Ticket updated."))
        return redirect("ticket", number=ticket.number)
    if not partial:
        return _act(
            request, ticket, "update_form", form, _("Ticket updated."),
            lambda: update_ticket(ticket, request.user, form.changes(), expected_version=form.cleaned_data["version"],
                                  seen=form.seen()),
        )  # fmt: skip
    try:
        ticket = update_ticket(
            ticket, request.user, form.changes(), expected_version=form.cleaned_data["version"], seen=form.seen()
        )
    except Conflict as err:
        fresh = ticket_for_agent(request.user, number)
        return _properties(request, fresh, conflicts=_conflict_lines(err), status=409)
    except (Forbidden, NotFound):
        raise
    except ServiceError as err:
        return _properties(request, ticket_for_agent(request.user, number), error=err.message, status=err.status)
    saved = [str(FIELD_LABELS[name]) for name in PROPERTY_FIELDS if name in form.changed()]
    saved += custom_field_labels(form.custom_changes())
    return _properties(request, ticket_for_agent(request.user, number), saved=saved)


def _conflict_lines(err: Conflict) -> list[str]:
    """One sentence per field someone else changed meanwhile, naming the field and their value."""
    return [
        _("%(by)s changed %(field)s to “%(value)s” meanwhile; your change to “%(yours)s” was not saved.")
        % {
            "by": row["by"],
            "field": FIELD_LABELS.get(row["field"], row.get("label", row["field"])),
            "value": _(row["value"]) if row["value"] else "—",
            "yours": _(row["yours"]) if row["yours"] else "—",
        }
        for row in err.details.get("fields", [])
    ] or [err.message]


def _properties(
    request: AgentRequest,
    ticket: Ticket,
    *,
    form: UpdateForm | None = None,
    saved: list[str] | None = None,
    conflicts: list[str] | None = None,
    error: str = "",
    status: int = 200,
) -> HttpResponse:
    tag_names = list(ticket.tags.values_list("name", flat=True))
    update_form = form or UpdateForm.for_ticket(ticket, tag_names)
    stamp = lookups.read_stamp()
    use_cached_choices(update_form, stamp=stamp)
    context = {
        "lookups_stamp": stamp,
        "ticket": ticket,
        "update_form": update_form,
        "properties": _property_rows(update_form, ticket, tag_names),
        "saved": saved or [],
        "property_conflicts": conflicts or [],
        "property_error": error,
    }
    return render(request, "tickets/_properties.html", context, status=status)


def _property_rows(form: UpdateForm, ticket: Ticket, tag_names: list[str]) -> list[tuple[Any, str]]:
    """Each property field with the value the agent sees now (sent back as `seen_<name>`)."""
    seen = {
        "status": str(ticket.status_id),
        "priority": str(ticket.priority),
        "group": str(ticket.group_id or ""),
        "assignee": str(ticket.assignee_id or ""),
        "category": str(ticket.category_id or ""),
        "tags": ", ".join(sorted(tag_names)),
    }
    return [(form[name], seen[name]) for name in PROPERTY_FIELDS]


@require_GET
@agent_view
def tag_suggestions(request: AgentRequest) -> HttpResponse:
    """Datalist options for the tags box: what is typed, completed by existing tags' names."""
    typed = request.GET.get("tags", "")[:500]
    done, _sep, last = typed.rpartition(",")
    prefix = f"{done}, " if done.strip() else ""
    last = last.strip().lower()
    names = Tag.objects.filter(name__startswith=last).values_list("name", flat=True)[:10] if last else []
    options = [f"{prefix}{name}" for name in names]
    return render(request, "tickets/_tag_options.html", {"options": options})


@require_POST
@agent_view
def merge(request: AgentRequest, number: int) -> HttpResponse:
    """Merge this ticket into another. A refused merge goes back to the ticket (not a page at the
    POST's address, which a reload would post again) with the reason."""
    ticket = ticket_for_agent(request.user, number, write=True)
    form = MergeForm(request.POST)
    if not form.is_valid():
        messages.error(request, " ".join(str(e) for errors in form.errors.values() for e in errors))
        return redirect("ticket", number=ticket.number)
    try:
        target = ticket_for_agent(request.user, form.cleaned_data["target"], write=True)
        merged = merge_tickets(ticket, target, request.user, expected_version=form.cleaned_data["version"])
    except (NotFound, InvalidInput, Conflict) as err:
        messages.error(request, _("The ticket was not merged: %(reason)s") % {"reason": err.message})
        return redirect("ticket", number=ticket.number)
    messages.success(request, _("Ticket merged."))
    return redirect("ticket", number=merged.number)


@require_POST
@agent_view
def link(request: AgentRequest, number: int) -> HttpResponse:
    """Link this ticket to another (related, child, parent); back to the ticket either way."""
    ticket = ticket_for_agent(request.user, number, write=True)
    form = LinkForm(request.POST)
    if not form.is_valid():
        messages.error(request, " ".join(str(e) for errors in form.errors.values() for e in errors))
        return redirect("ticket", number=ticket.number)
    try:
        other = ticket_for_agent(request.user, form.cleaned_data["target"], write=True)
        link_tickets(ticket, other, request.user, kind=form.cleaned_data["kind"])
    except (NotFound, InvalidInput) as err:
        messages.error(request, _("The tickets were not linked: %(reason)s") % {"reason": err.message})
        return redirect("ticket", number=ticket.number)
    messages.success(request, _("Linked to #%(number)s.") % {"number": other.number})
    return redirect("ticket", number=ticket.number)


@require_POST
@agent_view
def unlink(request: AgentRequest, number: int, link_id: int) -> HttpResponse:
    ticket = ticket_for_agent(request.user, number, write=True)
    found = TicketLink.objects.filter(Q(source=ticket) | Q(target=ticket), pk=link_id).first()
    if found is None:
        raise NotFound(f"No link {link_id} on #{ticket.number}")
    unlink_tickets(ticket, found, request.user)
    messages.success(request, _("Link removed."))
    return redirect("ticket", number=ticket.number)


@require_POST
@agent_view
def move(request: AgentRequest, number: int, entry_id: int) -> HttpResponse:
    ticket = ticket_for_agent(request.user, number, write=True)
    entry = entry_on_ticket(ticket, entry_id)
    form = MoveEntryForm(request.POST)
    if not form.is_valid():
        return _ticket_page(request, ticket, status=422, error=_("Write the number of the ticket to move it to."))
    try:
        target = ticket_for_agent(request.user, form.cleaned_data["target"], write=True)
    except NotFound as err:
        return _ticket_page(request, ticket, status=422, error=err.message)
    return _act(
        request, ticket, "move_form", form, _("Message moved to #%(number)s.") % {"number": target.number},
        lambda: move_entry(entry, target, request.user, expected_version=form.cleaned_data["version"]),
        stay=True,
    )  # fmt: skip


@require_POST
@agent_view
def split(request: AgentRequest, number: int, entry_id: int) -> HttpResponse:
    ticket = ticket_for_agent(request.user, number, write=True)
    entry = entry_on_ticket(ticket, entry_id)
    form = SplitEntryForm(request.POST)
    if not form.is_valid():
        return _ticket_page(request, ticket, status=422, error=_("The form was incomplete; try again."))
    return _act(
        request, ticket, "split_form", form, _("Message split into a new ticket."),
        lambda: split_entry(entry, request.user, expected_version=form.cleaned_data["version"]),
    )  # fmt: skip


@require_POST
@agent_view
def resend(request: AgentRequest, number: int, entry_id: int) -> HttpResponse:
    ticket = ticket_for_agent(request.user, number, write=True)
    entry = entry_on_ticket(ticket, entry_id)
    return _act(request, ticket, "", None, _("The reply is queued to be sent again."),
                lambda: resend_entry(entry, request.user), stay=True)  # fmt: skip


def _act(
    request: AgentRequest,
    ticket: Ticket,
    name: str,
    form: Form | None,
    done: str,
    call: Callable[[], Any],
    *,
    stay: bool = False,
) -> HttpResponse:
    """Run one service call; on success go back to the ticket, else show the page with the draft kept.

    A stale version (Conflict) re-renders the fresh ticket with a notice of what changed meanwhile;
    the draft is kept and its hidden version moved forward, so sending again is a deliberate choice.
    """
    try:
        result = call()
    except Conflict as err:
        fresh = ticket_for_agent(request.user, ticket.number)
        forms: dict[str, Form] = {}
        if form is not None and name in DRAFT_FORMS:
            data = form.data.copy()  # type: ignore[attr-defined]
            data["version"] = str(fresh.version)
            forms[name] = type(form)(data)
        return _ticket_page(request, fresh, status=409, conflict=err.details.get("changes", []), forms=forms)
    except (Forbidden, NotFound):
        raise
    except ServiceError as err:
        kept = {name: form} if form is not None and name in DRAFT_FORMS else {}
        return _ticket_page(request, ticket, status=err.status, error=err.message, forms=kept)
    messages.success(request, done)
    # Most actions go on to the ticket they produced (a merge target, a split's new ticket);
    # after a move or a resend the agent stays where they were.
    number = result.number if isinstance(result, Ticket) and not stay else ticket.number
    return redirect("ticket", number=number)


def save_reply_draft(request: HttpRequest, ticket: Ticket, text: str) -> None:
    """Keep a reply draft for the next rendering of the ticket page (after a redirect)."""
    request.session[f"reply_draft:{ticket.pk}"] = text[:100_000]


def _ticket_page(
    request: AgentRequest,
    ticket: Ticket,
    *,
    status: int = 200,
    forms: dict[str, Form] | None = None,
    conflict: list[dict[str, Any]] | None = None,
    error: str = "",
    stamp: int | None = None,
) -> HttpResponse:
    user = request.user
    tag_names = list(ticket.tags.values_list("name", flat=True))
    entries, earlier = _thread(ticket, whole=request.GET.get("thread") == "all")
    context: dict[str, Any] = {
        "ticket": ticket,
        "tag_names": tag_names,
        "entries": entries,
        "earlier_entries": earlier,
        "several_entries": earlier or len(entries) > 1,
        "changes": ticket.changes.select_related("actor"),
        "identities": ticket.customer.identities.all(),
        "other_tickets": (
            tickets_visible_to(user)
            .filter(customer_id=ticket.customer_id, merged_into__isnull=True)
            .exclude(pk=ticket.pk)
            .select_related("status")
            .only("number", "subject", "status", "status__name")
            .order_by("-created_at", "-id")[:10]
        ),
        "can_reply": user.can_reply,
        "composer_notice": delivery.composer_notice(ticket.pk, ticket.channel) if user.can_reply else None,
        "reply_form": ComposeForm(
            initial={"version": ticket.version, "body": request.session.pop(f"reply_draft:{ticket.pk}", "")}
        ),
        "update_form": UpdateForm.for_ticket(ticket, tag_names),
        "merge_form": MergeForm(initial={"version": ticket.version}),
        "link_form": LinkForm(),
        "links": links_of(ticket, user),
        "conflict": conflict,
        "error": error,
        "field_labels_json": json.dumps({name: str(label) for name, label in FIELD_LABELS.items()}),
        "pending_macro": _pending_macro(request, ticket),
        **(forms or {}),
    }
    context["properties"] = _property_rows(context["update_form"], ticket, tag_names)
    links = context["links"]
    context["links_listed"] = [
        (_("Parent"), links["parent"]),
        (_("Children"), links["children"]),
        (_("Related"), links["related"]),
    ]
    # One read of the lookups' version for every dropdown of the page (custom fields' too).
    context["lookups_stamp"] = lookups.read_stamp() if stamp is None else stamp
    use_cached_choices(*(form for form in context.values() if isinstance(form, Form)), stamp=context["lookups_stamp"])
    return render(request, "tickets/ticket.html", context, status=status)


def _pending_macro(request: AgentRequest, ticket: Ticket) -> MacroPreview | None:
    """A macro inserted without a script (automation/views.py `insert_macro`): its preview, once."""
    macro_id = request.session.pop(f"reply_macro:{ticket.pk}", None)
    if macro_id is None or not request.user.can_reply:
        return None
    try:
        return preview_macro(ticket, macro_for(request.user, int(macro_id)), request.user)
    except ServiceError:
        return None


def _thread(ticket: Ticket, *, whole: bool) -> tuple[list[Entry], bool]:
    """The entries the ticket page shows, oldest first, and whether earlier ones were left out.

    A long thread shows its latest THREAD_PAGE entries, with a link to the whole thread: rendering
    an entry costs 0.5 to 1 ms, and the answer to write is to the latest messages.
    """
    entries = ticket.entries.select_related("author_user", "author_customer")
    if whole:
        shown, earlier = list(entries), False
    else:
        latest = list(entries.order_by("-created_at", "-id")[: THREAD_PAGE + 1])
        shown, earlier = latest[:THREAD_PAGE][::-1], len(latest) > THREAD_PAGE
    load_attachments(shown)  # one query for the thread's files
    # The customer panel's addresses and those of the thread's authors (a nameless author is shown
    # by address), in one query; handed over as a prefetch would (its machinery cost ~1 ms here).
    customers = [ticket.customer, *(entry.author_customer for entry in shown if entry.author_customer is not None)]
    identities: dict[int, list[Identity]] = {customer.pk: [] for customer in customers}
    for identity in Identity.objects.filter(customer_id__in=list(identities)):
        identities[identity.customer_id].append(identity)
    for customer in customers:
        hold(customer, "identities", identities[customer.pk])
    return shown, earlier


# --- Attachments --------------------------------------------------------------------------------------


@agent_view
def attachment(request: AgentRequest, attachment_id: int) -> HttpResponseBase:
    """A file of a thread entry, for agents who may see its ticket; always a download, never a page."""
    item = Attachment.objects.filter(pk=attachment_id).first()
    if item is None:
        raise NotFound(f"No attachment {attachment_id}")
    entry_for_agent(request.user, item.entry_id)
    return download(item)
