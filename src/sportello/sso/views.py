"""The sign-in settings page (admins) and each agent's two-factor page."""

from __future__ import annotations

from allauth.mfa.models import Authenticator
from allauth.socialaccount.models import SocialApp
from django.contrib import messages
from django.http import HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_http_methods, require_POST

from sportello.core.errors import InvalidInput
from sportello.sso import services
from sportello.sso.forms import ClaimRuleForm, OidcProviderForm, PolicyForm, SamlProviderForm
from sportello.sso.models import ClaimRule, SignInPolicy
from sportello.tickets.access import require_admin
from sportello.tickets.views import AgentRequest, agent_view


def _settings_page(
    request: AgentRequest, *, policy_form: PolicyForm | None = None, rule_form: ClaimRuleForm | None = None
) -> HttpResponse:
    context = {
        "policy_form": policy_form or PolicyForm(instance=SignInPolicy.current()),
        "rule_form": rule_form or ClaimRuleForm(),
        "providers": SocialApp.objects.filter(provider__in=[services.OIDC, services.SAML]).order_by("name"),
        "rules": ClaimRule.objects.select_related("group"),
    }
    failed = (policy_form is not None and policy_form.errors) or (rule_form is not None and rule_form.errors)
    return render(request, "sso/settings.html", context, status=422 if failed else 200)


@agent_view
def settings_page(request: AgentRequest) -> HttpResponse:
    require_admin(request.user)
    return _settings_page(request)


@require_POST
@agent_view
def save_policy(request: AgentRequest) -> HttpResponse:
    require_admin(request.user)
    form = PolicyForm(request.POST, instance=SignInPolicy.current())
    if form.is_valid():
        try:
            services.save_policy(**form.cleaned_data)
        except InvalidInput as err:
            form.add_error(err.details.get("field"), err.message)
        else:
            messages.success(request, _("The sign-in policy was saved."))
            return redirect("settings-sso")
    return _settings_page(request, policy_form=form)


@require_POST
@agent_view
def add_rule(request: AgentRequest) -> HttpResponse:
    require_admin(request.user)
    form = ClaimRuleForm(request.POST)
    if not form.is_valid():
        return _settings_page(request, rule_form=form)
    services.add_claim_rule(**form.cleaned_data)
    messages.success(request, _("The rule was added."))
    return redirect("settings-sso")


@require_POST
@agent_view
def delete_rule(request: AgentRequest, rule_id: int) -> HttpResponse:
    require_admin(request.user)
    services.delete_claim_rule(rule_id)
    messages.success(request, _("The rule was removed."))
    return redirect("settings-sso")


@require_http_methods(["GET", "POST"])
@agent_view
def edit_oidc(request: AgentRequest, app_id: int | None = None) -> HttpResponse:
    require_admin(request.user)
    app = services.provider(app_id) if app_id else None
    initial = {}
    if app is not None:
        initial = {"name": app.name, "provider_id": app.provider_id, "client_id": app.client_id}
        initial["server_url"] = app.settings.get("server_url", "")
    form = OidcProviderForm(request.POST or None, initial=initial, editing=app is not None)
    if request.method == "POST" and form.is_valid():
        try:
            services.save_oidc_provider(app, **form.cleaned_data)
        except InvalidInput as err:
            form.add_error(err.details.get("field"), err.message)
        else:
            messages.success(request, _("The identity provider was saved."))
            return redirect("settings-sso")
    context = {"form": form, "app": app, "kind": "oidc"}
    return render(request, "sso/provider_form.html", context, status=422 if form.errors else 200)


@require_http_methods(["GET", "POST"])
@agent_view
def edit_saml(request: AgentRequest, app_id: int | None = None) -> HttpResponse:
    require_admin(request.user)
    app = services.provider(app_id) if app_id else None
    initial = {}
    if app is not None:
        idp = app.settings.get("idp", {})
        initial = {"name": app.name, "slug": app.client_id, "entity_id": idp.get("entity_id", "")}
        initial["metadata_url"] = idp.get("metadata_url", "")
    form = SamlProviderForm(request.POST or None, initial=initial, editing=app is not None)
    if request.method == "POST" and form.is_valid():
        try:
            services.save_saml_provider(app, **form.cleaned_data)
        except InvalidInput as err:
            form.add_error(err.details.get("field"), err.message)
        else:
            messages.success(request, _("The identity provider was saved."))
            return redirect("settings-sso")
    context = {"form": form, "app": app, "kind": "saml"}
    return render(request, "sso/provider_form.html", context, status=422 if form.errors else 200)


@require_POST
@agent_view
def delete_provider(request: AgentRequest, app_id: int) -> HttpResponse:
    require_admin(request.user)
    try:
        services.delete_provider(app_id)
    except InvalidInput as err:
        messages.error(request, err.message)
    else:
        messages.success(request, _("The identity provider was removed."))
    return redirect("settings-sso")


@agent_view
def two_factor(request: AgentRequest) -> HttpResponse:
    """The agent's own second factors: authenticator app, passkeys, recovery codes."""
    found = {
        a.type: a for a in Authenticator.objects.filter(user=request.user).exclude(type=Authenticator.Type.WEBAUTHN)
    }
    recovery = found.get(Authenticator.Type.RECOVERY_CODES)
    context = {
        "totp": found.get(Authenticator.Type.TOTP),
        "passkeys": Authenticator.objects.filter(user=request.user, type=Authenticator.Type.WEBAUTHN),
        "recovery_left": len(recovery.wrap().get_unused_codes()) if recovery else 0,
        "recovery": recovery,
        "required": request.GET.get("required") == "1" and SignInPolicy.current().require_two_factor,
    }
    return render(request, "sso/two_factor.html", context)
