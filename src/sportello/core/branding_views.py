"""Branding: the admins' settings page, and the public stylesheet and logo every page links to."""

from __future__ import annotations

from django import forms
from django.contrib import messages
from django.http import FileResponse, Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_GET

from sportello.core import branding
from sportello.core.errors import InvalidInput
from sportello.core.models import Branding
from sportello.tickets.access import require_admin
from sportello.tickets.views import AgentRequest, agent_view


class BrandingForm(forms.Form):
    product_name = forms.CharField(
        label=gettext_lazy("Product name"),
        max_length=60,
        help_text=gettext_lazy("Shown in the header of every page and of the help centre."),
    )
    logo = forms.FileField(
        label=gettext_lazy("Logo"),
        required=False,
        help_text=gettext_lazy("PNG, JPEG, GIF or WebP, 512 KB at most; shown beside the name."),
        widget=forms.ClearableFileInput(attrs={"accept": "image/png,image/jpeg,image/gif,image/webp"}),
    )
    remove_logo = forms.BooleanField(label=gettext_lazy("Remove the logo"), required=False)
    primary_color = forms.CharField(
        label=gettext_lazy("Primary colour"),
        max_length=7,
        required=False,
        help_text=gettext_lazy("A hex code such as #1f5fbf, dark enough to read on white; empty for the default."),
    )
    support_address = forms.EmailField(
        label=gettext_lazy("Support address"),
        required=False,
        help_text=gettext_lazy("The address customers see to write to support."),
    )


@agent_view
def branding_edit(request: AgentRequest) -> HttpResponse:
    require_admin(request.user)
    row = Branding.objects.filter(pk=1).first() or Branding(pk=1)
    initial = {
        "product_name": row.product_name,
        "primary_color": row.primary_color,
        "support_address": row.support_address,
    }
    form = BrandingForm(request.POST or None, request.FILES or None, initial=initial)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            branding.save_branding(
                product_name=data["product_name"],
                primary_color=data["primary_color"],
                support_address=data["support_address"],
                logo=data["logo"] or None,
                remove_logo=data["remove_logo"],
            )
        except InvalidInput as err:
            field = err.details.get("field")
            form.add_error(field if field in form.fields else None, err.message)
        else:
            messages.success(request, _("Branding saved."))
            return redirect("settings-branding")
    context = {"form": form, "row": row}
    return render(request, "core/settings/branding.html", context, status=422 if form.errors else 200)


# Immutable: both addresses carry the branding's version (?v=…), which every save changes.
CACHE = "public, max-age=31536000, immutable"


@require_GET
def branding_css(request: HttpRequest) -> HttpResponse:
    """The primary colour as the design tokens' override (a file: the CSP allows no inline style)."""
    brand = branding.current()
    css = ""
    if brand.color:
        css = (
            f":root {{ --color-accent: {brand.color}; --color-accent-strong: {brand.color_strong}; "
            f"--color-accent-soft: {brand.color_soft}; --accent: {brand.color}; "
            f"--accent-dark: {brand.color_strong}; }}\n"
        )
    response = HttpResponse(css, content_type="text/css; charset=utf-8")
    response["Cache-Control"] = CACHE
    return response


@require_GET
def branding_logo(request: HttpRequest) -> FileResponse:
    row = Branding.objects.filter(pk=1).first()
    if row is None or not row.logo:
        raise Http404("No logo")
    try:
        handle = row.logo.open("rb")
    except FileNotFoundError as err:
        raise Http404("No logo") from err
    response = FileResponse(handle, content_type=row.logo_type or "application/octet-stream")
    response["Cache-Control"] = CACHE
    response["X-Content-Type-Options"] = "nosniff"
    return response
