"""Forms of the agent UI: they parse what an agent posts into the values the services take."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django import forms
from django.core.files.uploadedfile import UploadedFile
from django.db.models import QuerySet
from django.utils.translation import gettext_lazy as _

from sportello.accounts.models import Group, Role, User
from sportello.core import lookups
from sportello.tickets.attachments import AttachmentIn
from sportello.tickets.models import Category, Channel, Priority, Status, Ticket
from sportello.tickets.queries import SLA_FILTERS, SORTS, VIEWS, TicketFilter
from sportello.tickets.services import TicketChanges

ALL_VIEW = "all"  # the inbox without a built-in view: every ticket the filters allow


def assignable_agents() -> QuerySet[User]:
    return User.objects.filter(is_active=True, role__in=[Role.AGENT, Role.ADMIN]).order_by("first_name", "username")


# --- Dropdown choices kept per process -----------------------------------------------------------------
# A ticket page showed six dropdowns that each read their table (statuses, groups, agents, categories),
# the same rows on every view. They are kept per process under the lookups' version (core/lookups.py),
# which every save or delete of a status, group, category or assignable agent changes in its own
# transaction: the next page after such a change reads them again. Choices are (pk as text, label).

Choices = list[tuple[str, str]]


def _status_choices() -> Choices:
    return [(str(pk), name) for pk, name in Status.objects.values_list("pk", "name")]


def _group_choices() -> Choices:
    return [(str(pk), name) for pk, name in Group.objects.values_list("pk", "name")]


def _category_choices() -> Choices:
    return [(str(pk), name) for pk, name in Category.objects.values_list("pk", "name")]


def _agent_choices() -> Choices:
    agents = assignable_agents().only("pk", "username", "first_name", "last_name")
    return [(str(user.pk), user.display_name) for user in agents]


# A form field of this name that picks a row takes its choices from the loader.
CACHED_CHOICES: dict[str, tuple[str, Callable[[], Choices]]] = {
    "status": ("choices:statuses", _status_choices),
    "group": ("choices:groups", _group_choices),
    "category": ("choices:categories", _category_choices),
    "assignee": ("choices:agents", _agent_choices),
}


def cached_choices(name: str, stamp: int) -> Choices:
    """The choices of the field `name` (a key of CACHED_CHOICES) at the lookups' version `stamp`."""
    key, load = CACHED_CHOICES[name]
    return lookups.cached(key, stamp, load)


def use_cached_choices(*forms_: forms.Form, stamp: int | None = None) -> None:
    """Give the forms' row dropdowns the choices kept per process: one statement (the version) in
    all instead of one per dropdown. Cleaning a posted value still reads its row."""
    targets = [
        (field, name)
        for form in forms_
        for name, field in form.fields.items()
        if name in CACHED_CHOICES and isinstance(field, forms.ModelChoiceField)
    ]
    if not targets:
        return
    if stamp is None:
        stamp = lookups.read_stamp()
    for field, name in targets:
        empty: Choices = [] if field.empty_label is None else [("", field.empty_label)]
        field.choices = [*empty, *cached_choices(name, stamp)]


class AgentChoiceField(forms.ModelChoiceField):
    def label_from_instance(self, obj: Any) -> str:
        return obj.display_name


class MultipleFileInput(forms.ClearableFileInput):
    allow_multiple_selected = True


class MultipleFileField(forms.FileField):
    """Several files in one input; cleans to a (possibly empty) list."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("widget", MultipleFileInput())
        kwargs.setdefault("required", False)
        super().__init__(*args, **kwargs)

    def clean(self, data: Any, initial: Any = None) -> list[UploadedFile]:
        items = data if isinstance(data, list | tuple) else [data]
        return [super(MultipleFileField, self).clean(item, initial) for item in items if item]


class PrefixedIds:
    """Several forms share a page and field names: give each form's element ids its own prefix."""

    id_prefix = ""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("auto_id", f"{self.id_prefix}_%s")
        super().__init__(*args, **kwargs)


def attachments_in(files: list[UploadedFile]) -> list[AttachmentIn]:
    return [AttachmentIn(filename=f.name or "attachment", content=f, content_type=f.content_type or "") for f in files]


class ReplyForm(PrefixedIds, forms.Form):
    id_prefix = "reply"
    body = forms.CharField(label=_("Reply to the customer"), widget=forms.Textarea(attrs={"rows": 6}), required=False)
    status = forms.ModelChoiceField(
        label=_("Status after reply"),
        queryset=Status.objects.all(),
        required=False,
        empty_label=_("Leave as it is"),
    )
    attachments = MultipleFileField(label=_("Attachments"))
    version = forms.IntegerField(widget=forms.HiddenInput)


class NoteForm(PrefixedIds, forms.Form):
    id_prefix = "note"
    body = forms.CharField(label=_("Internal note"), widget=forms.Textarea(attrs={"rows": 4}), required=False)
    attachments = MultipleFileField(label=_("Attachments"))


class UpdateForm(PrefixedIds, forms.Form):
    """The ticket's fields; an empty group, assignee or category clears it."""

    id_prefix = "update"
    version = forms.IntegerField(widget=forms.HiddenInput)
    status = forms.ModelChoiceField(label=_("Status"), queryset=Status.objects.all(), empty_label=None)
    priority = forms.TypedChoiceField(label=_("Priority"), choices=Priority.choices, coerce=int)
    group = forms.ModelChoiceField(
        label=_("Group"), queryset=Group.objects.all(), required=False, empty_label=_("— no group —")
    )
    assignee = AgentChoiceField(
        label=_("Assignee"), queryset=assignable_agents(), required=False, empty_label=_("— unassigned —")
    )
    category = forms.ModelChoiceField(
        label=_("Category"), queryset=Category.objects.all(), required=False, empty_label=_("— none —")
    )
    tags = forms.CharField(label=_("Tags (comma separated)"), required=False)

    @classmethod
    def for_ticket(cls, ticket: Ticket, tag_names: list[str]) -> UpdateForm:
        return cls(
            initial={
                "version": ticket.version,
                "status": ticket.status_id,
                "priority": ticket.priority,
                "group": ticket.group_id,
                "assignee": ticket.assignee_id,
                "category": ticket.category_id,
                "tags": ", ".join(tag_names),
            }
        )

    def changes(self) -> TicketChanges:
        data = self.cleaned_data
        return TicketChanges(
            status=data["status"],
            priority=data["priority"],
            group=data["group"],
            clear_group=data["group"] is None,
            assignee=data["assignee"],
            clear_assignee=data["assignee"] is None,
            category=data["category"],
            clear_category=data["category"] is None,
            tags=[name for name in data["tags"].split(",") if name.strip()],
        )


class MergeForm(PrefixedIds, forms.Form):
    id_prefix = "merge"
    version = forms.IntegerField(widget=forms.HiddenInput)
    target = forms.CharField(label=_("Merge into ticket number"), max_length=20)

    def clean_target(self) -> int:
        value = self.cleaned_data["target"].strip().lstrip("#")
        if not value.isdigit():
            raise forms.ValidationError(_("Write a ticket number, like 10042."))
        return int(value)


class MoveEntryForm(forms.Form):
    """Move one mail to another ticket; `version` is the ticket the agent is looking at."""

    version = forms.IntegerField(widget=forms.HiddenInput)
    target = forms.CharField(label=_("Move to ticket number"), max_length=20)
    clean_target = MergeForm.clean_target


class SplitEntryForm(forms.Form):
    version = forms.IntegerField(widget=forms.HiddenInput)


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
