"""Fixed-window request counters per client IP and per email address, in Django's cache.

The public forms (web form, portal sign-in links) count every request, known sender or not, so a
limit tells nobody who is a customer.
"""

from __future__ import annotations

import hashlib

from django.core.cache import cache


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
