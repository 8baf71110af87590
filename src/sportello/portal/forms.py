"""Portal forms: sign in (link or password), reply, new request."""

from __future__ import annotations

from django import forms
from django.utils.translation import gettext_lazy as _

from sportello.webform.forms import MultipleFileField, suggesting_subject


class LinkForm(forms.Form):
    email = forms.EmailField(label=_("Email address"), max_length=254)


class PasswordSignInForm(forms.Form):
    email = forms.EmailField(label=_("Email address"), max_length=254)
    password = forms.CharField(label=_("Password"), widget=forms.PasswordInput, max_length=200)


class ReplyForm(forms.Form):
    body = forms.CharField(label=_("Your reply"), widget=forms.Textarea(attrs={"rows": 6}), max_length=100_000)
    attachments = MultipleFileField(label=_("Attachments"), required=False)


class NewTicketForm(forms.Form):
    subject = suggesting_subject("portal")  # as on the web form, articles appear while the customer types
    body = forms.CharField(label=_("Message"), widget=forms.Textarea(attrs={"rows": 8}), max_length=100_000)
    attachments = MultipleFileField(label=_("Attachments"), required=False)
