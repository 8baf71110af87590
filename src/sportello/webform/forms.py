"""The public support form: fields, file checks and the two bot traps (honeypot, fill time)."""

from __future__ import annotations

import json
import time
from typing import Any, cast

from django import forms
from django.conf import settings
from django.core import signing
from django.core.files.uploadedfile import UploadedFile
from django.http import QueryDict
from django.template.defaultfilters import filesizeformat
from django.urls import reverse_lazy
from django.utils.translation import gettext_lazy as _

MAX_FILES = 10
STAMP_SALT = "sportello.webform.started"
# A form older than this is refused with a clear message rather than accepted from a replayed
# stamp forever; a person who left the tab open for a day just sends it again.
STAMP_MAX_AGE = 24 * 3600


def min_fill_seconds() -> float:
    """Faster than this from page load to submit is a bot (people need time to type)."""
    return float(settings.WEBFORM_MIN_FILL_SECONDS)


def new_stamp() -> str:
    """A signed 'the form was shown at' time, put in a hidden field."""
    return signing.dumps(time.time(), salt=STAMP_SALT)


def stamp_age(value: str) -> float | None:
    """Seconds since the form carrying this stamp was shown; None when missing or forged."""
    try:
        return time.time() - float(signing.loads(value or "", salt=STAMP_SALT))
    except (signing.BadSignature, TypeError, ValueError):
        return None


class MultipleFileInput(forms.FileInput):
    allow_multiple_selected = True


class MultipleFileField(forms.FileField):
    """Several files in one input; cleans to a (possibly empty) list of uploaded files."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("widget", MultipleFileInput(attrs={"multiple": True}))
        super().__init__(*args, **kwargs)

    def clean(self, data: Any, initial: Any = None) -> list[UploadedFile]:
        files = data if isinstance(data, list | tuple) else [data]
        files = [f for f in files if f]
        if len(files) > MAX_FILES:
            raise forms.ValidationError(
                _("You can attach at most %(max)d files; you chose %(count)d.")
                % {"max": MAX_FILES, "count": len(files)},
                code="too_many",
            )
        limit = settings.MAX_ATTACHMENT_BYTES
        errors = []
        for item in files:
            if item.size > limit:
                errors.append(
                    forms.ValidationError(
                        _("“%(name)s” is too large (%(size)s); the limit is %(limit)s per file.")
                        % {"name": item.name, "size": filesizeformat(item.size), "limit": filesizeformat(limit)},
                        code="too_large",
                    )
                )
        if errors:
            raise forms.ValidationError(errors)
        cleaned = []
        for item in files:
            cleaned.append(super().clean(item, initial))
        return cleaned


def suggesting_subject(source: str) -> forms.CharField:
    """A subject field under which matching help-centre articles appear while the customer types
    (deflection); `source` is the form's name in the deflection counts (webform, portal). The page
    puts `<div id="kb-suggestions">` after the field."""
    return forms.CharField(
        label=_("Subject"),
        max_length=255,
        widget=forms.TextInput(
            attrs={
                "hx-get": reverse_lazy("kb:suggest"),
                "hx-vals": json.dumps({"source": source}),
                "hx-trigger": "input changed delay:300ms",
                "hx-target": "#kb-suggestions",
                "autocomplete": "off",
            }
        ),
    )


class SupportForm(forms.Form):
    name = forms.CharField(label=_("Your name"), max_length=200)
    email = forms.EmailField(label=_("Email address"), max_length=254)
    subject = suggesting_subject("webform")
    message = forms.CharField(label=_("Message"), widget=forms.Textarea(attrs={"rows": 8}), max_length=100_000)
    attachments = MultipleFileField(label=_("Attachments"), required=False)
    # The honeypot: hidden from people by CSS and from screen readers by aria-hidden; bots that
    # fill every field fill this one too.
    website = forms.CharField(
        label=_("Leave this field empty"),
        required=False,
        widget=forms.TextInput(attrs={"autocomplete": "off", "tabindex": "-1"}),
    )
    started = forms.CharField(widget=forms.HiddenInput, required=False)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if not self.is_bound:
            self.initial["started"] = new_stamp()
        # Built per form, not at import, so the limit shown is the one in force now.
        self.fields["attachments"].help_text = _("Up to %(count)d files, %(limit)s each.") % {
            "count": MAX_FILES,
            "limit": filesizeformat(settings.MAX_ATTACHMENT_BYTES),
        }

    def trap_reason(self) -> str | None:
        """Why this submission looks automated ('honeypot', 'too fast'), or None for a person.

        Read from the raw data, before validation, so a bot never learns from field errors.
        """
        if self.data.get("website", "").strip():
            return "honeypot"
        age = stamp_age(self.data.get("started", ""))
        if age is None:
            return "missing or forged time stamp"
        if age < min_fill_seconds():
            return "too fast"
        return None

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean() or {}
        age = stamp_age(cleaned.get("started", ""))
        if age is not None and age > STAMP_MAX_AGE:
            # Re-rendered with a fresh stamp, so the person only has to press Send again.
            fresh = cast(QueryDict, self.data).copy()
            fresh["started"] = new_stamp()
            self.data = fresh
            raise forms.ValidationError(
                _("This form was open for too long. Please check it and send it again."), code="expired"
            )
        return cleaned

    def has_too_large_file(self) -> bool:
        return any(error.code == "too_large" for error in self.errors.as_data().get("attachments", []))
