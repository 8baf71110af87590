"""Middleware of our own: JSON answers for the API's paths that Django would otherwise answer with
an HTML page.
"""

from __future__ import annotations

from collections.abc import Callable

from django.http import HttpRequest, HttpResponse, JsonResponse
from django.http.response import HttpResponseBase

API_PREFIX = "/api/"


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
