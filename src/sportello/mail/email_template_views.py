"""The admins' settings page for email templates: every mail per language, edit with the
placeholders listed, a preview about a sample ticket, and reset to the built-in wording."""

from __future__ import annotations

from django import forms
from django.conf import settings
from django.contrib import messages
from django.http import Http404, HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_POST

from sportello.core.errors import InvalidInput
from sportello.mail import email_templates as templates
from sportello.mail.models import EmailTemplate
from sportello.tickets.access import require_admin
from sportello.tickets.views import AgentRequest, agent_view

LANGUAGE_NAMES = dict(settings.LANGUAGES)


class TemplateForm(forms.Form):
    subject = forms.CharField(label=gettext_lazy("Subject"), max_length=255)
    body = forms.CharField(label=gettext_lazy("Text"), widget=forms.Textarea(attrs={"rows": 14}))
    active = forms.BooleanField(
        label=gettext_lazy("Use this wording"),
        required=False,
        help_text=gettext_lazy("When unticked, the built-in wording is sent."),
    )


class NewTemplateForm(forms.Form):
    key = forms.SlugField(
        label=gettext_lazy("Name"),
        max_length=60,
        help_text=gettext_lazy("The name triggers and time rules send it by, e.g. reminder."),
    )
    language = forms.ChoiceField(label=gettext_lazy("Language"), choices=settings.LANGUAGES)


@agent_view
def template_list(request: AgentRequest) -> HttpResponse:
    """Every mail by kind and language: the admin's wording, or the built-in one."""
    require_admin(request.user)
    form = NewTemplateForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        return redirect("settings-email-template", key=form.cleaned_data["key"], language=form.cleaned_data["language"])
    rows = {(row.key, row.language): row for row in EmailTemplate.objects.all()}
    table = [
        (
            key,
            key in templates.BUILTIN,
            [(language, LANGUAGE_NAMES[language], rows.get((key, language))) for language in templates.LANGUAGES],
        )
        for key in templates.known_keys()
    ]
    context = {"table": table, "form": form, "languages": settings.LANGUAGES}
    return render(request, "mail/settings/email_templates.html", context, status=422 if form.errors else 200)


def _language(language: str) -> str:
    if language not in templates.LANGUAGES:
        raise Http404("No such language")
    return language


@agent_view
def template_edit(request: AgentRequest, key: str, language: str) -> HttpResponse:
    """Edit one mail in one language; "Preview" renders the posted text without saving it."""
    require_admin(request.user)
    language = _language(language)
    row = templates.template_row(key, language)
    subject, body = (row.subject, row.body) if row else templates.default_wording(key, language)
    form = TemplateForm(request.POST or None, initial={"subject": subject, "body": body, "active": True})
    preview = None
    status = 200
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        problems = templates.check_wording(key, data["subject"]) + templates.check_wording(key, data["body"])
        if request.POST.get("action") == "preview":
            if problems:
                form.add_error(None, " ".join(problems))
            else:
                preview = templates.preview(key, language, data["subject"], data["body"])
        else:
            try:
                templates.save_template(key=key, language=language, **data)
            except InvalidInput as err:
                field = err.details.get("field")
                form.add_error(field if field in form.fields else None, err.message)
            else:
                messages.success(request, _("The mail “%(key)s” in %(language)s is saved.") % _names(key, language))
                return redirect("settings-email-templates")
    elif request.method == "GET":
        preview = templates.preview(key, language, subject, body) if subject or body else None
    if form.errors:
        status = 422
    context = {
        "form": form,
        "key": key,
        "language": language,
        "language_name": LANGUAGE_NAMES[language],
        "row": row,
        "builtin": key in templates.BUILTIN,
        "placeholders": sorted(templates.placeholders_for(key).items()),
        "preview": preview,
    }
    return render(request, "mail/settings/email_template_edit.html", context, status=status)


def _names(key: str, language: str) -> dict[str, str]:
    return {"key": key, "language": LANGUAGE_NAMES[language]}


@require_POST
@agent_view
def template_reset(request: AgentRequest, key: str, language: str) -> HttpResponse:
    require_admin(request.user)
    language = _language(language)
    if templates.reset_template(key, language):
        if key in templates.BUILTIN:
            messages.success(
                request,
                _("The mail “%(key)s” in %(language)s uses the built-in wording again.") % _names(key, language),
            )
        else:
            messages.success(request, _("The mail “%(key)s” in %(language)s is deleted.") % _names(key, language))
    return redirect("settings-email-templates")
