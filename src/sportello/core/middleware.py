"""Middleware of our own: the parts of the security headers that depend on the request, JSON
answers for the API's paths that Django would otherwise answer with an HTML page, the signed-in
agent's language and time zone, and a shorter way through for the API's token calls.
"""

from __future__ import annotations

import threading
import zoneinfo
from collections.abc import Callable
from dataclasses import asdict
from functools import partial
from typing import Any

from csp.constants import HEADER, HEADER_REPORT_ONLY
from csp.middleware import CheckableLazyObject, CSPMiddleware, PolicyParts
from csp.utils import build_policy
from django.conf import settings
from django.contrib.auth.models import AnonymousUser
from django.core.exceptions import DisallowedHost, ImproperlyConfigured
from django.core.handlers.exception import convert_exception_to_response
from django.core.signals import setting_changed
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.http.response import HttpResponseBase
from django.utils import timezone, translation
from django.utils.module_loading import import_string

API_PREFIX = "/api/"


class ContentSecurityPolicyMiddleware(CSPMiddleware):
    """django-csp's policy (settings.CONTENT_SECURITY_POLICY), plus what only the request can tell.

    - `connect-src` names the page's own host with ws:// and wss://: the chat console and the agents'
      live updates open a websocket there, and older browsers do not count it as 'self'.
    - A page that other sites may frame — a view marked `xframe_options_exempt`, such as the
      embeddable web form — drops `frame-ancestors`, so the policy allows exactly what the missing
      X-Frame-Options header allows; every other page may not be framed at all.
    """

    # A view's own policy (`csp_update`, `csp_replace`, …) on its response: built for it alone.
    TAILORED = ("_csp_config", "_csp_update", "_csp_replace", "_csp_config_ro", "_csp_update_ro", "_csp_replace_ro")
    MAX_KEPT = 256  # hosts by framing; ALLOWED_HOSTS may be "*", so the host is the client's say

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponseBase]) -> None:
        super().__init__(get_response)
        # (host, may be framed) → both headers, for the responses without a nonce or a policy of
        # their own (every API answer): django-csp builds the policy twice a response otherwise,
        # ~5% of an API create's CPU. Forgotten when a test changes the settings.
        self._plain: dict[tuple[str, bool], tuple[str, str]] = {}
        setting_changed.connect(self._forget, weak=True)

    def _forget(self, **_signal: object) -> None:
        self._plain = {}

    def process_response(self, request: HttpRequest, response: HttpResponseBase) -> HttpResponseBase:
        if getattr(request, "_csp_nonce", None) is not None or any(hasattr(response, name) for name in self.TAILORED):
            return super().process_response(request, response)
        if response.status_code in (500, 404) and settings.DEBUG:
            return response  # django-csp leaves the debug pages alone
        key = (_host(request), getattr(response, "xframe_options_exempt", False))
        headers = self._plain.get(key)
        if headers is None:
            parts, parts_ro = (self.get_policy_parts(request, response, report_only=ro) for ro in (False, True))
            headers = (build_policy(**asdict(parts)), build_policy(**asdict(parts_ro), report_only=True))
            if len(self._plain) >= self.MAX_KEPT:
                self._plain = {}
            self._plain[key] = headers
        for header, value, exempt, setting in (
            (HEADER, headers[0], "_csp_exempt", "CONTENT_SECURITY_POLICY"),
            (HEADER_REPORT_ONLY, headers[1], "_csp_exempt_ro", "CONTENT_SECURITY_POLICY_REPORT_ONLY"),
        ):
            if not value or header in response or getattr(response, exempt, False):
                continue
            excluded = (getattr(settings, setting, None) or {}).get("EXCLUDE_URL_PREFIXES") or ()
            if not request.path_info.startswith(tuple(excluded)):
                response[header] = value
        # As django-csp does: a nonce asked for after the header was written is an error.
        request.csp_nonce = CheckableLazyObject(self._csp_nonce_post_response)  # type: ignore[attr-defined]
        return response

    def get_policy_parts(
        self, request: HttpRequest, response: HttpResponseBase, report_only: bool = False
    ) -> PolicyParts:
        parts = super().get_policy_parts(request, response, report_only)
        host = _host(request)
        if host:
            parts.update = {**(parts.update or {}), "connect-src": [f"ws://{host}", f"wss://{host}"]}
        if getattr(response, "xframe_options_exempt", False):
            parts.replace = {**(parts.replace or {}), "frame-ancestors": None}
        return parts


def _host(request: HttpRequest) -> str:
    try:
        return request.get_host()
    except DisallowedHost:  # answered 400 already; the base policy is enough for that page
        return ""


