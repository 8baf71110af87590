"""The settings page's "Test" for a CTI account, answered in one sentence an admin can act on.

- **Generic CTI**: a PBX cannot be asked anything, so Sportello plays one: a sample outgoing call
  (`newCall`, then `hangup` with cause `cancel`) is posted through the webhook's own URL route and
  view, with a token, as a PBX posts it. The sample runs in a transaction that is rolled back at
  the end: the token it used (put in place of the account's for the duration), the call, its
  events and their live push never outlive the test, and an outgoing call nobody took makes no
  ticket and no callback anyway. The stored token is only a hash, so the PBX's own URL cannot be
  replayed: the test says whether Sportello takes this account's events, not whether the PBX sends them.
- **Twilio Voice**: Twilio's REST API fetches the account
  (https://www.twilio.com/docs/iam/api/account#fetch-an-account-resource:
  `GET /2010-04-01/Accounts/{Sid}.json` with HTTP basic auth, the Account SID and auth token), at
  the account's API address (`api_base`, empty: https://api.twilio.com), which proves both and
  sends nothing to anyone. A refusal is said with Twilio's own words (`{"code", "message"}`); no
  answer at all through core/connection_errors.py.
"""

from __future__ import annotations

import base64
import json
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass
from typing import Any

from django.db import transaction
from django.http import HttpRequest
from django.test.client import RequestFactory
from django.urls import resolve, reverse
from django.utils.translation import gettext as _

from sportello.core.connection_errors import explain
from sportello.phone import crypto
from sportello.phone.models import Call, CallEvent, CtiAccount, CtiKind

TWILIO_API = "https://api.twilio.com"
TIMEOUT = 10  # seconds for Twilio to answer
SAMPLE_CALL_ID = "sportello-test-call"


@dataclass(frozen=True)
class AccountCheck:
    ok: bool
    message: str


def twilio_api(account: CtiAccount) -> str:
    return (account.api_base or TWILIO_API).rstrip("/")


def check_account(account: CtiAccount, request: HttpRequest | None = None) -> AccountCheck:
    """Never raises: every failure is a sentence."""
    if not account.active:
        return AccountCheck(False, _("This account is switched off: its webhook refuses every event. Switch it on."))
    if account.kind == CtiKind.TWILIO:
        return _twilio(account)
    return _generic(account, request)


# --- Generic CTI: a sample call through the webhook ------------------------------------------------------


class _Rollback(Exception):
    pass


def _generic(account: CtiAccount, request: HttpRequest | None) -> AccountCheck:
    if not account.token_hash:
        return AccountCheck(False, _("The account has no webhook URL yet: press “Create URL” and give it to the PBX."))
    key = CtiAccount.new_token()
    sample = {"callId": SAMPLE_CALL_ID, "direction": "out", "from": "anonymous", "to": "anonymous"}
    answers: list[tuple[str, int, dict[str, Any]]] = []
    recorded = False
    try:
        with transaction.atomic():
            CtiAccount.objects.filter(pk=account.pk).update(token_hash=CtiAccount.hash_token(key))
            for event in ({**sample, "event": "newCall"}, {**sample, "event": "hangup", "cause": "cancel"}):
                status, body = _post(key, event, request)
                answers.append((event["event"], status, body))
                if status != 200:
                    break
            else:
                recorded = Call.objects.filter(account=account, call_id=SAMPLE_CALL_ID).exists() and (
                    CallEvent.objects.filter(account=account, key__startswith=f"generic:{SAMPLE_CALL_ID}:").count() == 2
                )
            raise _Rollback  # the sample, and the token it used, are undone
    except _Rollback:
        pass
    for name, status, body in answers:
        if status != 200:
            reason = str(body.get("detail") or status)
            return AccountCheck(
                False,
                _("The webhook did not take the sample %(event)s event (%(status)s: %(reason)s).")
                % {"event": name, "status": status, "reason": reason},
            )
    if not recorded:
        return AccountCheck(False, _("The webhook answered, but the sample call was not recorded."))
    return AccountCheck(
        True,
        _(
            "The webhook takes this account's events: a sample call (newCall, hangup) was accepted and "
            "recorded, then removed. If calls still do not show, check the URL in the PBX."
        ),
    )


def _post(key: str, event: dict[str, str], request: HttpRequest | None) -> tuple[int, dict[str, Any]]:
    """POST `event` form-encoded to the webhook's URL, as a PBX would, through the URL's own view."""
    path = reverse("phone:cti-token", args=[key])
    extra: dict[str, Any] = {"REMOTE_ADDR": "127.0.0.1"}
    if request is not None:
        extra["HTTP_HOST"] = request.get_host()
    fake = RequestFactory().post(
        path, data=urllib.parse.urlencode(event), content_type="application/x-www-form-urlencoded", **extra
    )
    match = resolve(path)
    response = match.func(fake, *match.args, **match.kwargs)
    try:
        body = json.loads(response.content or b"{}")
    except ValueError:
        body = {}
    return response.status_code, body if isinstance(body, dict) else {}


# --- Twilio: fetch the account -------------------------------------------------------------------------


def _twilio(account: CtiAccount) -> AccountCheck:
    sid, token = crypto.unseal(account.account_sid_sealed), crypto.unseal(account.secret_sealed)
    if (account.account_sid_sealed and not sid) or (account.secret_sealed and not token):
        return AccountCheck(
            False, _("The stored credentials cannot be read (the credentials key changed): enter them again.")
        )
    if not sid:
        return AccountCheck(False, _("Enter the Account SID first."))
    if not token:
        return AccountCheck(False, _("Enter the auth token first."))
    base = twilio_api(account)
    url = f"{base}/2010-04-01/Accounts/{urllib.parse.quote(sid)}.json"
    auth = "Basic " + base64.b64encode(f"{sid}:{token}".encode()).decode()
    call = urllib.request.Request(url, headers={"Authorization": auth, "Accept": "application/json"}, method="GET")
    try:
        with urllib.request.urlopen(call, timeout=TIMEOUT) as response:
            answer = _json(response.read(100_000))
    except urllib.error.HTTPError as err:
        return AccountCheck(False, _refused(err.code, _json(err.read(100_000))))
    except (OSError, ValueError) as err:  # no answer: the name, the port, TLS, a timeout; a bad address
        return AccountCheck(False, explain(err, urllib.parse.urlsplit(base).hostname or ""))
    name, status = str(answer.get("friendly_name") or sid), str(answer.get("status") or "")
    if status and status != "active":
        return AccountCheck(
            False, _("Twilio knows the account %(name)s, but it is %(status)s.") % {"name": name, "status": status}
        )
    return AccountCheck(True, _("Connected: the Twilio account %(name)s.") % {"name": name})


def _json(raw: bytes) -> dict[str, Any]:
    try:
        parsed = json.loads(raw)
    except ValueError:
        return {}
    return parsed if isinstance(parsed, dict) else {}


def _refused(status: int, body: dict[str, Any]) -> str:
    """Twilio's errors: `{"code": 20003, "message": "Authenticate", "more_info": …, "status": 401}`."""
    reason = str(body.get("message") or "").strip()
    if body.get("code"):
        reason = f"{reason} (code {body['code']})"
    reason = reason or str(status)
    if status in (401, 403):
        return _("Twilio refused the Account SID and auth token: %(reason)s. Check both in the Twilio console.") % {
            "reason": reason
        }
    if status == 404:
        return _("Twilio does not know this Account SID: %(reason)s.") % {"reason": reason}
    return _("Twilio answered %(status)s: %(reason)s") % {"status": status, "reason": reason}
