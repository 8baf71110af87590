"""The inbox's forms: the filter bar (GET parameters)."""

from __future__ import annotations

from typing import Any

from django import forms
from django.utils.translation import gettext_lazy as _

from sportello.accounts.models import Group
from sportello.core import lookups
from sportello.tickets.forms import cached_choices, use_cached_choices
from sportello.tickets.models import Channel, Priority, Status
from sportello.tickets.queries import SLA_FILTERS, SORTS, VIEWS, TicketFilter

ALL_VIEW = "all"  # the inbox without a built-in view: every ticket the filters allow


class InboxForm(forms.Form):
    """The inbox's GET parameters. Invalid values are reported and left out of the filter."""

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
    tag = forms.CharField(label=_("Tag"), required=False, max_length=50)
    sla = forms.ChoiceField(
        label=_("SLA"), choices=[("", _("Any")), *((k, _(v)) for k, v in SLA_FILTERS.items())], required=False
    )
    sort = forms.ChoiceField(
        label=_("Sort"),
        choices=[("newest", _("Newest first")), ("oldest", _("Oldest first")), ("priority", _("Priority"))],
        required=False,
    )
    cursor = forms.CharField(required=False, widget=forms.HiddenInput)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        stamp = lookups.read_stamp()
        use_cached_choices(self, stamp=stamp)  # status, group
        choices = [("", _("Anyone")), ("0", _("Unassigned")), *cached_choices("assignee", stamp)]
        self.fields["assignee"].choices = choices  # type: ignore[attr-defined]

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
            tag=[data["tag"].strip()] if data.get("tag", "").strip() else [],
            sla=data.get("sla") or None,
        )
