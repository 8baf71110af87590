"""Fixed-window request counters per client IP and per email address, in Django's cache, and the
lock after repeated failed sign-ins (agents' and the portal's passwords).

The public forms (web form, portal sign-in links) count every request, known sender or not, so a
limit tells nobody who is a customer; failed sign-ins are counted for unknown accounts too.
"""

from __future__ import annotations

import hashlib
import math
import time
from dataclasses import dataclass

from django.conf import settings
from django.core.cache import cache
from django.http import HttpRequest


def _keys(scope: str, client_ip: str, email: str) -> list[str]:
    # Hashed, so that any address makes a valid key for every cache backend (memcached: no spaces).
    keys = []
    if client_ip:
        keys.append(f"{scope}:ip:" + hashlib.sha256(client_ip.encode()).hexdigest()[:32])
    if email:
        keys.append(f"{scope}:email:" + hashlib.sha256(email.strip().lower().encode()).hexdigest()[:32])
    return keys


def count_request(scope: str, *, client_ip: str, email: str, limit: int, window: int) -> bool:
    """Count one request per client IP and per email address; False (and not counted) past `limit`.

    1. Refuse when either counter already holds `limit` requests of this window.
    2. Otherwise count this one: `add` starts a window (with its expiry) only when none is running,
       `incr` is atomic in every cache backend and keeps the expiry.
    Two simultaneous requests may both pass step 1 at the limit's edge; one extra is harmless, and
    no lock is worth it.
    """
    keys = _keys(scope, client_ip, email)
    counts = cache.get_many(keys)
    if any(int(counts.get(key, 0)) >= limit for key in keys):
        return False
    for key in keys:
        cache.add(key, 0, timeout=window)
        try:
            cache.incr(key)
        except ValueError:  # the window ended between add and incr
            cache.set(key, 1, timeout=window)
    return True


# --- Failed sign-ins ------------------------------------------------------------------------------------
#
# Password guessing is stopped per account and per client address: after `account_limit` failed
# sign-ins for one account (from anywhere), or `ip_limit` from one address (for any accounts),
# within `window` seconds, sign-in is refused for `lock` seconds — with the right password too, or
# the lock would only slow a guesser down. A successful sign-in clears the account's count.
# The lock ends at a time stored with it, so the refusal says when to try again.


@dataclass(frozen=True)
class SignInPolicy:
    account_limit: int
    ip_limit: int
    window: int  # seconds over which failures are counted
    lock: int  # seconds a lock lasts


def sign_in_policy() -> SignInPolicy:
    return SignInPolicy(
        account_limit=settings.SIGN_IN_ACCOUNT_LIMIT,
        ip_limit=settings.SIGN_IN_IP_LIMIT,
        window=settings.SIGN_IN_WINDOW,
        lock=settings.SIGN_IN_LOCK,
    )


def _digest(value: str) -> str:
    return hashlib.sha256(value.encode()).hexdigest()[:32]


def _sign_in_keys(scope: str, client_ip: str, account: str) -> dict[str, str]:
    """The counters' cache keys by kind ("ip", "account"), hashed as in `_keys`."""
    keys = {}
    if client_ip:
        keys["ip"] = f"{scope}:sign-in:ip:{_digest(client_ip)}"
    if account.strip():
        keys["account"] = f"{scope}:sign-in:account:{_digest(account.strip().lower())}"
    return keys


def sign_in_retry_after(scope: str, *, client_ip: str, account: str) -> int:
    """Seconds until sign-in may be tried again for this account from this address; 0 when not locked."""
    locks = [f"{key}:locked" for key in _sign_in_keys(scope, client_ip, account).values()]
    now = time.time()
    until = max((float(value) for value in cache.get_many(locks).values()), default=0.0)
    return max(0, math.ceil(until - now))


def record_sign_in_failure(scope: str, *, client_ip: str, account: str, policy: SignInPolicy | None = None) -> int:
    """Count a failed sign-in; returns the seconds of the lock it started (0 when none)."""
    policy = policy or sign_in_policy()
    limits = {"ip": policy.ip_limit, "account": policy.account_limit}
    locked = 0
    for kind, key in _sign_in_keys(scope, client_ip, account).items():
        cache.add(key, 0, timeout=policy.window)
        try:
            count = cache.incr(key)
        except ValueError:  # the window ended between add and incr
            cache.set(key, 1, timeout=policy.window)
            count = 1
        # `add`: a lock running already keeps its end (more failures do not push it further).
        if count >= limits[kind] and cache.add(f"{key}:locked", time.time() + policy.lock, timeout=policy.lock):
            cache.delete(key)  # after the lock, counting starts again from nothing
            locked = policy.lock
    return locked


def record_sign_in_success(scope: str, *, account: str) -> None:
    """A successful sign-in clears the account's failures (not the address's: one account's success
    says nothing about the guesses at others from the same address)."""
    key = _sign_in_keys(scope, "", account).get("account")
    if key:
        cache.delete(key)


def retry_message(seconds: int) -> str:
    """ "Try again in N minutes", for a refusal that lasts `seconds`."""
    from django.utils.translation import ngettext

    minutes = max(1, math.ceil(seconds / 60))
    return ngettext(
        "Too many failed sign-ins. Try again in %(minutes)d minute.",
        "Too many failed sign-ins. Try again in %(minutes)d minutes.",
        minutes,
    ) % {"minutes": minutes}


def client_ip(request: HttpRequest) -> str:
    """The client's address as the server reports it (behind a proxy, the server trusts only its
    forwarded address: uvicorn's proxy_headers, FORWARDED_ALLOW_IPS)."""
    return str(request.META.get("REMOTE_ADDR", "") or "")
