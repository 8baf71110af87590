"""The settings page's "Test" for a channel account: ask the platform who the credentials belong to.

Each platform has an identity endpoint that needs the same credentials as sending, and sends
nothing to anyone: Telegram's `getMe` (and `getWebhookInfo`, to say where the bot's updates go),
WhatsApp's phone number lookup, Twilio's account fetch, the Graph API's Page (Messenger) or
Instagram account lookup. The calls go through the adapters' own HTTP client and base address,
so a test exercises what a reply will use. The answer is one sentence an admin can act on.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from django.conf import settings
from django.urls import reverse
from django.utils.translation import gettext as _

from sportello.core.connection_errors import explain
from sportello.social import http, secrets
from sportello.social.models import AccountKind, ChannelAccount
from sportello.social.platforms import generic, meta, telegram, twilio_sms
from sportello.social.platforms.meta import Instagram, Messenger
from sportello.social.platforms.telegram import Telegram
from sportello.social.platforms.twilio_sms import TwilioSms
from sportello.social.platforms.whatsapp import WhatsApp


@dataclass
class AccountCheck:
    ok: bool
    message: str


class Missing(Exception):
    """A credential or setting the check needs is empty."""


def webhook_url(account: ChannelAccount) -> str:
    """The address to paste into the platform's settings."""
    return settings.SITE_URL + reverse("social:webhook", kwargs={"key": account.key})


def check_account(account: ChannelAccount) -> AccountCheck:
    """Call the platform's identity endpoint with the stored credentials; never raises."""
    try:
        credentials = account.credentials
    except secrets.UnreadableCredentials as exc:
        return AccountCheck(False, str(exc))
    check, address = CHECKS[account.kind]
    try:
        return check(account, credentials)
    except Missing as exc:
        return AccountCheck(False, str(exc))
    except http.PlatformError as exc:
        return AccountCheck(False, refused(exc))
    except OSError as exc:  # no answer: the name, the port, TLS, a timeout
        host = urlsplit(address(account)).hostname or ""
        return AccountCheck(False, explain(exc, host))


def refused(exc: http.PlatformError) -> str:
    if exc.status in (401, 403):
        return _("The platform refused the credentials: %(reason)s") % {"reason": exc.message}
    if exc.status == 404:
        return _("The platform does not know this account: %(reason)s. Check the id.") % {"reason": exc.message}
    return _("The platform answered %(status)s: %(reason)s") % {"status": exc.status, "reason": exc.message}


def _need(values: dict[str, Any], name: str, label: str) -> str:
    value = str(values.get(name) or "").strip()
    if not value:
        raise Missing(_("Enter the %(what)s first.") % {"what": label})
    return value


# --- Telegram ----------------------------------------------------------------------------------------


def _telegram_base(account: ChannelAccount) -> str:
    return Telegram()._base(account)


def _telegram(account: ChannelAccount, credentials: dict[str, Any]) -> AccountCheck:
    _need(credentials, "bot_token", _("bot token"))
    base = _telegram_base(account)
    _status, answer, _raw = http.call("GET", f"{base}/getMe", describe=telegram._describe)
    bot = (answer or {}).get("result") or {}
    name = f"@{bot.get('username')}" if bot.get("username") else str(bot.get("first_name") or "?")
    _status, info, _raw = http.call("GET", f"{base}/getWebhookInfo", describe=telegram._describe)
    hooked = str(((info or {}).get("result") or {}).get("url") or "")
    if hooked == webhook_url(account):
        where = _("Its updates come here.")
        ok = True
    elif not hooked:
        where = _("Its webhook is not set: press “Point the bot here”.")
        ok = False
    else:
        where = _("Its updates go to another address (%(url)s): press “Point the bot here”.") % {"url": hooked}
        ok = False
    return AccountCheck(ok, _("Connected: the bot %(name)s.") % {"name": name} + " " + where)


def set_telegram_webhook(account: ChannelAccount) -> AccountCheck:
    """`setWebhook` with this channel's address and secret token: Telegram then posts the bot's
    messages here, with the token in its header."""
    try:
        credentials = account.credentials
        _need(credentials, "bot_token", _("bot token"))
        token = _need(credentials, "secret_token", _("secret token"))
        payload = {"url": webhook_url(account), "secret_token": token, "allowed_updates": ["message"]}
        http.call("POST", f"{_telegram_base(account)}/setWebhook", payload=payload, describe=telegram._describe)
    except (secrets.UnreadableCredentials, Missing) as exc:
        return AccountCheck(False, str(exc))
    except http.PlatformError as exc:
        return AccountCheck(False, refused(exc))
    except OSError as exc:
        return AccountCheck(False, explain(exc, urlsplit(_telegram_base(account)).hostname or ""))
    return AccountCheck(True, _("Telegram now sends the bot's messages to %(url)s.") % {"url": webhook_url(account)})


