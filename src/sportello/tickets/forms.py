"""Forms of the agent UI: they parse what an agent posts into the values the services take."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from django import forms
from django.core.files.uploadedfile import UploadedFile
from django.core.validators import validate_email
from django.db import models
from django.db.models import QuerySet
from django.utils.translation import gettext_lazy
from django.utils.translation import gettext_lazy as _

from sportello.accounts.models import Group, Role, User
from sportello.core import lookups
from sportello.fields import forms as custom_field_forms
from sportello.tickets.attachments import AttachmentIn
from sportello.tickets.models import Category, Priority, Status, Ticket
from sportello.tickets.services import TicketChanges


def assignable_agents() -> QuerySet[User]:
    return User.objects.filter(is_active=True, role__in=[Role.AGENT, Role.ADMIN]).order_by("first_name", "username")


# --- Dropdown choices kept per process -----------------------------------------------------------------
# A ticket page showed six dropdowns that each read their table (statuses, groups, agents, categories),
# the same rows on every view. They are kept per process under the lookups' version (core/lookups.py),
# which every save or delete of a status, group, category or assignable agent changes in its own
# transaction: the next page after such a change reads them again. Choices are (pk as text, label).

Choices = list[tuple[str, str]]


def _status_choices() -> Choices:
    # Status names are stored in English; the label is translated when the option is rendered.
    rows = Status.objects.filter(active=True).values_list("pk", "name")
    return [(str(pk), gettext_lazy(name)) for pk, name in rows]  # type: ignore[misc]


def _group_choices() -> Choices:
    return [(str(pk), name) for pk, name in Group.objects.values_list("pk", "name")]


def _category_choices() -> Choices:
    return [(str(pk), name) for pk, name in Category.objects.filter(active=True).values_list("pk", "name")]


def _kept_choice(name: str, value: Any) -> Choices:
    """A deactivated status or category that a ticket still has: its own option, so the dropdown
    shows it (and saving another field does not change it). One query, on those tickets only."""
    if name not in ("status", "category") or value in (None, ""):
        return []
    rows = Status.objects if name == "status" else Category.objects
    row = rows.filter(pk=str(value)).values_list("pk", "name").first()
    if row is None:
        return []
    return [(str(row[0]), gettext_lazy(row[1]) if name == "status" else row[1])]  # type: ignore[list-item]


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
        (form, field, name)
        for form in forms_
        for name, field in form.fields.items()
        if name in CACHED_CHOICES and isinstance(field, forms.ModelChoiceField)
    ]
    if not targets:
        return
    if stamp is None:
        stamp = lookups.read_stamp()
    for form in forms_:  # the page's other near-static reads (custom fields' inputs) use it too
        form.lookups_stamp = stamp  # type: ignore[attr-defined]
    for form, field, name in targets:
        empty: Choices = [] if field.empty_label is None else [("", field.empty_label)]
        choices = cached_choices(name, stamp)
        value = form.data.get(name) if form.is_bound else form.initial.get(name)
        if value not in (None, "") and str(value) not in {pk for pk, _label in choices}:
            choices = [*choices, *_kept_choice(name, value)]
        field.choices = [*empty, *choices]


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


class ComposeMode(models.TextChoices):
    REPLY = "reply", _("Reply")
    NOTE = "note", _("Internal note")
    FORWARD = "forward", _("Forward")


class AddressesField(forms.CharField):
    """Mail addresses separated by commas or semicolons; cleans to a list (possibly empty)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("required", False)
        kwargs.setdefault("max_length", 2000)
        super().__init__(*args, **kwargs)

    def clean(self, value: Any) -> list[str]:  # type: ignore[override]
        text = super().clean(value) or ""
        addresses = [part.strip() for part in re.split(r"[,;\s]+", text) if part.strip()]
        for address in addresses:
            try:
                validate_email(address)
            except forms.ValidationError as err:
                raise forms.ValidationError(
                    _("“%(address)s” is not a mail address."), params={"address": address}
                ) from err
        if len(addresses) > 50:
            raise forms.ValidationError(_("At most 50 addresses."))
        return list(dict.fromkeys(address.lower() for address in addresses))


class ComposeForm(PrefixedIds, forms.Form):
    """The ticket page's one composer: a reply, an internal note or a forward, with a macro's
    field changes (previewed) applied on send."""

    id_prefix = "reply"
    mode = forms.ChoiceField(choices=ComposeMode.choices, initial=ComposeMode.REPLY, required=False)
    to = AddressesField(label=_("To"))
    cc = AddressesField(label=_("Cc"))
    bcc = AddressesField(label=_("Bcc"))
    body = forms.CharField(label=_("Message"), widget=forms.Textarea(attrs={"rows": 6}), required=False)
    status = forms.ModelChoiceField(
        label=_("Status after reply"),
        queryset=Status.objects.all(),
        required=False,
        empty_label=_("Leave as it is"),
    )
    attachments = MultipleFileField(label=_("Attachments"))
    time_spent = forms.IntegerField(label=_("Time spent (minutes)"), required=False, min_value=0, max_value=24 * 60)
    macro = forms.IntegerField(required=False, widget=forms.HiddenInput)
    version = forms.IntegerField(widget=forms.HiddenInput, required=False)

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        mode = data.get("mode") or ComposeMode.REPLY
        data["mode"] = mode
        if mode == ComposeMode.FORWARD and not data.get("to"):
            self.add_error("to", _("Write the address to forward the ticket to."))
        if mode == ComposeMode.REPLY and data.get("version") is None:
            self.add_error(None, _("The form was incomplete; reload the page and try again."))
        return data


