"""Custom fields in the agent UI's forms: the inputs each page shows and what a post means.

Every page (the ticket's properties, the new-ticket page, the customer and organization forms)
renders the inputs with `{% custom_field_inputs %}` (templatetags/custom_fields.py, template
fields/_inputs.html) and reads the post with `posted_values`. Inputs are named `cf_<key>`. A
checkbox and a multiple choice send a hidden empty value first, so that unticking the box or
unselecting every option is posted too (QueryDict.getlist keeps both; the last one wins).
"""

from __future__ import annotations

from typing import Any

from django import forms
from django.http import QueryDict
from django.utils.translation import gettext_lazy as _

from sportello.core.errors import InvalidInput
from sportello.fields.models import CustomField, FieldTarget, FieldType
from sportello.fields.services import FieldDef, as_dict, clean_value, definitions, form_value

MAX_CHOICES = 200


def posted_raw(defn: FieldDef, data: QueryDict) -> Any:
    """What the form sent for `defn` (a string, or a list for a multiple choice)."""
    items = data.getlist(defn.form_name)
    if defn.type == FieldType.MULTICHOICE:
        return [item for item in items if item]
    return items[-1] if items else ""


def posted_values(target: str, data: QueryDict, *, stamp: int | None = None) -> dict[str, Any]:
    """The raw values of the fields the post carries, by key (clean them with clean_values)."""
    return {defn.key: posted_raw(defn, data) for defn in definitions(target, stamp=stamp) if defn.form_name in data}


def changed_values(target: str, data: QueryDict, *, stamp: int | None = None) -> dict[str, Any]:
    """The posted values that differ from what the agent saw (`seen_cf_<key>`); all of them when
    the post says nothing of what was seen. A value that does not clean counts as changed, so
    that the service names the mistake."""
    changed: dict[str, Any] = {}
    for defn in definitions(target, stamp=stamp):
        if defn.form_name not in data:
            continue
        raw = posted_raw(defn, data)
        seen = data.get(f"seen_{defn.form_name}")
        if seen is not None:
            try:
                value = clean_value(defn, raw)
                if form_value(value) == seen or (value is False and seen == ""):  # unticked, never set
                    continue
            except InvalidInput:
                pass
        changed[defn.key] = raw
    return changed


def seen_values(data: QueryDict, keys: Any) -> dict[str, str]:
    """The `seen_cf_<key>` values posted for `keys`, as update_ticket's `seen` takes them."""
    seen: dict[str, str] = {}
    for key in keys:
        value = data.get(f"seen_cf_{key}")  # the last one posted, as data[…] gives it
        if value is not None:
            seen[f"cf_{key}"] = value
    return seen


def inputs(
    target: str,
    values: dict[str, Any] | None,
    *,
    data: QueryDict | None = None,
    seen: bool = False,
    stamp: int | None = None,
) -> list[dict[str, Any]]:
    """One row per active field for fields/_inputs.html: the definition, the value to show (what
    was posted, after a refused post), the value the agent sees now (`seen`, for the ticket's
    per-field conflict check)."""
    rows = []
    for defn in definitions(target, stamp=stamp):
        stored = as_dict(values).get(defn.key)
        shown = posted_raw(defn, data) if data is not None and defn.form_name in data else stored
        if defn.type == FieldType.MULTICHOICE:
            chosen = set(shown or []) if isinstance(shown, list) else {shown}
            value: Any = [(choice, choice in chosen) for choice in defn.choices]
        elif defn.type == FieldType.CHECKBOX:
            value = shown is True or (isinstance(shown, str) and shown.lower() in ("true", "on", "1", "yes"))
        else:
            value = "" if shown is None else str(shown)
        rows.append({"field": defn, "value": value, "seen": form_value(stored) if seen else None})
    return rows


# --- The admins' settings page ------------------------------------------------------------------------


