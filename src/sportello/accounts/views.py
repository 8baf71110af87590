"""Sign in and out (Django's own views), the agent's profile and personal API tokens."""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.contrib.auth import views as auth_views
from django.contrib.auth.forms import AuthenticationForm
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone, translation
from django.utils.translation import gettext as _
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_http_methods, require_POST

from sportello.accounts import services
from sportello.accounts.forms import ProfileForm, TokenForm
from sportello.accounts.models import ApiToken
from sportello.core.errors import InvalidInput, ServiceError
from sportello.core.ratelimit import (
    client_ip,
    record_sign_in_failure,
    record_sign_in_success,
    retry_message,
    sign_in_retry_after,
)
from sportello.sso.flows import finish_password_sign_in
from sportello.tickets.views import AgentRequest, agent_view


class LoginView(auth_views.LoginView):
    """Django's sign-in, locked after repeated failures per username and per client address
    (core/ratelimit.py): while locked even the right password is refused (429, Retry-After)."""

    template_name = "accounts/login.html"

    def post(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        wait = sign_in_retry_after(SCOPE, client_ip=client_ip(request), account=request.POST.get("username", ""))
        if wait:
            return self.locked(wait)
        return super().post(request, *args, **kwargs)

    def form_valid(self, form: AuthenticationForm) -> HttpResponse:
        record_sign_in_success(SCOPE, account=form.cleaned_data.get("username", ""))
        # Through allauth's stages: an account with two-factor is asked for its code or passkey.
        return finish_password_sign_in(self.request, form.get_user(), self.get_success_url())

    def form_invalid(self, form: AuthenticationForm) -> HttpResponse:
        username = self.request.POST.get("username", "")
        if username and self.request.POST.get("password"):
            wait = record_sign_in_failure(SCOPE, client_ip=client_ip(self.request), account=username)
            if wait:
                return self.locked(wait, form)
        return super().form_invalid(form)

    def locked(self, wait: int, form: AuthenticationForm | None = None) -> HttpResponse:
        context = self.get_context_data(form=form or self.get_form(), locked=retry_message(wait))
        response = self.render_to_response(context, status=429)
        response["Retry-After"] = str(wait)
        return response


SCOPE = "agents"
LogoutView = auth_views.LogoutView  # POST only (Django 5); LOGOUT_REDIRECT_URL sends the user to sign in


@require_http_methods(["GET", "POST"])
@agent_view
def profile(request: AgentRequest) -> HttpResponse:
    """The agent's language and time zone; saved, the next page (this one, redirected) uses them."""
    user = request.user
    form = ProfileForm(request.POST or None, initial={"language": user.language, "time_zone": user.time_zone})
    if request.method == "POST" and form.is_valid():
        try:
            services.update_profile(user, **form.cleaned_data)
        except InvalidInput as err:
            form.add_error(err.details.get("field"), err.message)
        else:
            if user.language:
                translation.activate(user.language)  # the confirmation already speaks the new language
            messages.success(request, _("Your profile was saved."))
            return redirect("profile")
    context = {"form": form, "now": timezone.now()}
    return render(request, "accounts/profile.html", context, status=422 if form.errors else 200)


@never_cache  # the page shows a new key once; no cache may keep it
@agent_view
def tokens(request: AgentRequest) -> HttpResponse:
    form = TokenForm(request.POST or None, user=request.user)
    new_key = None
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            _token, new_key = services.create_token(
                request.user, data["name"], scopes=data["access"], expires_at=data["expires"]
            )
        except ServiceError as err:
            form.add_error(None, err.message)
        else:
            form = TokenForm(user=request.user)
    tokens = ApiToken.objects.filter(user=request.user).order_by("revoked_at", "-created_at")
    context = {"form": form, "tokens": tokens, "new_key": new_key, "now": timezone.now()}
    return render(request, "accounts/tokens.html", context, status=422 if form.errors else 200)


@require_POST
@agent_view
def revoke_token(request: AgentRequest, token_id: int) -> HttpResponse:
    if services.revoke_token(token_id, owner=request.user):
        messages.success(request, _("The token was revoked; programs using it are refused from now on."))
    else:
        messages.error(request, _("No such active token."))
    return redirect("tokens")
