"""Channel credentials kept encrypted at rest (Fernet: AES-128-CBC with an HMAC-SHA256 tag).

The key comes from the environment: `SPORTELLO_CREDENTIALS_KEY` when set (so the database alone,
a backup of it, never opens them), else derived from SECRET_KEY. Changing the key makes stored
credentials unreadable: the channel then says so and asks for them again.
"""

from __future__ import annotations

import base64
import json
import os
from typing import Any

from cryptography.fernet import Fernet, InvalidToken
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from django.conf import settings


class UnreadableCredentials(Exception):
    """The stored credentials cannot be decrypted with the key in force."""


def _fernet() -> Fernet:
    secret = os.environ.get("SPORTELLO_CREDENTIALS_KEY") or settings.SECRET_KEY
    key = HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=b"sportello.social.credentials").derive(
        secret.encode()
    )
    return Fernet(base64.urlsafe_b64encode(key))


def seal(values: dict[str, str]) -> str:
    return _fernet().encrypt(json.dumps(values, sort_keys=True).encode()).decode("ascii")


def unseal(token: str) -> dict[str, Any]:
    if not token:
        return {}
    try:
        return json.loads(_fernet().decrypt(token.encode("ascii")))
    except (InvalidToken, ValueError) as exc:
        raise UnreadableCredentials("The channel's credentials cannot be read with this key; enter them again") from exc


def masked(value: str) -> str:
    """What a settings page shows of a secret: never more than its last four characters."""
    value = str(value or "")
    if not value:
        return ""
    return "••••" + (value[-4:] if len(value) >= 12 else "")
