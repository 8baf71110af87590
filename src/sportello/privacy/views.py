"""Privacy pages: export and erase a customer (agent UI), "my data" in the portal, the settings page.

Each goes through a gate of access.py: exports for admins (and agents when the settings allow),
erasure and settings for admins only, a customer's archive for that customer only.
"""

from __future__ import annotations

from django.contrib import messages
from django.http import FileResponse, Http404, HttpResponse
from django.http.response import HttpResponseBase
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_http_methods, require_POST

from sportello.core.errors import ServiceError
from sportello.portal.views import CustomerRequest, customer_view
from sportello.privacy import access, exporting, retention
from sportello.privacy.erasure import confirmation_for, erase_customer, is_erased
from sportello.privacy.forms import EraseForm, RetentionForm
from sportello.privacy.models import DataExport, Erasure, ExportState, RetentionPolicy
from sportello.tickets.access import require_admin
from sportello.tickets.views import AgentRequest, agent_view

# --- Agent UI ------------------------------------------------------------------------------------------


@require_POST
@agent_view
def customer_export(request: AgentRequest, customer_id: int) -> HttpResponseBase:
    access.require_exporter(request.user)
    customer = access.customer_for_privacy(customer_id)
    archive, name = exporting.export_customer(request.user, customer)
    return FileResponse(archive, as_attachment=True, filename=name, content_type="application/zip")


@require_http_methods(["GET", "POST"])
@agent_view
def customer_erase(request: AgentRequest, customer_id: int) -> HttpResponse:
    access.require_eraser(request.user)
    customer = access.customer_for_privacy(customer_id)
    form = EraseForm(request.POST or None)
    error = ""
    if request.method == "POST" and form.is_valid():
        try:
            erase_customer(request.user, customer, confirmation=form.cleaned_data["confirmation"])
        except ServiceError as err:
            error = err.message
        else:
            messages.success(request, _("The customer's personal data was erased."))
            return redirect("customer", customer_id=customer.pk)
    context = {
        "customer": customer,
        "form": form,
        "error": error,
        "erased": is_erased(customer),
        "needs_email": bool(customer.primary_email),
        "expected_hint": "" if customer.primary_email else confirmation_for(customer),
    }
    status = 422 if request.method == "POST" else 200
    return render(request, "privacy/erase.html", context, status=status)


# --- Portal -------------------------------------------------------------------------------------------


@require_http_methods(["GET", "POST"])
@customer_view
def portal_my_data(request: CustomerRequest) -> HttpResponse:
    customer = access.own_customer(request.user)
    status = 200
    if request.method == "POST":
        try:
            exporting.request_export(request.user, customer)
        except ServiceError as err:
            messages.error(request, err.message)
            status = err.status
        else:
            messages.success(request, _("We are preparing your data; a link to download it will come by email."))
            return redirect("privacy-portal")
    exports = DataExport.objects.filter(customer=customer)[:5]
    return render(request, "privacy/portal.html", {"exports": exports, "customer": customer}, status=status)


@customer_view
def portal_download(request: CustomerRequest, token: str) -> HttpResponseBase:
    """The mailed link: a valid signature, not expired, and the signed-in customer's own archive."""
    export_id = exporting.export_from_token(token)
    if export_id is None:
        raise Http404("This link is not valid or has expired.")
    export = access.export_for_customer(request.user, export_id)
    if not export.file:
        raise Http404("This link has expired.")
    exporting.mark_downloaded(export)
    return FileResponse(
        export.file.open("rb"),
        as_attachment=True,
        filename=f"personal-data-{export.ready_at:%Y-%m-%d}.zip" if export.ready_at else "personal-data.zip",
        content_type="application/zip",
    )


# --- Settings -----------------------------------------------------------------------------------------


@require_http_methods(["GET", "POST"])
@agent_view
def privacy_settings(request: AgentRequest) -> HttpResponse:
    require_admin(request.user)
    policy = RetentionPolicy.current()
    form = RetentionForm(request.POST or None, instance=policy)
    if request.method == "POST" and form.is_valid():
        form.save()
        messages.success(request, _("Privacy settings saved."))
        return redirect("settings-privacy")
    context = {
        "form": form,
        "policy": policy,
        "preview": retention.dry_run(RetentionPolicy.current()),
        "erasures": Erasure.objects.select_related("erased_by")[:20],
        "pending_exports": DataExport.objects.filter(state=ExportState.PENDING).count(),
    }
    return render(request, "privacy/settings.html", context, status=422 if form.errors else 200)
