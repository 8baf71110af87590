"""Middleware of our own: the parts of the security headers that depend on the request, and JSON
answers for the API's paths that Django would otherwise answer with an HTML page.
"""

from __future__ import annotations

from collections.abc import Callable

from csp.middleware import CSPMiddleware, PolicyParts
from django.core.exceptions import DisallowedHost
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.http.response import HttpResponseBase

API_PREFIX = "/api/"


class ContentSecurityPolicyMiddleware(CSPMiddleware):
    """django-csp's policy (settings.CONTENT_SECURITY_POLICY), plus what only the request can tell.

    - `connect-src` names the page's own host with ws:// and wss://: the chat console and the agents'
      live updates open a websocket there, and older browsers do not count it as 'self'.
    - A page that other sites may frame — a view marked `xframe_options_exempt`, such as the
      embeddable web form — drops `frame-ancestors`, so the policy allows exactly what the missing
      X-Frame-Options header allows; every other page may not be framed at all.
    """

    def get_policy_parts(
        self, request: HttpRequest, response: HttpResponseBase, report_only: bool = False
    ) -> PolicyParts:
        parts = super().get_policy_parts(request, response, report_only)
        try:
            host = request.get_host()
        except DisallowedHost:  # answered 400 already; the base policy is enough for that page
            host = ""
        if host:
            parts.update = {**(parts.update or {}), "connect-src": [f"ws://{host}", f"wss://{host}"]}
        if getattr(response, "xframe_options_exempt", False):
            parts.replace = {**(parts.replace or {}), "frame-ancestors": None}
        return parts


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
