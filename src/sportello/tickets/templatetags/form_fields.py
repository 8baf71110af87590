"""Form fields rendered without the widget templates, for the inbox's filter bar on every page.

Django renders a select through a template per option (an include each, with its attributes
template): the inbox's eight filters, some forty options, cost about as much as its 50 rows.
`plain_field` writes a single select's markup directly, with the attributes and selected option
Django's widget gives it, and so a plain `<input>` (text, number, date, hidden…: one include and an
attributes template each in Django, ~0.2 ms); tests/web/test_form_fields.py compares them with
Django's. Any other widget is rendered by Django as usual.
"""

from __future__ import annotations

from html import escape as _escape

from django import forms, template
from django.forms.boundfield import BoundField
from django.forms.utils import flatatt
from django.forms.widgets import Input
from django.utils.safestring import SafeString, mark_safe

register = template.Library()

# Django's widgets whose template is input.html with nothing added (an app could override none of
# these without `plain_field` noticing: the template name is checked, not the class).
INPUT_TEMPLATES = frozenset(
    f"django/forms/widgets/{name}.html"
    for name in ("input", "text", "number", "email", "url", "password", "hidden", "date", "datetime", "time")
)


def escape(value: object) -> str:
    """django.utils.html.escape's output, without its lazy-string wrapper."""
    return _escape(str(value))


def _shown(value: object) -> str:
    """What the template writes for a value: escaped unless it is already safe HTML."""
    html = getattr(value, "__html__", None)
    return str(html()) if html is not None else _escape(str(value))


def _plain_input(field: BoundField, widget: Input) -> SafeString:
    """django/forms/widgets/input.html and attrs.html, written directly (BoundField.as_widget's attributes)."""
    attrs = field.build_widget_attrs({}, widget)
    if field.auto_id and "id" not in widget.attrs:
        attrs.setdefault("id", field.auto_id)
    context = widget.get_context(field.html_name, field.value(), attrs)["widget"]
    parts = [f'<input type="{_shown(context["type"])}" name="{_shown(context["name"])}"']
    if context["value"] is not None:
        parts.append(f' value="{_shown(context["value"])}"')
    for name, value in context["attrs"].items():
        if value is not False:
            parts.append(f" {_shown(name)}" if value is True else f' {_shown(name)}="{_shown(value)}"')
    parts.append(">")
    return mark_safe("".join(parts))  # every value is escaped


@register.simple_tag
def plain_field(field: BoundField) -> SafeString:
    widget = field.field.widget
    if (
        isinstance(widget, Input)
        and widget.template_name in INPUT_TEMPLATES
        and not field.field.show_hidden_initial
        and not field.field.localize
    ):
        return _plain_input(field, widget)
    if type(widget) is not forms.Select:
        return mark_safe(str(field))  # a widget of Django's, rendered as Django does
    attrs = field.build_widget_attrs({**widget.attrs, "name": field.html_name})
    if field.auto_id and "id" not in widget.attrs:
        attrs["id"] = field.auto_id
    chosen = set(widget.format_value(field.value()))
    options = []
    for value, label in field.field.choices:  # type: ignore[attr-defined]
        if isinstance(label, list | tuple):  # option groups: Django's own rendering
            return mark_safe(str(field))
        text = "" if value is None else str(value)
        selected = " selected" if text in chosen else ""
        options.append(f'<option value="{escape(text)}"{selected}>{escape(label)}</option>')
        if selected and not widget.allow_multiple_selected:
            chosen = set()  # as Django: only the first matching option of a single select is selected
    return mark_safe(f"<select{flatatt(attrs)}>{''.join(options)}</select>")  # every value is escaped
