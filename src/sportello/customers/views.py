"""The agent UI's customer and organization pages, their edits, and merging customers.

Each view parses a form, reaches the file, calls one service and goes back to the page; a refused
or invalid change shows the page again with the reason and what was typed kept. Any agent may read
any file (as in the API); the tickets, the timeline and the counts on it are only the ones the agent
may see (tickets/access.py).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django.contrib import messages
from django.db.models import Count, prefetch_related_objects
from django.forms import Form
from django.http import HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from sportello.core.errors import Forbidden, NotFound, ServiceError
from sportello.customers import queries
from sportello.customers.forms import CustomerForm, IdentityForm, MergeForm, NoteForm, OrganizationForm
from sportello.customers.merging import (
    can_undo,
    merge_customers,
    merges_of,
    require_not_merged,
    undo_deadline,
    unmerge_customers,
)
from sportello.customers.models import Customer, CustomerMerge, Integration, Organization
from sportello.customers.services import (
    add_customer_note,
    add_identity,
    create_organization,
    remove_identity,
    update_customer,
    update_organization,
)
from sportello.tickets.access import require_full_agent
from sportello.tickets.queries import TicketFilter, list_tickets
from sportello.tickets.views import AgentRequest, agent_view

TICKETS_PAGE = 25


def _customer(customer_id: int) -> Customer:
    found = Customer.objects.select_related("organization", "merged_into").filter(pk=customer_id).first()
    if found is None:
        raise NotFound(f"No customer {customer_id}")
    return found


def _organization(organization_id: int) -> Organization:
    found = Organization.objects.filter(pk=organization_id).first()
    if found is None:
        raise NotFound(f"No organization {organization_id}")
    return found


# --- Customer page -------------------------------------------------------------------------------------


@agent_view
def customer_detail(request: AgentRequest, customer_id: int) -> HttpResponse:
    return _customer_page(request, _customer(customer_id))


def _customer_page(
    request: AgentRequest,
    customer: Customer,
    *,
    status: int = 200,
    forms: dict[str, Form] | None = None,
    error: str = "",
) -> HttpResponse:
    """The customer's file; the statements it costs do not depend on how many tickets it has."""
    user = request.user
    tickets = list_tickets(
        user,
        TicketFilter(customer=customer.pk),
        sort="created",
        cursor=request.GET.get("tickets") or None,
        size=TICKETS_PAGE,
        with_tags=False,
    )
    for ticket in tickets.tickets:
        ticket.customer = customer  # the rows show the customer: the one in hand, not a copy per row
    timeline = queries.customer_timeline(user, customer, request.GET.get("timeline") or None)
    # A customer without a name is shown by address (the heading, the rows, the timeline's authors):
    # their identities in one query, which the addresses card reuses.
    authors = [e.author_customer for e in timeline.rows if e.author_customer is not None and not e.author_customer.name]
    prefetch_related_objects([customer, *authors], "identities")
    merges = merges_of(customer)
    context: dict[str, Any] = {
        "customer": customer,
        "identities": customer.identities.all(),
        "tickets": tickets.tickets,
        "tickets_next": tickets.next_cursor,
        "timeline": timeline.rows,
        "timeline_next": timeline.next_cursor,
        "notes": customer.agent_notes.select_related("author")[:50],
        "history": customer.changes.select_related("actor")[:50],
        "merges": [(merge, can_undo(merge), undo_deadline(merge)) for merge in merges],
        "has_integrations": Integration.objects.filter(enabled=True).exists(),
        "can_edit": user.can_reply and customer.merged_into_id is None,
        "customer_form": CustomerForm.for_customer(customer),
        "identity_form": IdentityForm(),
        "note_form": NoteForm(),
        "error": error,
        **(forms or {}),
    }
    return render(request, "customers/customer.html", context, status=status)