# --- Meta: WhatsApp, Messenger, Instagram --------------------------------------------------------------


def _whatsapp(account: ChannelAccount, credentials: dict[str, Any]) -> AccountCheck:
    token = _need(credentials, "access_token", _("access token"))
    number = _need(account.settings, "phone_number_id", _("phone number id"))
    url = f"{WhatsApp()._root(account)}/{number}?fields=display_phone_number,verified_name"
    _status, answer, _raw = meta.graph_call("GET", url, token)
    answer = answer or {}
    return AccountCheck(
        True,
        _("Connected: %(number)s (%(name)s).")
        % {"number": answer.get("display_phone_number") or number, "name": answer.get("verified_name") or "?"},
    )


def _messenger(account: ChannelAccount, credentials: dict[str, Any]) -> AccountCheck:
    token = _need(credentials, "page_access_token", _("page access token"))
    page = _need(account.settings, "page_id", _("Page id"))
    _status, answer, _raw = meta.graph_call("GET", f"{Messenger()._root(account)}/{page}?fields=name", token)
    return AccountCheck(True, _("Connected: the Page %(name)s.") % {"name": (answer or {}).get("name") or page})


def _instagram(account: ChannelAccount, credentials: dict[str, Any]) -> AccountCheck:
    token = _need(credentials, "page_access_token", _("page access token"))
    page = _need(account.settings, "page_id", _("Instagram account id"))
    _status, answer, _raw = meta.graph_call("GET", f"{Instagram()._root(account)}/{page}?fields=username", token)
    name = (answer or {}).get("username")
    return AccountCheck(True, _("Connected: the Instagram account %(name)s.") % {"name": f"@{name}" if name else page})


# --- Twilio ------------------------------------------------------------------------------------------


def _sms(account: ChannelAccount, credentials: dict[str, Any]) -> AccountCheck:
    sid = _need(credentials, "account_sid", _("account SID"))
    token = _need(credentials, "auth_token", _("auth token"))
    url = f"{TwilioSms()._base(account)}/2010-04-01/Accounts/{sid}.json"
    _status, answer, _raw = http.call("GET", url, headers=twilio_sms._basic(sid, token), describe=twilio_sms._describe)
    answer = answer or {}
    name, status = str(answer.get("friendly_name") or sid), str(answer.get("status") or "")
    if status and status != "active":
        return AccountCheck(False, _("The Twilio account %(name)s is %(status)s.") % {"name": name, "status": status})
    return AccountCheck(True, _("Connected: the Twilio account %(name)s.") % {"name": name})


# --- The signed webhook: no platform to ask --------------------------------------------------------------


def _generic(account: ChannelAccount, credentials: dict[str, Any]) -> AccountCheck:
    _need(credentials, "secret", _("secret"))
    url = str(account.settings.get("delivery_url") or "")
    if not url:
        return AccountCheck(True, _("Ready to receive; replies are not sent anywhere (no delivery URL)."))
    try:
        generic._check_address(url)
    except http.PlatformError as exc:
        return AccountCheck(False, _("Replies cannot be delivered: %(reason)s") % {"reason": exc.message})
    return AccountCheck(
        True, _("Ready: a signed webhook has no platform to ask; replies go to %(url)s.") % {"url": url}
    )


CHECKS: dict[str, tuple[Callable[[ChannelAccount, dict[str, Any]], AccountCheck], Callable[[ChannelAccount], str]]] = {
    AccountKind.TELEGRAM: (_telegram, _telegram_base),
    AccountKind.WHATSAPP: (_whatsapp, lambda account: WhatsApp()._root(account)),
    AccountKind.MESSENGER: (_messenger, lambda account: Messenger()._root(account)),
    AccountKind.INSTAGRAM: (_instagram, lambda account: Instagram()._root(account)),
    AccountKind.SMS: (_sms, lambda account: TwilioSms()._base(account)),
    AccountKind.GENERIC: (_generic, lambda account: str(account.settings.get("delivery_url") or "")),
}