# The same form, under its older name (the reply form was the composer's first mode).
ReplyForm = ComposeForm


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

    def seen(self) -> dict[str, str] | None:
        """The values the agent saw of the fields they changed, when the page sent them (the
        properties panel does: each field is then checked on its own, not the whole version)."""
        posted = {name: self.data.get(f"seen_{name}") for name in PROPERTY_FIELDS}
        custom = custom_field_forms.seen_values(self.data, self.custom_changes())
        if all(value is None for value in posted.values()) and not custom:
            return None
        seen = {name: str(value) for name, value in posted.items() if value is not None and name in self.changed()}
        return {**seen, **custom}

    def custom_changes(self) -> dict[str, Any]:
        """The custom fields (by key) whose posted value differs from what the agent saw; raw."""
        if not hasattr(self, "_custom_changes"):
            self._custom_changes = custom_field_forms.changed_values("ticket", self.data)
        return self._custom_changes

    def changed(self) -> set[str]:
        """The fields whose posted value differs from the value the agent saw (all without `seen_`)."""
        names = set()
        for name in PROPERTY_FIELDS:
            seen = self.data.get(f"seen_{name}")
            value = self.data.get(name, "")
            if name == "tags":
                same = seen is not None and _tag_set(seen) == _tag_set(value)
            else:
                same = seen is not None and str(seen) == str(value)
            if not same and name in self.data:
                names.add(name)
        return names

    def changes(self) -> TicketChanges:
        data = self.cleaned_data
        only = self.changed()
        return TicketChanges(
            status=data["status"] if "status" in only else None,
            priority=data["priority"] if "priority" in only else None,
            group=data["group"] if "group" in only else None,
            clear_group="group" in only and data["group"] is None,
            assignee=data["assignee"] if "assignee" in only else None,
            clear_assignee="assignee" in only and data["assignee"] is None,
            category=data["category"] if "category" in only else None,
            clear_category="category" in only and data["category"] is None,
            tags=[name for name in data["tags"].split(",") if name.strip()] if "tags" in only else None,
            custom_fields=self.custom_changes() or None,
        )


# The fields of the properties panel, each saved as it changes.
PROPERTY_FIELDS = ("status", "priority", "group", "assignee", "category", "tags")

# A field's name in the agent's words: conflict notices, live notices and history use these.
FIELD_LABELS = {
    "subject": _("subject"),
    "status": _("status"),
    "priority": _("priority"),
    "group": _("group"),
    "assignee": _("assignee"),
    "category": _("category"),
    "tags": _("tags"),
    "custom_fields": _("custom fields"),
    "merge": _("merge"),
    "merged_into": _("merged into"),
    "split": _("split"),
    "split_from": _("split from"),
    "entry_moved": _("message moved"),
    "entry_moved_in": _("message moved in"),
    "delivery": _("delivery"),
    "escalation": _("escalation"),
    "acknowledgement": _("acknowledgement"),
    "notification": _("notification"),
    "csat": _("satisfaction survey"),
    "transcript": _("chat transcript"),
    "entries": _("messages"),
}


def _tag_set(value: str) -> set[str]:
    return {name.strip().lower() for name in str(value).split(",") if name.strip()}


class MergeForm(PrefixedIds, forms.Form):
    id_prefix = "merge"
    version = forms.IntegerField(widget=forms.HiddenInput)
    target = forms.CharField(label=_("Merge into ticket number"), max_length=20)

    def clean_target(self) -> int:
        value = self.cleaned_data["target"].strip().lstrip("#")
        if not value.isdigit():
            raise forms.ValidationError(_("Write a ticket number, like 10042."))
        return int(value)


class LinkForm(PrefixedIds, forms.Form):
    """Link this ticket to another one, by its number."""

    id_prefix = "link"
    target = forms.CharField(label=_("Ticket number"), max_length=20)
    kind = forms.ChoiceField(
        label=_("Link as"),
        choices=[
            ("related", _("Related ticket")),
            ("child", _("Child of this ticket")),
            ("parent", _("Parent of this ticket")),
        ],
    )
    clean_target = MergeForm.clean_target


class MoveEntryForm(forms.Form):
    """Move one mail to another ticket; `version` is the ticket the agent is looking at."""

    version = forms.IntegerField(widget=forms.HiddenInput)
    target = forms.CharField(label=_("Move to ticket number"), max_length=20)
    clean_target = MergeForm.clean_target


class SplitEntryForm(forms.Form):
    version = forms.IntegerField(widget=forms.HiddenInput)
