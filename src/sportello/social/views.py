"""The webhook every social channel account posts to: /social/hooks/<key>/."""

from __future__ import annotations

from django.core.exceptions import RequestDataTooBig
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.views.decorators.csrf import csrf_exempt

from sportello.social import services
from sportello.social.models import AccountKind, ChannelAccount
from sportello.social.platforms.base import Unauthorized

TWIML_EMPTY = '<?xml version="1.0" encoding="UTF-8"?><Response></Response>'


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
    if account.kind == AccountKind.SMS and result.status == 200:
        # Twilio reads the answer to an incoming message as TwiML: an empty <Response> sends nothing
        # back (JSON would be logged as error 12300 in the account's debugger).
        return HttpResponse(TWIML_EMPTY, content_type="text/xml")
    return JsonResponse(result.body, status=result.status)
