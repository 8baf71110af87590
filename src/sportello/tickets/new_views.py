"""The "New ticket" page: an agent opens a ticket for a customer, or writes to one.

Inbound (a phone call, a walk-in, a letter) records the customer's words with the agent as the
one who took them down; outbound (an email) sends the agent's message as the ticket's first
reply. The customer is picked from a search (the form's own search button keeps what was typed)
or given by a new address or phone number. After saving, the agent lands on the new ticket.
"""

from __future__ import annotations

from typing import Any

from django import forms
from django.http import HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext_lazy as _

from sportello.accounts.models import Group, User
from sportello.core.errors import Forbidden, InvalidInput
from sportello.customers.models import Customer
from sportello.customers.queries import find_customers
from sportello.customers.services import Sender
from sportello.fields import forms as custom_field_forms
from sportello.fields import services as custom_fields
from sportello.tickets.forms import assignable_agents
from sportello.tickets.models import Channel, EntryKind, Priority, Ticket
from sportello.tickets.opening import Opening, record_for_customer, sender_of, write_to_customer
from sportello.tickets.views import AgentRequest, agent_view


class Kind:
    PHONE_CALL = "phone_call"
    WALK_IN = "walk_in"
    LETTER = "letter"
    EMAIL = "email"


KIND_CHOICES = [
    (Kind.PHONE_CALL, _("Phone call from the customer")),
    (Kind.WALK_IN, _("Walk-in visit")),
    (Kind.LETTER, _("Letter from the customer")),
    (Kind.EMAIL, _("Email to the customer (outbound)")),
]

# Inbound kinds: the channel and entry kind the customer's words are recorded under.
INBOUND: dict[str, tuple[str, str]] = {
    Kind.PHONE_CALL: (Channel.PHONE, EntryKind.CALL),
    Kind.WALK_IN: (Channel.AGENT, EntryKind.MESSAGE),
    Kind.LETTER: (Channel.AGENT, EntryKind.MESSAGE),
}


class NewTicketForm(forms.Form):
    kind = forms.ChoiceField(label=_("Kind"), choices=KIND_CHOICES, initial=Kind.PHONE_CALL, widget=forms.RadioSelect)
    customer_id = forms.IntegerField(required=False, min_value=1, widget=forms.HiddenInput)
    q = forms.CharField(label=_("Find a customer"), required=False, max_length=200,
                        help_text=_("A name, an email address or a phone number"))  # fmt: skip
    name = forms.CharField(label=_("New customer's name"), required=False, max_length=200)
    email = forms.CharField(label=_("Email address"), required=False, max_length=254)
    phone = forms.CharField(label=_("Phone number"), required=False, max_length=254)
    subject = forms.CharField(label=_("Subject"), required=False, max_length=255)
    body = forms.CharField(
        label=_("Message"),
        widget=forms.Textarea(attrs={"rows": 6}),
        max_length=100_000,
        help_text=_("What the customer said or wrote; for an email, your message to the customer"),
    )
    duration = forms.IntegerField(label=_("Call duration (minutes)"), required=False, min_value=0, max_value=24 * 60)
    notes = forms.CharField(
        label=_("Call notes (internal)"),
        required=False,
        max_length=100_000,
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text=_("Agents only: added as an internal note"),
    )
    acknowledge = forms.BooleanField(
        label=_("Send confirmation"),
        required=False,
        help_text=_("Mail the customer the ticket's reference number (always done for a letter)"),
    )
    group = forms.ModelChoiceField(label=_("Group"), queryset=Group.objects.all(), required=False)
    assignee = forms.ModelChoiceField(label=_("Assignee"), queryset=assignable_agents(), required=False)
    priority = forms.TypedChoiceField(
        label=_("Priority"), choices=Priority.choices, coerce=int, initial=Priority.NORMAL
    )
    tags = forms.CharField(label=_("Tags"), required=False, max_length=500, help_text=_("Separated by commas"))

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["assignee"].label_from_instance = lambda user: user.display_name  # type: ignore[attr-defined]

    def clean(self) -> dict[str, Any]:
        data = super().clean()
        customer_id = data.get("customer_id")
        if customer_id:
            customer = Customer.objects.filter(pk=customer_id, merged_into__isnull=True).first()
            if customer is None:
                self.add_error(None, _("That customer no longer exists; find them again."))
            data["customer"] = customer
        elif not (data.get("email") or data.get("phone")):
            self.add_error("email", _("Pick a customer, or give a new customer's email address or phone number."))
        try:  # the custom fields' inputs (fields/_inputs.html), every required one filled
            posted = custom_field_forms.posted_values("ticket", self.data)
            data["custom_fields"] = custom_fields.clean_values("ticket", posted, creating=True)
        except InvalidInput as err:
            self.add_error(None, err.message)
        return data

    def opening(self) -> Opening:
        data = self.cleaned_data
        customer = data.get("customer")
        sender = (
            sender_of(customer)
            if customer is not None
            else Sender(name=data["name"], email=data["email"], phone=data["phone"])
        )
        return Opening(
            sender=sender,
            subject=data["subject"],
            body_text=data["body"],
            priority=data["priority"],
            group=data["group"],
            assignee=data["assignee"],
            tags=[tag for tag in (part.strip() for part in data["tags"].split(",")) if tag],
            custom_fields=data.get("custom_fields") or {},
        )


def _open(agent: User, form: NewTicketForm) -> Ticket:
    data = form.cleaned_data
    if data["kind"] == Kind.EMAIL:
        return write_to_customer(agent, form.opening())
    channel, kind = INBOUND[data["kind"]]
    metadata: dict[str, Any] = {"origin": data["kind"]}
    if data["kind"] == Kind.PHONE_CALL and data["duration"] is not None:
        metadata["duration_seconds"] = data["duration"] * 60
    return record_for_customer(
        agent,
        form.opening(),
        channel=channel,
        kind=kind,
        metadata=metadata,
        acknowledge=data["acknowledge"] or data["kind"] == Kind.LETTER,
        notes=data["notes"] if data["kind"] == Kind.PHONE_CALL else "",
    )


# Fields a service's refusal names, mapped to the form's.
ERROR_FIELDS = {"customer": "email", "sender": "email", "body": "body", "assignee": "assignee"}


@agent_view
def new_ticket(request: AgentRequest) -> HttpResponse:
    """The form; its search button posts `search` to look customers up, keeping what was typed."""
    if not request.user.can_reply:
        raise Forbidden("Light agents can add internal notes only")
    status = 200
    if request.method == "POST" and "search" in request.POST:  # find a customer, keep the rest
        form = NewTicketForm(initial=request.POST.dict())
        query = request.POST.get("q", "")
    elif request.method == "POST":
        form = NewTicketForm(request.POST)
        if form.is_valid():
            try:
                ticket = _open(request.user, form)
            except InvalidInput as err:
                field = ERROR_FIELDS.get(str(err.details.get("field", "")))
                form.add_error(field, err.message)
            else:
                return redirect("ticket", ticket.number)
        status = 422
        query = request.POST.get("q", "")
    else:
        form = NewTicketForm(initial={**request.GET.dict()})
        query = request.GET.get("q", "")
    chosen_id = form["customer_id"].value()
    chosen = (
        Customer.objects.prefetch_related("identities").filter(pk=chosen_id).first()
        if str(chosen_id or "").isdigit()
        else None
    )
    context = {"form": form, "query": query, "matches": find_customers(query) if query else [], "chosen": chosen}
    return render(request, "tickets/new_ticket.html", context, status=status)
