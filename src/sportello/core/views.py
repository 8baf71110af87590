"""Views of the core app: the benchmark ceiling endpoint (off unless SPORTELLO_BENCH_ENDPOINTS=1)."""

from __future__ import annotations

import uuid

from django.http import HttpRequest, JsonResponse
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST

from sportello.core.models import Counter


@csrf_exempt
@require_POST
def bench_insert(request: HttpRequest) -> JsonResponse:
    """One INSERT and a JSON answer: the ceiling `bench/api_create.py` compares ticket creation to."""
    row = Counter.objects.create(name=f"bench-{uuid.uuid4().hex[:40]}", value=len(request.body))
    return JsonResponse({"name": row.name}, status=201)