def _act(
    request: AgentRequest,
    customer: Customer,
    call: Callable[[], Any],
    done: str,
    *,
    name: str = "",
    form: Form | None = None,
) -> HttpResponse:
    """Run one service call: back to the page with `done`, or the page again with the reason."""
    try:
        call()
    except (Forbidden, NotFound):
        raise
    except ServiceError as err:
        kept = {name: form} if form is not None and name else {}
        return _customer_page(request, _customer(customer.pk), status=err.status, error=err.message, forms=kept)
    messages.success(request, done)
    return redirect("customer", customer_id=customer.pk)


@require_POST
@agent_view
def customer_update(request: AgentRequest, customer_id: int) -> HttpResponse:
    customer = _customer(customer_id)
    require_full_agent(request.user)
    require_not_merged(customer)
    form = CustomerForm(request.POST)
    if not form.is_valid():
        return _customer_page(request, customer, status=422, forms={"customer_form": form})
    changes = form.changes(customer)
    return _act(
        request, customer, lambda: update_customer(customer, actor=request.user, **changes),
        _("Customer saved."), name="customer_form", form=form,
    )  # fmt: skip


@require_POST
@agent_view
def identity_add(request: AgentRequest, customer_id: int) -> HttpResponse:
    customer = _customer(customer_id)
    require_full_agent(request.user)
    require_not_merged(customer)
    form = IdentityForm(request.POST)
    if not form.is_valid():
        return _customer_page(request, customer, status=422, forms={"identity_form": form})
    data = form.cleaned_data
    return _act(
        request, customer, lambda: add_identity(customer, data["kind"], data["value"], actor=request.user),
        _("Address added."), name="identity_form", form=form,
    )  # fmt: skip


@require_POST
@agent_view
def identity_remove(request: AgentRequest, customer_id: int, identity_id: int) -> HttpResponse:
    customer = _customer(customer_id)
    require_full_agent(request.user)
    require_not_merged(customer)
    return _act(
        request, customer, lambda: remove_identity(customer, identity_id, actor=request.user), _("Address removed.")
    )


@require_POST
@agent_view
def note_add(request: AgentRequest, customer_id: int) -> HttpResponse:
    customer = _customer(customer_id)
    form = NoteForm(request.POST)
    if not form.is_valid():
        return _customer_page(request, customer, status=422, forms={"note_form": form})
    return _act(
        request, customer, lambda: add_customer_note(customer, request.user, form.cleaned_data["body"]),
        _("Note added."), name="note_form", form=form,
    )  # fmt: skip


@agent_view
def customer_integrations(request: AgentRequest, customer_id: int) -> HttpResponse:
    """The panels of the outside systems (customers/integrations.py), loaded after the page."""
    from sportello.customers.integrations import panels_for

    customer = _customer(customer_id)
    prefetch_related_objects([customer], "identities")
    return render(request, "customers/_integrations.html", {"panels": panels_for(customer)})


# --- Merging -------------------------------------------------------------------------------------------


@agent_view
def customer_merge(request: AgentRequest, customer_id: int) -> HttpResponse:
    """GET: find the duplicate to merge into this file; POST: merge it."""
    customer = _customer(customer_id)
    require_full_agent(request.user)
    if request.method == "POST":
        form = MergeForm(request.POST)
        if not form.is_valid():
            return _merge_page(request, customer, status=422, error=_("Pick the customer to merge."))
        duplicate = _customer(form.cleaned_data["duplicate"])
        try:
            merge = merge_customers(customer, duplicate, request.user)
        except (Forbidden, NotFound):
            raise
        except ServiceError as err:
            return _merge_page(request, customer, status=err.status, error=err.message)
        messages.success(
            request,
            _("%(duplicate)s was merged into this customer. You can undo it for 30 days.") % {"duplicate": duplicate},
        )
        return redirect(f"{_url('customer', customer.pk)}#merge-{merge.pk}")
    return _merge_page(request, customer)


def _merge_page(request: AgentRequest, customer: Customer, *, status: int = 200, error: str = "") -> HttpResponse:
    query = request.GET.get("q", "").strip()[:200]
    candidates = queries.find_customers(query, 20, exclude=customer.pk) if query else []
    prefetch_related_objects([customer], "identities")
    context = {"customer": customer, "query": query, "candidates": candidates, "error": error}
    return render(request, "customers/merge.html", context, status=status)