class ApiJsonErrorsMiddleware:
    """Under /api/, a 404 for an unknown path and a 405 for an unknown method are JSON like every
    other API error (`{"detail": …}`), not Django's HTML pages; the Allow header of a 405 is kept."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponseBase]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponseBase:
        response = self.get_response(request)
        if not request.path.startswith(API_PREFIX) or response.status_code not in (404, 405):
            return response
        if response.get("Content-Type", "").startswith("application/json"):
            return response  # the API's own answer (an unknown ticket, …)
        if response.status_code == 404:
            return JsonResponse({"detail": f"No API operation at {request.path}"}, status=404)
        answer: HttpResponse = JsonResponse(
            {"detail": f"Method {request.method} is not allowed here; use {response.get('Allow', 'another')}"},
            status=405,
        )
        if "Allow" in response:
            answer["Allow"] = response["Allow"]
        return answer


Handler = Callable[[HttpRequest], HttpResponseBase]

# The inner end of the middleware chain being built in this thread (Django builds it inside out).
_built = threading.local()


class TokenApiShortcut:
    """A call to /api/ with a Bearer token and no session cookie skips the browser's middleware.

    Such a call has no session to load, no CSRF token to check (a token is not sent by a browser
    on its own), no messages and no agent preferences (skipped under /api/): the sessions, CSRF,
    authentication, preferences, two-factor and messages middleware cost ~6% of an API create and
    do nothing for it. This sits before them in MIDDLEWARE and `TokenApiShortcutEnd` after the
    last: the call goes through LEAN (language, common, who acts for the audit, allauth's context,
    X-Frame-Options) straight to the view, as anonymous until the view's TokenAuth says who it is.

    Everything else takes the whole chain: a call with a session cookie (a browser: it is checked
    for CSRF and answered by its session as before, token or not), Basic authentication, pages.
    """

    LEAN = (
        "django.middleware.locale.LocaleMiddleware",
        "django.middleware.common.CommonMiddleware",
        "sportello.audit.middleware.CurrentRequestMiddleware",
        "allauth.account.middleware.AccountMiddleware",
        "django.middleware.clickjacking.XFrameOptionsMiddleware",
    )

    def __init__(self, get_response: Handler) -> None:
        self.get_response = get_response
        end: Any = getattr(_built, "end", None)
        _built.end = None
        if end is None:
            raise ImproperlyConfigured("TokenApiShortcutEnd must be the last of MIDDLEWARE, after TokenApiShortcut")
        for path in reversed(self.LEAN):  # as Django builds its chain, inside out
            end = convert_exception_to_response(import_string(path)(end))
        self.lean: Handler = end

    def __call__(self, request: HttpRequest) -> HttpResponseBase:
        if not self.takes_shortcut(request):
            return self.get_response(request)
        request.user = AnonymousUser()  # TokenAuth puts the token's user here
        request.auser = partial(_user_of, request)
        return self.lean(request)

    @staticmethod
    def takes_shortcut(request: HttpRequest) -> bool:
        return (
            request.path.startswith(API_PREFIX)
            and request.META.get("HTTP_AUTHORIZATION", "")[:7].lower() == "bearer "
            and settings.SESSION_COOKIE_NAME not in request.COOKIES
        )


async def _user_of(request: HttpRequest) -> Any:
    return request.user


class TokenApiShortcutEnd:
    """The inner end of the chain, whose handler (the view's) TokenApiShortcut calls."""

    def __init__(self, get_response: Handler) -> None:
        self.get_response = get_response
        _built.end = get_response

    def __call__(self, request: HttpRequest) -> HttpResponseBase:
        return self.get_response(request)


class AgentPreferencesMiddleware:
    """An agent's pages speak the language and show the time zone chosen on their profile page.

    Runs after LocaleMiddleware (which picked the browser's language, or the language switcher's
    cookie) and after authentication: a staff member with a language of their own gets it instead;
    one who left it unset keeps the browser's. Their time zone is activated for the whole request,
    so every date a template shows is in it. Customers and anonymous visitors are untouched (the
    portal decides their language itself); the API and static files are skipped, so no request
    there loads a user it did not need.
    """

    SKIPPED = (API_PREFIX, "/static/", "/healthz")

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponseBase]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponseBase:
        if request.path.startswith(self.SKIPPED):
            return self.get_response(request)
        user = getattr(request, "user", None)
        if user is None or not user.is_authenticated or not getattr(user, "is_staff_member", False):
            return self.get_response(request)
        language = user.language if user.language in dict(settings.LANGUAGES) else ""
        if language:
            translation.activate(language)
            request.LANGUAGE_CODE = language
        timezone.activate(agent_time_zone(user.time_zone))
        try:
            return self.get_response(request)
        finally:
            timezone.deactivate()


def agent_time_zone(name: str) -> zoneinfo.ZoneInfo:
    """The zone an agent chose, or the site's default when it is unset or unknown."""
    for candidate in (name, settings.TIME_ZONE, "UTC"):
        try:
            return zoneinfo.ZoneInfo(candidate)
        except (zoneinfo.ZoneInfoNotFoundError, ValueError):
            continue
    return zoneinfo.ZoneInfo("UTC")