class CustomFieldForm(forms.ModelForm):
    """A definition as admins edit it: choices one per line, never JSON."""

    choices_text = forms.CharField(
        label=_("Choices"),
        required=False,
        widget=forms.Textarea(attrs={"rows": 5}),
        help_text=_("For a choice or multiple-choice field: one per line."),
    )

    class Meta:
        model = CustomField
        fields = ["target", "label", "key", "type", "required", "help_text", "position", "active"]

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["key"].required = False
        self.fields["key"].help_text = _("Used in the API and in filters; made from the label when left empty.")
        if self.instance.pk:
            # Stored values are keyed by it, and so are saved views and API clients.
            self.fields["key"].disabled = True
            self.fields["target"].disabled = True
            self.fields["type"].disabled = True
            self.initial["choices_text"] = "\n".join(self.instance.choices or [])

    def clean_key(self) -> str:
        from django.utils.text import slugify

        key = self.cleaned_data.get("key") or slugify(self.data.get("label", "")).replace("-", "_")
        key = "_".join(part for part in key.split("_") if part)[:40]
        if key and not key[0].isalpha():
            key = f"f_{key}"[:40]
        return key

    def clean_choices_text(self) -> list[str]:
        lines = [line.strip() for line in self.cleaned_data.get("choices_text", "").splitlines()]
        choices = list(dict.fromkeys(line for line in lines if line))
        if len(choices) > MAX_CHOICES:
            raise forms.ValidationError(_("At most %(count)d choices.") % {"count": MAX_CHOICES})
        if any(len(choice) > 100 for choice in choices):
            raise forms.ValidationError(_("A choice has at most 100 characters."))
        return choices

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        kind = data.get("type") or self.instance.type
        choices = data.get("choices_text") or []
        if kind in (FieldType.CHOICE, FieldType.MULTICHOICE) and not choices:
            self.add_error("choices_text", _("Write the choices, one per line."))
        target = data.get("target") or self.instance.target
        key = data.get("key") or self.instance.key
        if key and target and CustomField.objects.filter(target=target, key=key).exclude(pk=self.instance.pk).exists():
            self.add_error("key", _("Another field of these objects has this key."))
        return data

    def save(self, commit: bool = True) -> CustomField:
        field = super().save(commit=False)
        kind = field.type
        field.choices = self.cleaned_data["choices_text"] if kind in (FieldType.CHOICE, FieldType.MULTICHOICE) else []
        if commit:
            field.save()
        return field


TARGET_CHOICES = FieldTarget.choices


def custom_field_labels(keys: Any, target: str = "ticket") -> list[str]:
    """The labels of the fields `keys` names, in the fields' order ("Saved: Product.")."""
    return [defn.label for defn in definitions(target) if defn.key in keys]


# --- The inbox's filters ------------------------------------------------------------------------------


def filter_field(defn: FieldDef) -> forms.Field:
    """The inbox filter of a ticket field: a part of a text, a choice, a number, a day, yes/no."""
    any_ = ("", _("Any"))
    label = defn.label
    if defn.type in (FieldType.CHOICE, FieldType.MULTICHOICE):
        return forms.ChoiceField(label=label, required=False, choices=[any_, *((c, c) for c in defn.choices)])
    if defn.type == FieldType.CHECKBOX:
        return forms.ChoiceField(label=label, required=False, choices=[any_, ("yes", _("Yes")), ("no", _("No"))])
    if defn.type == FieldType.DATE:
        return forms.DateField(label=label, required=False, widget=forms.DateInput(attrs={"type": "date"}))
    if defn.type == FieldType.NUMBER:
        return forms.DecimalField(label=label, required=False, widget=forms.NumberInput(attrs={"step": "any"}))
    return forms.CharField(label=label, required=False, max_length=200)


def add_filter_fields(form: forms.Form, *, stamp: int | None = None) -> dict[str, str]:
    """Add a filter per active ticket field to `form` (named `cf_<key>`); returns name -> key."""
    names: dict[str, str] = {}
    for defn in definitions(FieldTarget.TICKET, stamp=stamp):
        form.fields[defn.form_name] = filter_field(defn)
        names[defn.form_name] = defn.key
    return names
