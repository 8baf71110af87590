"""Secrets a channel must read back (a Twilio auth token signs every request): kept encrypted.

Fernet (AES-128-CBC with an HMAC-SHA256 tag), keyed as the social channels' credentials are
(social/secrets.py): from `SPORTELLO_CREDENTIALS_KEY` when set (so the database alone, or a backup
of it, never opens them), else from SECRET_KEY, through HKDF with a label of the phone's own.
Changing the key makes stored secrets unreadable: `unseal` then returns "", the account's requests
are refused, and it shows the error until an admin enters the secret again.
"""

from __future__ import annotations

import base64
import os

from cryptography.fernet import Fernet, InvalidToken
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from django.conf import settings


def _fernet() -> Fernet:
    secret = os.environ.get("SPORTELLO_CREDENTIALS_KEY") or settings.SECRET_KEY
    key = HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=b"sportello.phone.credentials").derive(
        secret.encode()
    )
    return Fernet(base64.urlsafe_b64encode(key))


def seal(secret: str) -> str:
    return _fernet().encrypt(secret.encode()).decode("ascii") if secret else ""


def unseal(sealed: str) -> str:
    if not sealed:
        return ""
    try:
        return _fernet().decrypt(sealed.encode()).decode()
    except (InvalidToken, ValueError):
        return ""
