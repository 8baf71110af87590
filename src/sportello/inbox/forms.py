"""The inbox's forms: the filter bar (GET parameters), bulk changes and saving a view."""

from __future__ import annotations

import re
from datetime import date, datetime, time, timedelta
from typing import Any

from django import forms
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from sportello.accounts.models import Group
from sportello.core import lookups
from sportello.customers.models import Identity, IdentityKind, Organization
from sportello.fields import forms as custom_field_forms
from sportello.inbox.models import Sharing
from sportello.inbox.services import BulkChanges
from sportello.tickets.forms import cached_choices, use_cached_choices
from sportello.tickets.models import Channel, Priority, Status
from sportello.tickets.queries import SLA_FILTERS, SORTS, VIEWS, TicketFilter

TAG_SPLIT = re.compile(r"[,\s]+")

ALL_VIEW = "all"  # the inbox without a built-in view: every ticket the filters allow


class DateInput(forms.DateInput):
    input_type = "date"


class InboxForm(forms.Form):
    """The inbox's GET parameters. Invalid values are reported and left out of the filter.

    The first fields make the filter bar; customer, organization and the dates sit under "More
    filters". `sort` is set by the columns' headers, `saved` names the saved view being shown.
    """

    MORE = ("customer", "organization", "created_from", "created_to", "updated_from", "updated_to")

    view = forms.ChoiceField(
        choices=[(v.slug, v.title) for v in VIEWS] + [(ALL_VIEW, _("All tickets"))], required=False
    )
    status = forms.ModelChoiceField(
        label=_("Status"), queryset=Status.objects.all(), required=False, empty_label=_("Any")
    )
    group = forms.ModelChoiceField(label=_("Group"), queryset=Group.objects.all(), required=False, empty_label=_("Any"))
    assignee = forms.TypedChoiceField(label=_("Assignee"), coerce=int, required=False, empty_value=None)
    priority = forms.TypedChoiceField(
        label=_("Priority"), choices=[("", _("Any")), *Priority.choices], coerce=int, required=False, empty_value=None
    )
    channel = forms.ChoiceField(label=_("Channel"), choices=[("", _("Any")), *Channel.choices], required=False)
    tag = forms.CharField(label=_("Tags"), required=False, max_length=200, help_text=_("All of these tags"))
    sla = forms.ChoiceField(
        label=_("SLA"), choices=[("", _("Any")), *((k, _(v)) for k, v in SLA_FILTERS.items())], required=False
    )
    customer = forms.CharField(label=_("Customer"), required=False, max_length=254, help_text=_("Address or id"))
    organization = forms.CharField(label=_("Organization"), required=False, max_length=200)
    created_from = forms.DateField(label=_("Created from"), required=False, widget=DateInput)
    created_to = forms.DateField(label=_("Created until"), required=False, widget=DateInput)
    updated_from = forms.DateField(label=_("Updated from"), required=False, widget=DateInput)
    updated_to = forms.DateField(label=_("Updated until"), required=False, widget=DateInput)
    sort = forms.ChoiceField(choices=[(name, name) for name in SORTS], required=False, widget=forms.HiddenInput)
    saved = forms.IntegerField(required=False, min_value=1, widget=forms.HiddenInput)
    cursor = forms.CharField(required=False, widget=forms.HiddenInput)

    def __init__(self, *args: Any, stamp: int | None = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.stamp = stamp = lookups.read_stamp() if stamp is None else stamp
        use_cached_choices(self, stamp=stamp)  # status, group
        choices = [("", _("Anyone")), ("0", _("Unassigned")), *cached_choices("assignee", stamp)]
        self.fields["assignee"].choices = choices  # type: ignore[attr-defined]
        # The tickets' custom fields, under "More filters" (fields/forms.py; kept per process).
        self.custom = custom_field_forms.add_filter_fields(self, stamp=stamp)

    def main_fields(self) -> list[forms.BoundField]:
        hidden = {"view", "cursor", "sort", "saved", *self.MORE, *self.custom}
        return [field for field in self if field.name not in hidden]

    def more_fields(self) -> list[forms.BoundField]:
        return [self[name] for name in (*self.MORE, *self.custom)]

    def more_used(self) -> bool:
        return any(self.data.get(name) for name in (*self.MORE, *self.custom))

    def clean_tag(self) -> list[str]:
        return [name.lower() for name in TAG_SPLIT.split(self.cleaned_data.get("tag") or "") if name][:10]

    def clean_customer(self) -> int | None:
        value = (self.cleaned_data.get("customer") or "").strip()
        if not value:
            return None
        if value.isdigit():
            return int(value)
        found = (
            Identity.objects.filter(kind=IdentityKind.EMAIL, value=value.lower())
            .values_list("customer_id", flat=True)
            .first()
        )
        if found is None:
            raise forms.ValidationError(_("No customer with this address."))
        return int(found)

    def clean_organization(self) -> int | None:
        value = (self.cleaned_data.get("organization") or "").strip()
        if not value:
            return None
        if value.isdigit():
            return int(value)
        found = Organization.objects.filter(name__iexact=value).values_list("pk", flat=True).first()
        if found is None:
            raise forms.ValidationError(_("No organization of this name."))
        return int(found)

    def view_slug(self) -> str:
        return self.cleaned_data.get("view") or VIEWS[0].slug

    def sort_order(self) -> str:
        sort = self.cleaned_data.get("sort") or "newest"
        return sort if sort in SORTS else "newest"

    def ticket_filter(self) -> TicketFilter:
        data = self.cleaned_data
        view = self.view_slug()
        return TicketFilter(
            view=None if view == ALL_VIEW else view,
            status=[data["status"].pk] if data.get("status") else [],
            group=[data["group"].pk] if data.get("group") else [],
            assignee=[data["assignee"]] if data.get("assignee") is not None else [],
            priority=[data["priority"]] if data.get("priority") else [],
            channel=[data["channel"]] if data.get("channel") else [],
            tag=data.get("tag") or [],
            customer=data.get("customer"),
            organization=data.get("organization"),
            sla=data.get("sla") or None,
            created_from=_day_start(data.get("created_from")),
            created_until=_day_start(data.get("created_to"), 1),
            updated_from=_day_start(data.get("updated_from")),
            updated_until=_day_start(data.get("updated_to"), 1),
            custom={key: str(data[name]) for name, key in self.custom.items() if data.get(name) not in (None, "")},
        )

    def filter_params(self) -> str:
        """The query string of the filters (no page, no saved view): what a saved view keeps."""
        params = self.data.copy() if hasattr(self.data, "copy") else dict(self.data)
        for name in ("cursor", "saved"):
            params.pop(name, None)
        return str(params.urlencode()) if hasattr(params, "urlencode") else ""


def _day_start(day: date | None, days_after: int = 0) -> datetime | None:
    """The start of `day` (plus `days_after`) in the agent's time zone, which agent_view activated."""
    if day is None:
        return None
    return timezone.make_aware(datetime.combine(day + timedelta(days=days_after), time.min))


def parse_targets(value: str) -> list[tuple[int, int | None]]:
    """ "10001:3,10002" → [(10001, 3), (10002, None)]: ticket numbers, each with the version the
    agent saw when there is one."""
    targets: list[tuple[int, int | None]] = []
    for item in value.split(","):
        item = item.strip()
        if not item:
            continue
        number, _sep, version = item.partition(":")
        if not number.isdigit() or (version and not version.isdigit()) or len(item) > 30:
            raise forms.ValidationError(_("Not a list of ticket numbers."))
        targets.append((int(number), int(version) if version else None))
    return targets


class BulkForm(forms.Form):
    """One bulk action from the inbox: the chosen tickets (or every one a filter matches) and what
    to do to them."""

    tickets = forms.CharField(required=False, widget=forms.HiddenInput)
    match = forms.CharField(required=False, max_length=4000, widget=forms.HiddenInput)
    action = forms.ChoiceField(
        choices=[("update", _("Apply")), ("merge", _("Merge")), ("spam", _("Spam")), ("delete", _("Delete"))],
        widget=forms.HiddenInput,
    )
    status = forms.ModelChoiceField(
        label=_("Status"), queryset=Status.objects.all(), required=False, empty_label=_("Status…")
    )
    assignee = forms.ChoiceField(label=_("Assignee"), required=False)
    group = forms.ChoiceField(label=_("Group"), required=False)
    priority = forms.TypedChoiceField(
        label=_("Priority"),
        choices=[("", _("Priority…")), *Priority.choices],
        coerce=int,
        required=False,
        empty_value=None,
    )
    add_tags = forms.CharField(label=_("Add tags"), required=False, max_length=200)
    remove_tags = forms.CharField(label=_("Remove tags"), required=False, max_length=200)
    merge_into = forms.IntegerField(label=_("Merge into #"), required=False, min_value=1)

    def __init__(self, *args: Any, stamp: int | None = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        stamp = lookups.read_stamp() if stamp is None else stamp
        use_cached_choices(self, stamp=stamp)  # status
        self.fields["assignee"].choices = [  # type: ignore[attr-defined]
            ("", _("Assignee…")),
            ("0", _("Unassigned")),
            *cached_choices("assignee", stamp),
        ]
        self.fields["group"].choices = [  # type: ignore[attr-defined]
            ("", _("Group…")),
            ("0", _("No group")),
            *cached_choices("group", stamp),
        ]
        for name in ("status", "assignee", "group", "priority"):  # shown without a <label>, in one line
            self.fields[name].widget.attrs["aria-label"] = str(self.fields[name].label)

    def clean_tickets(self) -> list[tuple[int, int | None]]:
        return parse_targets(self.cleaned_data.get("tickets") or "")

    def changes(self) -> BulkChanges:
        data = self.cleaned_data
        action = data["action"]
        if action == "delete":
            return BulkChanges(delete=True)
        if action == "merge":
            return BulkChanges(merge_into=data.get("merge_into") or 0)
        if action == "spam":
            return BulkChanges(spam=True)
        assignee, group = data.get("assignee") or "", data.get("group") or ""
        return BulkChanges(
            status=data.get("status"),
            priority=data.get("priority"),
            group=Group.objects.filter(pk=int(group)).first() if group not in ("", "0") else None,
            clear_group=group == "0",
            assignee=_agent(assignee) if assignee not in ("", "0") else None,
            clear_assignee=assignee == "0",
            add_tags=[t for t in TAG_SPLIT.split(data.get("add_tags") or "") if t],
            remove_tags=[t for t in TAG_SPLIT.split(data.get("remove_tags") or "") if t],
        )


def _agent(pk: str) -> Any:
    from sportello.accounts.models import User

    return User.objects.filter(pk=int(pk)).first()


class SaveViewForm(forms.Form):
    name = forms.CharField(label=_("Name"), max_length=80)
    sharing = forms.ChoiceField(
        label=_("Shared with"),
        choices=[
            (Sharing.PERSONAL, _("Only me")),
            (Sharing.GROUP, _("A group")),
            (Sharing.EVERYONE, _("Every agent")),
        ],
        initial=Sharing.PERSONAL,
    )
    group = forms.ModelChoiceField(
        label=_("Group"), queryset=Group.objects.all(), required=False, empty_label=_("Choose a group")
    )
    params = forms.CharField(required=False, max_length=2000, widget=forms.HiddenInput)

    def __init__(self, *args: Any, stamp: int | None = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        use_cached_choices(self, stamp=stamp)
