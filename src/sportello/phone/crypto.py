"""Secrets a channel must read back (a Twilio auth token signs every request): kept encrypted.

Fernet (AES-128-CBC with HMAC-SHA256) with a key derived from SECRET_KEY, so a database dump alone
does not give the secret away. Changing SECRET_KEY makes stored secrets unreadable: `unseal` then
returns "" and the account shows the error until an admin enters the secret again.
"""

from __future__ import annotations

import base64
import hashlib

from cryptography.fernet import Fernet, InvalidToken
from django.conf import settings


def _fernet() -> Fernet:
    digest = hashlib.sha256(b"sportello.phone.secrets:" + settings.SECRET_KEY.encode()).digest()
    return Fernet(base64.urlsafe_b64encode(digest))


def seal(secret: str) -> str:
    return _fernet().encrypt(secret.encode()).decode() if secret else ""


def unseal(sealed: str) -> str:
    if not sealed:
        return ""
    try:
        return _fernet().decrypt(sealed.encode()).decode()
    except (InvalidToken, ValueError):
        return ""
