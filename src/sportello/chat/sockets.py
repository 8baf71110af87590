"""How many visitor sockets each client IP holds open, counted in Django's cache (Redis in production,
so across web processes), to refuse one address opening thousands.

A plain counter that goes up on connect and down on disconnect goes stale when a process dies
without its disconnects: its sockets would count against the address for ever. So counts live in
periods of PERIOD seconds, each its own cache key expiring after two periods:

1. A socket opening in period `p` counts itself in `p`'s key.
2. While it stays open, it counts itself again in each new period as that period begins
   (`recount`, called by the consumer's own timer).
3. On disconnect it takes itself out of every period's key it counted in.
4. The number open is the larger of the current and the previous period's counts: in the moment
   after a period begins, before the open sockets have counted themselves in it, the previous
   period still holds them.

A socket whose process died is never counted in a new period, so it stops counting at most two
periods later. The count is a little low at worst (a socket not yet recounted), never stuck high.
"""

from __future__ import annotations

import contextlib
import hashlib
import time

from django.conf import settings
from django.core.cache import cache

PERIOD = 300  # seconds


def period_of(now: float) -> int:
    return int(now // PERIOD)


def seconds_to_next_period(now: float) -> float:
    return PERIOD - now % PERIOD


def _key(client_ip: str, period: int) -> str:
    # Hashed, so an IPv6 address makes a valid key for every cache backend.
    return f"sportello:chat-ip:{hashlib.sha256(client_ip.encode()).hexdigest()[:32]}:{period}"


def _count_in(client_ip: str, period: int) -> int:
    key = _key(client_ip, period)
    cache.add(key, 0, timeout=2 * PERIOD + 60)
    try:
        return int(cache.incr(key))
    except ValueError:  # expired between add and incr
        cache.set(key, 1, timeout=2 * PERIOD + 60)
        return 1


def _uncount_in(client_ip: str, period: int) -> None:
    with contextlib.suppress(ValueError):  # expired already: nothing to take back
        cache.decr(_key(client_ip, period))


def admit(client_ip: str, now: float | None = None) -> int | None:
    """Count a new socket from `client_ip`; its period, or None (and not counted) past the limit."""
    now = time.time() if now is None else now
    period = period_of(now)
    current = _count_in(client_ip, period)
    previous = int(cache.get(_key(client_ip, period - 1)) or 0)
    if max(current, previous + 1) > settings.CHAT_MAX_CONNECTIONS_PER_IP:
        _uncount_in(client_ip, period)
        return None
    return period


def recount(client_ip: str, period: int) -> None:
    """An open socket counts itself in the period that has begun."""
    _count_in(client_ip, period)


def release(client_ip: str, periods: set[int]) -> None:
    """A socket closed: take it out of every period it counted in."""
    for period in periods:
        _uncount_in(client_ip, period)


def open_count(client_ip: str, now: float | None = None) -> int:
    period = period_of(time.time() if now is None else now)
    counts = cache.get_many([_key(client_ip, period), _key(client_ip, period - 1)])
    return max([int(value) for value in counts.values()] or [0])
