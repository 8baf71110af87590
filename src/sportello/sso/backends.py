"""Password sign-in under the sign-in policy."""

from __future__ import annotations

from typing import Any

from django.contrib.auth.backends import ModelBackend
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest

from sportello.accounts.models import User
from sportello.sso.models import SignInPolicy


def password_allowed(user: User) -> bool:
    """While agents must use single sign-on, only customers and superusers (the break-glass
    accounts of docs/sso.md) sign in with a password."""
    if user.is_superuser or not user.is_staff_member:
        return True
    return not SignInPolicy.current().agents_sso_only


class PasswordPolicyBackend(ModelBackend):
    """Django's username and password check, refusing agents' passwords while SSO is required.

    Raising PermissionDenied stops authenticate() and sends user_login_failed, so the audit trail
    and the sign-in lockout see the attempt as they see a wrong password. Sessions opened by single
    sign-on go through `get_user` of this backend too (allauth logs in with the first backend)."""

    def authenticate(
        self, request: HttpRequest | None, username: str | None = None, password: str | None = None, **kwargs: Any
    ) -> User | None:
        user = super().authenticate(request, username=username, password=password, **kwargs)
        if user is not None and not password_allowed(user):  # type: ignore[arg-type]
            if request is not None:
                request.sso_password_refused = True  # type: ignore[attr-defined]
            raise PermissionDenied("Agents sign in through single sign-on")
        return user  # type: ignore[return-value]
