"""Sign in and out (Django's own views) and the agent's personal API tokens."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth import views as auth_views
from django.http import HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_POST

from sportello.accounts import services
from sportello.accounts.forms import TokenForm
from sportello.accounts.models import ApiToken
from sportello.tickets.views import AgentRequest, agent_view


class LoginView(auth_views.LoginView):
    template_name = "accounts/login.html"


LogoutView = auth_views.LogoutView  # POST only (Django 5); LOGOUT_REDIRECT_URL sends the user to sign in


@never_cache  # the page shows a new key once; no cache may keep it
@agent_view
def tokens(request: AgentRequest) -> HttpResponse:
    form = TokenForm(request.POST or None)
    new_key = None
    if request.method == "POST" and form.is_valid():
        _token, new_key = services.create_token(request.user, form.cleaned_data["name"])
        form = TokenForm()
    tokens = ApiToken.objects.filter(user=request.user).order_by("revoked_at", "-created_at")
    return render(request, "accounts/tokens.html", {"form": form, "tokens": tokens, "new_key": new_key})


@require_POST
@agent_view
def revoke_token(request: AgentRequest, token_id: int) -> HttpResponse:
    if services.revoke_token(token_id, owner=request.user):
        messages.success(request, _("The token was revoked; programs using it are refused from now on."))
    else:
        messages.error(request, _("No such active token."))
    return redirect("tokens")
