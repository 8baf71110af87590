"""allauth's hooks: who a single sign-on lets in, with which role and groups (rules.py)."""

from __future__ import annotations

import time
from typing import Any

from allauth.account.adapter import DefaultAccountAdapter
from allauth.core.exceptions import ImmediateHttpResponse
from allauth.socialaccount.adapter import DefaultSocialAccountAdapter
from allauth.socialaccount.models import SocialLogin
from django.http import HttpRequest
from django.shortcuts import render
from django.urls import reverse
from django.utils.http import urlencode
from django.utils.translation import gettext as _

from sportello.accounts.models import User
from sportello.sso.backends import password_allowed
from sportello.sso.middleware import SESSION_FLAG, needs_two_factor_setup
from sportello.sso.rules import apply_decision, claims_of, decide, from_state, to_state


class AccountAdapter(DefaultAccountAdapter):
    def is_open_for_signup(self, request: HttpRequest) -> bool:
        """No self-service sign-up: accounts come from an admin or from a single sign-on rule."""
        return False

    def login(self, request: HttpRequest, user: Any) -> None:
        super().login(request, user)
        if needs_two_factor_setup(user):
            request.session[SESSION_FLAG] = True  # TwoFactorRequiredMiddleware sends them to set-up

    def is_reauthentication_required(self, *, app: str, **kwargs: Any) -> bool:
        """A sign-in of the last minutes counts as having just confirmed who you are, so an agent
        sent to set up two-factor right after signing in (single sign-on included) is not asked
        again; later, changing second factors asks for the password or a factor first."""
        from allauth.account import app_settings
        from allauth.account.internal.flows.login import get_authentication_records
        from allauth.core import context

        required = super().is_reauthentication_required(app=app, **kwargs)
        request = context.request
        if not required or request is None or not request.user.is_authenticated:
            return required
        records = get_authentication_records(request, request.user)
        return not (records and time.time() - records[-1]["at"] < app_settings.REAUTHENTICATION_TIMEOUT)

    def get_reauthentication_methods(self, user: Any) -> list[dict[str, Any]]:
        """Before a change of second factors allauth asks who you are again: the password only where
        the policy allows one, else a second factor, else a fresh sign-in (single sign-on)."""
        methods = super().get_reauthentication_methods(user)
        if user.is_authenticated and not password_allowed(user):
            methods = [method for method in methods if method["id"] != "reauthenticate"]
        if not methods and user.is_authenticated:
            again = f"{reverse('login')}?{urlencode({'next': reverse('sso-two-factor')})}"
            methods = [{"id": "sign_in_again", "description": _("Sign in again"), "url": again}]
        return methods

    def add_message(
        self, request: HttpRequest, level: int, message_template: str | None = None, *args: Any, **kwargs: Any
    ) -> None:
        if message_template and message_template.startswith(
            ("account/messages/logged_in", "account/messages/logged_out")
        ):
            return  # the password sign-in says nothing either
        super().add_message(request, level, message_template, *args, **kwargs)


def provider_key(sociallogin: SocialLogin) -> str:
    """What a rule's `provider` names: an OIDC app's provider id, a SAML app's organization slug."""
    app = sociallogin.provider.app
    return (app.provider_id or app.client_id) if app else sociallogin.account.provider


class SocialAccountAdapter(DefaultSocialAccountAdapter):
    def pre_social_login(self, request: HttpRequest, sociallogin: SocialLogin) -> None:
        email = sociallogin.user.email or next((a.email for a in sociallogin.email_addresses), "")
        claims = claims_of(sociallogin.account.extra_data or {}, email)
        decision = decide(provider_key(sociallogin), claims)
        if decision is None:
            context = {"provider": sociallogin.provider.name, "email": email}
            raise ImmediateHttpResponse(render(request, "sso/refused.html", context, status=403))
        sociallogin.state["sportello_decision"] = to_state(decision)
        if sociallogin.is_existing:
            apply_decision(sociallogin.user, decision)

    def is_open_for_signup(self, request: HttpRequest, sociallogin: SocialLogin) -> bool:
        return True  # pre_social_login already refused whom no rule lets in

    def populate_user(self, request: HttpRequest, sociallogin: SocialLogin, data: dict[str, Any]) -> User:
        user: User = super().populate_user(request, sociallogin, data)
        if not user.username and user.email:
            user.username = user.email  # unique enough; allauth makes it unique if taken
        decision = from_state(sociallogin.state.get("sportello_decision"))
        if decision is not None:
            user.role = decision.role
        return user

    def save_user(self, request: HttpRequest, sociallogin: SocialLogin, form: Any = None) -> User:
        user: User = super().save_user(request, sociallogin, form)
        decision = from_state(sociallogin.state.get("sportello_decision"))
        if decision is not None:
            apply_decision(user, decision)
        return user
