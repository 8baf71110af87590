"""Data from outside systems (a shop's orders, a billing system's subscriptions) on a customer's page.

An administrator adds an `Integration` in the admin site: a name (the panel's title) and an
https:// address. For the customer page, Sportello POSTs the customer's identities there:

    {"customer": {"id": 12, "name": "Carla Rossi", "organization": "Acme", "language": "it",
                  "emails": ["carla@example.com"], "phones": ["+39061234567"], "social": []}}

with `Content-Type: application/json`, `X-Sportello-Timestamp: <Unix seconds>` and
`X-Sportello-Signature: sha256=<hex>`, the HMAC-SHA256 of `<timestamp>.<body>` keyed with the
integration's secret (the outgoing webhooks' scheme, automation/webhooks.py): the endpoint checks
it, and may refuse old timestamps. It answers 200 with a JSON object; every part is optional:

    {"summary": "Customer since 2019, 14 orders",
     "orders": [{"id": "A-1001", "date": "2026-11-30", "status": "shipped", "total": "59.90",
                 "currency": "EUR", "items": ["Coffee grinder"], "url": "https://shop.example/o/A-1001"}],
     "subscriptions": [{"name": "Beans monthly", "status": "active", "renews_at": "2027-01-01",
                        "url": "https://shop.example/s/7"}],
     "links": [{"label": "Open in the shop", "url": "https://shop.example/c/12"}],
     "fields": [{"label": "Lifetime value", "value": "1,240 EUR"}]}

Everything is shown as text (escaped); a `url` is a link only when it is http(s); lists are cut at
MAX_ITEMS. Unknown keys are ignored, so an endpoint can send more than Sportello shows.

The call has a short timeout (the integration's, at most MAX_TIMEOUT seconds) and goes only to
public addresses (plain http only to hosts on SPORTELLO_WEBHOOK_ALLOW_HOSTS, an internal system),
with the webhooks' SSRF guard. An answer is cached for the integration's `cache_seconds`, keyed by
what was sent (a new address asks again); a failure for FAILURE_CACHE seconds, and the panel says
in one sentence what went wrong. The page loads the panels after itself (htmx), so a slow shop
never slows the customer's page.
"""

from __future__ import annotations

import hashlib
import http.client
import json
import logging
import socket
import time
from dataclasses import dataclass
from typing import Annotated, Any
from urllib.parse import urlsplit

from django.core.cache import cache
from django.utils.translation import gettext as _
from pydantic import BaseModel, BeforeValidator, ConfigDict, ValidationError

from sportello.customers.models import Customer, IdentityKind, Integration

log = logging.getLogger("sportello.customers")

MAX_TIMEOUT = 10
MAX_BODY = 512 * 1024
MAX_ITEMS = 20
FAILURE_CACHE = 30


def _text(value: Any) -> str:
    """Numbers and text become text (a total may come as 59.9 or "59.90"); anything else is refused."""
    if value is None:
        return ""
    if isinstance(value, bool) or not isinstance(value, str | int | float):
        raise ValueError("expected text or a number")
    return str(value)[:500]


def _link(value: Any) -> str:
    """A URL is kept only when it is http(s); anything else (javascript:, data:) is dropped."""
    text = _text(value)
    return text if urlsplit(text).scheme in ("http", "https") else ""


Text = Annotated[str, BeforeValidator(_text)]
Link = Annotated[str, BeforeValidator(_link)]


class _Part(BaseModel):
    model_config = ConfigDict(extra="ignore")


class Order(_Part):
    id: Text = ""
    date: Text = ""
    status: Text = ""
    total: Text = ""
    currency: Text = ""
    items: list[Text] = []
    url: Link = ""


class Subscription(_Part):
    name: Text = ""
    status: Text = ""
    renews_at: Text = ""
    url: Link = ""


class LinkOut(_Part):
    label: Text = ""
    url: Link = ""


class FieldOut(_Part):
    label: Text = ""
    value: Text = ""


class Answer(_Part):
    summary: Text = ""
    orders: list[Order] = []
    subscriptions: list[Subscription] = []
    links: list[LinkOut] = []
    fields: list[FieldOut] = []

    def cut(self) -> Answer:
        for name in ("orders", "subscriptions", "links", "fields"):
            setattr(self, name, getattr(self, name)[:MAX_ITEMS])
        for order in self.orders:
            order.items = order.items[:MAX_ITEMS]
        return self


@dataclass
class Panel:
    """One integration's panel: its answer, or the sentence that says why there is none."""

    name: str
    answer: Answer | None = None
    error: str = ""


class CallFailed(Exception):
    pass


def payload_for(customer: Customer) -> dict[str, Any]:
    identities = list(customer.identities.all())

    def values(kind: str) -> list[str]:
        return [identity.value for identity in identities if identity.kind == kind]

    return {
        "customer": {
            "id": customer.pk,
            "name": customer.name,
            "organization": customer.organization.name if customer.organization else None,
            "language": customer.language,
            "emails": values(IdentityKind.EMAIL),
            "phones": values(IdentityKind.PHONE),
            "social": values(IdentityKind.SOCIAL),
        }
    }


