"""Twilio's request signature, shared by every Twilio webhook (Voice in phone/, SMS in social/).

https://www.twilio.com/docs/usage/security#validating-requests: HMAC-SHA1, keyed with the account's
auth token, of the full URL Twilio called followed by each POST parameter's name and value, sorted
by name; base64 in `X-Twilio-Signature`.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from collections.abc import Iterable, Mapping

Fields = Mapping[str, list[str]]


def twilio_signature(url: str, fields: Fields, auth_token: str) -> str:
    """X-Twilio-Signature of a POST to `url` with `fields`, as Twilio computes it."""
    data = url + "".join(name + value for name in sorted(fields) for value in sorted(fields[name]))
    digest = hmac.new(auth_token.encode(), data.encode(), hashlib.sha1).digest()
    return base64.b64encode(digest).decode()


def twilio_signature_ok(url: str, fields: Fields, auth_token: str, signature: str) -> bool:
    if not auth_token or not signature:
        return False
    return hmac.compare_digest(twilio_signature(url, fields, auth_token), signature.strip())


def signed_by_twilio(urls: Iterable[str], fields: Fields, auth_token: str, signature: str) -> bool:
    """Whether any of `urls` (as this server sees itself, or its public SITE_URL behind a proxy
    that ends TLS) is the one Twilio signed."""
    return any(twilio_signature_ok(url, fields, auth_token, signature) for url in urls)
