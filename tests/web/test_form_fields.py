"""The inbox's filter bar renders its selects directly: the same markup as Django's widgets."""

from __future__ import annotations

import pytest
from django.http import QueryDict
from django.test.html import parse_html

from sportello.inbox.forms import InboxForm
from sportello.tickets.templatetags.form_fields import plain_field

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize(
    "query",
    [
        "",
        "view=open",
        "view=all&assignee=0&priority=4&channel=chat&sla=breached&sort=priority&tag=vip",
        "priority=99&channel=pigeon&group=abc&status=0",  # invalid values: errors, nothing chosen
        'tag=<script>alert("x")</script>',
    ],
)
def test_every_filter_is_rendered_as_djangos_widget(agent, agent2, second_level, query):
    form = InboxForm(QueryDict(query + f"&group={second_level.pk}&assignee={agent2.pk}"))
    form.is_valid()
    for field in form:
        assert parse_html(str(plain_field(field))) == parse_html(str(field)), field.name


def test_the_chosen_option_is_selected_and_labels_are_escaped(agent, second_level):
    second_level.name = "<b>Level 2</b>"
    second_level.save()
    form = InboxForm(QueryDict(f"group={second_level.pk}"))
    form.is_valid()
    html = str(plain_field(form["group"]))
    assert f'<option value="{second_level.pk}" selected>&lt;b&gt;Level 2&lt;/b&gt;</option>' in html
    assert "<b>" not in html


def test_the_ticket_forms_selects_are_rendered_as_djangos_widgets(ticket, agent, agent2, second_level):
    from sportello.tickets.forms import ReplyForm, UpdateForm

    forms = [
        UpdateForm.for_ticket(ticket, ["vip"]),
        UpdateForm({"version": "x", "status": "999", "priority": "7", "assignee": str(agent2.pk)}),
        ReplyForm(initial={"version": ticket.version}),
    ]
    for form in forms:
        if form.is_bound:
            form.is_valid()  # with its errors, as a refused update shows it
        for field in form:
            assert parse_html(str(plain_field(field))) == parse_html(str(field)), field.name


def test_inputs_are_rendered_as_djangos_widgets(agent, second_level):
    from django import forms

    class Inputs(forms.Form):
        text = forms.CharField(max_length=20, help_text="Help", widget=forms.TextInput(attrs={"placeholder": "<x>"}))
        number = forms.IntegerField(min_value=1, required=False)
        day = forms.DateField(required=False, widget=forms.DateInput(attrs={"type": "date"}))
        hidden = forms.CharField(widget=forms.HiddenInput, required=False)
        email = forms.EmailField(disabled=True, initial="a@example.com")

    for data in (None, {"text": '"quoted" & <b>', "number": "x", "day": "2026-02-30", "hidden": "<h>"}):
        form = Inputs(data)
        if data is not None:
            form.is_valid()
        for field in form:
            assert parse_html(str(plain_field(field))) == parse_html(str(field)), (field.name, data)


def test_the_bulk_bar_and_the_save_view_form_are_rendered_as_djangos_widgets(agent, second_level):
    from sportello.inbox.forms import BulkForm, SaveViewForm

    for form in (BulkForm(), SaveViewForm(initial={"params": 'view=open&tag="x"&name=<b>', "name": "Mine"})):
        for field in form:
            assert parse_html(str(plain_field(field))) == parse_html(str(field)), field.name