def panels_for(customer: Customer) -> list[Panel]:
    """The panels of every enabled integration for this customer (cached answers where fresh)."""
    integrations = list(Integration.objects.filter(enabled=True))
    if not integrations:
        return []
    body = json.dumps(payload_for(customer), separators=(",", ":"), sort_keys=True).encode()
    return [_panel(integration, body) for integration in integrations]


def _panel(integration: Integration, body: bytes) -> Panel:
    fingerprint = hashlib.sha256(b"\0".join([integration.url.encode(), integration.secret.encode(), body])).hexdigest()
    key = f"sportello:integration:{integration.pk}:{fingerprint}"
    cached = cache.get(key)
    if cached is not None:
        kind, value = cached
        return (
            Panel(integration.name, Answer.model_validate(value))
            if kind == "ok"
            else Panel(integration.name, error=value)
        )
    try:
        answer = call(integration, body)
    except CallFailed as exc:
        log.info("integration %s (%s) failed: %s", integration.pk, integration.name, exc)
        cache.set(key, ("error", str(exc)), FAILURE_CACHE)
        return Panel(integration.name, error=str(exc))
    cache.set(key, ("ok", answer.model_dump()), integration.cache_seconds)
    return Panel(integration.name, answer)


def call(integration: Integration, body: bytes) -> Answer:
    """POST the signed body to the integration; its answer in the documented shape, or CallFailed
    with a sentence for the agent."""
    from sportello.automation.webhooks import Refused, allowed_host, sign

    parts = urlsplit(integration.url)
    host = parts.hostname or ""
    if not host or parts.scheme not in ("http", "https"):
        raise CallFailed(_("Its address is not an https:// address."))
    if parts.scheme == "http" and not allowed_host(host):
        raise CallFailed(_("Its address must start with https:// (plain http only for an allowed internal host)."))
    timeout = max(1, min(integration.timeout_seconds or 3, MAX_TIMEOUT))
    timestamp = str(int(time.time()))
    headers = {
        "Content-Type": "application/json",
        "Accept": "application/json",
        "User-Agent": "Sportello-Integration/1",
        "X-Sportello-Timestamp": timestamp,
        "X-Sportello-Signature": sign(body, timestamp, integration.secret),
    }
    try:
        status, content = _post(integration.url, body, headers, timeout)
    except Refused as exc:
        raise CallFailed(_("Its address is not a public internet address.")) from exc
    except TimeoutError as exc:
        raise CallFailed(_("It did not answer within %(seconds)d seconds.") % {"seconds": timeout}) from exc
    except socket.gaierror as exc:
        raise CallFailed(_("Its host name does not resolve.")) from exc
    except (OSError, http.client.HTTPException, ValueError) as exc:
        raise CallFailed(_("It could not be reached (%(error)s).") % {"error": exc or type(exc).__name__}) from exc
    if status != 200:
        raise CallFailed(_("It answered %(status)d instead of 200.") % {"status": status})
    if content is None:
        raise CallFailed(_("Its answer was larger than %(size)d KB.") % {"size": MAX_BODY // 1024})
    try:
        data = json.loads(content)
        if not isinstance(data, dict):
            raise ValueError("not an object")
        return Answer.model_validate(data).cut()
    except (ValueError, ValidationError) as exc:
        raise CallFailed(_("Its answer was not JSON in the documented shape.")) from exc


def _post(url: str, body: bytes, headers: dict[str, str], timeout: float) -> tuple[int, bytes | None]:
    """POST through an address checked by the webhooks' SSRF guard; the status and the body (None
    when it is larger than MAX_BODY). Redirects are not followed."""
    from sportello.automation.webhooks import _PinnedHTTPConnection, _PinnedHTTPSConnection, addresses_for

    parts = urlsplit(url)
    host = parts.hostname or ""
    port = parts.port or (443 if parts.scheme == "https" else 80)
    path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    pinned = _PinnedHTTPSConnection if parts.scheme == "https" else _PinnedHTTPConnection
    last_error: OSError | None = None
    # One deadline for the whole call, not one per address or per read.
    deadline = time.monotonic() + timeout
    for address in addresses_for(host, port):
        left = deadline - time.monotonic()
        if left <= 0:
            raise TimeoutError("timed out")
        connection = pinned(host, port, address, left)
        try:
            connection.request("POST", path, body=body, headers=headers)
            response = connection.getresponse()
            content = response.read(MAX_BODY + 1)
            return response.status, content if len(content) <= MAX_BODY else None
        except ConnectionRefusedError as exc:
            last_error = exc
        finally:
            connection.close()
    raise last_error or OSError("no address")
