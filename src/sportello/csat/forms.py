from __future__ import annotations

from django import forms
from django.utils.translation import gettext_lazy as _

from sportello.csat.models import Rating
from sportello.csat.services import MAX_COMMENT


class SurveyForm(forms.Form):
    rating = forms.ChoiceField(
        label=_("How did we do?"),
        choices=[(Rating.GOOD, _("Good, I'm satisfied")), (Rating.BAD, _("Bad, I'm not satisfied"))],
        widget=forms.RadioSelect,
    )
    comment = forms.CharField(
        label=_("Comment (optional)"),
        required=False,
        max_length=MAX_COMMENT,
        widget=forms.Textarea(attrs={"rows": 4}),
    )
