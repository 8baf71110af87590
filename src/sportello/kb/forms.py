"""The agent's article form: what all languages share, and one language's text."""

from __future__ import annotations

from django import forms
from django.conf import settings
from django.utils.translation import gettext_lazy as _

from sportello.kb.models import Category, Visibility
from sportello.kb.services import ArticleText


class ArticleForm(forms.Form):
    category = forms.ModelChoiceField(label=_("Category"), queryset=Category.objects.select_related("parent"))
    visibility = forms.ChoiceField(label=_("Visibility"), choices=Visibility.choices)
    tags = forms.CharField(label=_("Tags"), required=False, help_text=_("Separated by commas"), max_length=500)
    language = forms.ChoiceField(label=_("Language"), choices=settings.LANGUAGES)
    title = forms.CharField(label=_("Title"), max_length=200)
    slug = forms.CharField(
        label=_("Address"), required=False, max_length=200, help_text=_("Made from the title when empty")
    )
    summary = forms.CharField(label=_("Summary"), required=False, max_length=300, help_text=_("Meta description"))
    body = forms.CharField(
        label=_("Text (Markdown)"), required=False, widget=forms.Textarea(attrs={"rows": 18}), max_length=500_000
    )

    def tag_names(self) -> list[str]:
        return [name.strip() for name in self.cleaned_data.get("tags", "").split(",") if name.strip()]

    def text(self) -> ArticleText:
        data = self.cleaned_data
        return ArticleText(
            language=data["language"],
            title=data["title"],
            body=data["body"],
            slug=data["slug"],
            summary=data["summary"],
        )
