"""The "require two-factor for agents" switch: an agent without a second factor sets one up first.

The policy is read once, at sign-in (AccountAdapter.login), which marks the session; pages then
cost no query unless the mark is there. Turning the switch on reaches each agent at their next
sign-in (docs/sso.md)."""

from __future__ import annotations

from collections.abc import Callable

from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.urls import reverse

from sportello.sso.models import SignInPolicy

SESSION_FLAG = "sso_two_factor_required"
# Paths an agent may still open while sent to set up two-factor: the set-up itself (ours and
# allauth's, all under /auth/), signing out, static files.
EXEMPT_PREFIXES = ("/auth/", "/accounts/logout/", "/static/", "/i18n/")


def has_second_factor(user: object) -> bool:
    from allauth.mfa.models import Authenticator
    from allauth.mfa.utils import is_mfa_enabled

    return is_mfa_enabled(user, [Authenticator.Type.TOTP, Authenticator.Type.WEBAUTHN])


def needs_two_factor_setup(user: object) -> bool:
    return (
        getattr(user, "is_staff_member", False)
        and SignInPolicy.current().require_two_factor
        and not has_second_factor(user)
    )


class TwoFactorRequiredMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        session = getattr(request, "session", None)
        if session is not None and session.get(SESSION_FLAG) and not request.path.startswith(EXEMPT_PREFIXES):
            if request.user.is_authenticated and needs_two_factor_setup(request.user):
                return redirect(f"{reverse('sso-two-factor')}?required=1")
            del session[SESSION_FLAG]
        return self.get_response(request)
