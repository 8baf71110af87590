"""Sign-in through allauth's stages, so that an account with two-factor is asked for it."""

from __future__ import annotations

from allauth.account.internal.flows.login import record_authentication
from allauth.account.utils import perform_login
from django.http import HttpRequest, HttpResponse

from sportello.accounts.models import User


def finish_password_sign_in(request: HttpRequest, user: User, redirect_url: str) -> HttpResponse:
    """After a right password (accounts.LoginView): the second factor when the user has one, then
    Django's login (user_logged_in: the audit trail). Recording the password lets the user change
    their second factors in the next minutes without being asked again (allauth's reauthentication)."""
    record_authentication(request, user, method="password", username=user.get_username())
    return perform_login(request, user, redirect_url=redirect_url)
