"""Portal forms: sign in (link or password), reply, new request."""

from __future__ import annotations

from django import forms
from django.urls import reverse_lazy
from django.utils.translation import gettext_lazy as _

from sportello.webform.forms import MultipleFileField


class LinkForm(forms.Form):
    email = forms.EmailField(label=_("Email address"), max_length=254)


class PasswordSignInForm(forms.Form):
    email = forms.EmailField(label=_("Email address"), max_length=254)
    password = forms.CharField(label=_("Password"), widget=forms.PasswordInput, max_length=200)


class ReplyForm(forms.Form):
    body = forms.CharField(label=_("Your reply"), widget=forms.Textarea(attrs={"rows": 6}), max_length=100_000)
    attachments = MultipleFileField(label=_("Attachments"), required=False)


class NewTicketForm(forms.Form):
    # As on the web form, matching help-centre articles appear under the field while the customer types.
    subject = forms.CharField(
        label=_("Subject"),
        max_length=255,
        widget=forms.TextInput(
            attrs={
                "hx-get": reverse_lazy("kb:suggest"),
                "hx-vals": '{"source": "portal"}',
                "hx-trigger": "input changed delay:300ms",
                "hx-target": "#kb-suggestions",
                "autocomplete": "off",
            }
        ),
    )
    body = forms.CharField(label=_("Message"), widget=forms.Textarea(attrs={"rows": 8}), max_length=100_000)
    attachments = MultipleFileField(label=_("Attachments"), required=False)
