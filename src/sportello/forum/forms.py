from __future__ import annotations

from django import forms
from django.utils.translation import gettext_lazy as _

from sportello.forum.models import ForumCategory, TopicKind
from sportello.forum.services import MAX_BODY, MAX_TITLE


class TopicForm(forms.Form):
    kind = forms.ChoiceField(label=_("This is a"), choices=TopicKind.choices, initial=TopicKind.QUESTION)
    title = forms.CharField(label=_("Title"), max_length=MAX_TITLE)
    body = forms.CharField(
        label=_("Your message"), max_length=MAX_BODY, widget=forms.Textarea(attrs={"rows": 8}),
        help_text=_("Markdown works: **bold**, lists, links."),
    )  # fmt: skip


class ReplyForm(forms.Form):
    body = forms.CharField(label=_("Your reply"), max_length=MAX_BODY, widget=forms.Textarea(attrs={"rows": 6}))


class MoveForm(forms.Form):
    category = forms.ModelChoiceField(label=_("Category"), queryset=ForumCategory.objects.all())
