from __future__ import annotations

from django import forms
from django.utils.translation import gettext_lazy as _

from sportello.forum.models import ForumCategory, TopicKind
from sportello.forum.services import MAX_BODY, MAX_TITLE

IMAGE_ACCEPT = "image/png,image/jpeg,image/gif,image/webp"


def image_field() -> forms.FileField:
    """One picture, shown under the text (checked by services.check_image, not here)."""
    return forms.FileField(
        label=_("Picture"), required=False, widget=forms.FileInput(attrs={"accept": IMAGE_ACCEPT}),
        help_text=_("Optional: a PNG, JPEG, GIF or WebP picture of up to 5 MB."),
    )  # fmt: skip


class TopicForm(forms.Form):
    kind = forms.ChoiceField(label=_("This is a"), choices=TopicKind.choices, initial=TopicKind.QUESTION)
    title = forms.CharField(label=_("Title"), max_length=MAX_TITLE)
    # Not required here: a picture alone is a post too (services._body says when neither is there).
    body = forms.CharField(
        label=_("Your message"), max_length=MAX_BODY, widget=forms.Textarea(attrs={"rows": 8}), required=False,
        help_text=_("Markdown works: **bold**, lists, links."),
    )  # fmt: skip
    image = image_field()


class ReplyForm(forms.Form):
    """A reply with an optional picture: the body may then be empty (services._body decides)."""

    body = forms.CharField(
        label=_("Your reply"), max_length=MAX_BODY, required=False, widget=forms.Textarea(attrs={"rows": 6})
    )
    image = image_field()


class EditForm(forms.Form):
    """A post's text without its picture's line; the picture is replaced or removed with its own
    fields (services.edit_post), and the body may then be empty when a picture stays."""

    body = forms.CharField(
        label=_("Your message"), max_length=MAX_BODY, required=False, widget=forms.Textarea(attrs={"rows": 8})
    )
    image = image_field()
    remove_image = forms.BooleanField(label=_("Remove the picture"), required=False)


class MoveForm(forms.Form):
    category = forms.ModelChoiceField(label=_("Category"), queryset=ForumCategory.objects.all())
