"""Form fields rendered without the widget templates, for the inbox's filter bar on every page.

Django renders a select through a template per option (an include each, with its attributes
template): the inbox's eight filters, some forty options, cost about as much as its 50 rows.
`plain_field` writes a single select's markup directly, with the attributes and selected option
Django's widget gives it (tests/web/test_form_fields.py compares the two); any other widget is
rendered by Django as usual.
"""

from __future__ import annotations

from django import forms, template
from django.forms.boundfield import BoundField
from django.forms.utils import flatatt
from django.utils.html import escape
from django.utils.safestring import SafeString, mark_safe

register = template.Library()


@register.simple_tag
def plain_field(field: BoundField) -> SafeString:
    widget = field.field.widget
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
