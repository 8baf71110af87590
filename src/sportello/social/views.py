"""The webhook every social channel account posts to: /social/hooks/<key>/."""

from __future__ import annotations

from django.core.exceptions import RequestDataTooBig
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.views.decorators.csrf import csrf_exempt

from sportello.social import services
from sportello.social.models import ChannelAccount
from sportello.social.platforms.base import Unauthorized


@csrf_exempt
def webhook(request: HttpRequest, key: str) -> HttpResponse:
    account = ChannelAccount.objects.filter(key=key, active=True).first()
    if account is None:
        raise Http404("No such channel")
    if request.method == "GET":
        try:
            answer = services.handshake(account, request)
        except Unauthorized as exc:
            return JsonResponse({"error": str(exc)}, status=403)
        if answer is None:
            return JsonResponse({"error": "This channel takes POST requests only"}, status=405)
        return answer
    if request.method != "POST":
        return JsonResponse({"error": "This channel takes POST requests only"}, status=405)
    try:
        request.body  # noqa: B018 (read once, within the size limit)
    except RequestDataTooBig:
        return JsonResponse({"error": "The request is too large"}, status=413)
    result = services.receive(account, request)
    return JsonResponse(result.body, status=result.status)