@require_POST
@agent_view
def customer_unmerge(request: AgentRequest, merge_id: int) -> HttpResponse:
    merge = CustomerMerge.objects.select_related("survivor", "duplicate").filter(pk=merge_id).first()
    if merge is None:
        raise NotFound(f"No merge {merge_id}")
    require_full_agent(request.user)
    try:
        unmerge_customers(merge, request.user)
    except (Forbidden, NotFound):
        raise
    except ServiceError as err:
        return _customer_page(request, _customer(merge.survivor_id), status=err.status, error=err.message)
    messages.success(
        request, _("The merge was undone: %(duplicate)s has its own file again.") % {"duplicate": merge.duplicate}
    )
    return redirect("customer", customer_id=merge.survivor_id)


def _url(name: str, pk: int) -> str:
    from django.urls import reverse

    return reverse(name, args=[pk])


# --- Organizations -------------------------------------------------------------------------------------


@agent_view
def organization_list(request: AgentRequest) -> HttpResponse:
    form = OrganizationForm()
    if request.method == "POST":
        require_full_agent(request.user)
        form = OrganizationForm(request.POST)
        if form.is_valid():
            try:
                organization = create_organization(request.user, **form.cleaned_data)
            except (Forbidden, NotFound):
                raise
            except ServiceError as err:
                return _organization_list_page(request, form, status=err.status, error=err.message)
            messages.success(request, _("Organization created."))
            return redirect("organization", organization_id=organization.pk)
        return _organization_list_page(request, form, status=422)
    return _organization_list_page(request, form)


def _organization_list_page(request: AgentRequest, form: Form, *, status: int = 200, error: str = "") -> HttpResponse:
    query = request.GET.get("q", "").strip()[:200]
    organizations = Organization.objects.all()
    if query:
        organizations = organizations.filter(pk__in=[o.pk for o in queries.find_organizations(query, 200)])
    rows = organizations.annotate(member_count=Count("customers")).order_by("name")[:200]
    context = {
        "organizations": rows,
        "query": query,
        "form": form,
        "error": error,
        "can_edit": request.user.can_reply,
    }
    return render(request, "customers/organizations.html", context, status=status)


@agent_view
def organization_detail(request: AgentRequest, organization_id: int) -> HttpResponse:
    return _organization_page(request, _organization(organization_id))


def _organization_page(
    request: AgentRequest, organization: Organization, *, status: int = 200, form: Form | None = None, error: str = ""
) -> HttpResponse:
    tickets = queries.organization_tickets(request.user, organization, request.GET.get("tickets") or None)
    people = queries.members(organization, request.GET.get("members") or None)
    # A customer without a name is shown by address in the ticket rows.
    prefetch_related_objects([t.customer for t in tickets.rows if not t.customer.name], "identities")
    context = {
        "organization": organization,
        "tickets": tickets.rows,
        "tickets_next": tickets.next_cursor,
        "members": people.rows,
        "members_next": people.next_cursor,
        "form": form or OrganizationForm.for_organization(organization),
        "can_edit": request.user.can_reply,
        "error": error,
    }
    return render(request, "customers/organization.html", context, status=status)


@require_POST
@agent_view
def organization_update(request: AgentRequest, organization_id: int) -> HttpResponse:
    organization = _organization(organization_id)
    require_full_agent(request.user)
    form = OrganizationForm(request.POST)
    if not form.is_valid():
        return _organization_page(request, organization, status=422, form=form)
    try:
        update_organization(organization, request.user, **form.cleaned_data)
    except (Forbidden, NotFound):
        raise
    except ServiceError as err:
        return _organization_page(
            request, _organization(organization_id), status=err.status, form=form, error=err.message
        )
    messages.success(request, _("Organization saved."))
    return redirect("organization", organization_id=organization.pk)
