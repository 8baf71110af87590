"""Waiting in tests for a condition, never for a fixed time.

A test that sleeps a fixed time, or gives up after the time a quiet machine needs, fails on a busy
one (the suite beside other work on two cores). `wait_for` polls the condition and returns as soon
as it holds; its bound only guards against hanging for ever, so it is far above the usual time.
With `progress`, the bound counts from the last time progress changed: slow work that is still
moving (a log growing, a database file being written) is waited for however long it takes, up to
OVERALL (something that keeps moving without ever getting there, such as an error logged in a loop).
"""

from __future__ import annotations

import subprocess
import time
from collections.abc import Callable
from typing import TypeVar

T = TypeVar("T")
OVERALL = 1800  # seconds


def wait_for(
    condition: Callable[[], T],
    what: str,
    *,
    bound: float = 120,
    progress: Callable[[], object] | None = None,
    interval: float = 0.05,
    detail: Callable[[], str] | None = None,
) -> T:
    """Poll `condition` until it returns something true, and return that.

    Fails with "`what` did not happen ..." after `bound` seconds, or, with `progress`, after
    `bound` seconds in which `progress()` returned the same value (or OVERALL seconds in all);
    `detail()` is added to the message.
    """
    last = progress() if progress else None
    start = since = time.monotonic()
    while True:
        result = condition()
        if result:
            return result
        if progress is not None and (now := progress()) != last:
            last, since = now, time.monotonic()
        if time.monotonic() - since > bound or time.monotonic() - start > OVERALL:
            quiet = " with no progress" if progress else ""
            extra = f"\n{detail()}" if detail else ""
            raise AssertionError(f"{what} did not happen in {bound:.0f} s{quiet}{extra}")
        time.sleep(interval)


def answering_or_ended(process: subprocess.Popen, url: str, timeout: float) -> Callable[[], bool]:  # type: ignore[type-arg]
    """A condition for `wait_for`: the server started as `process` answers `url`, or has ended
    (the caller then fails with its log instead of waiting out the bound)."""
    import httpx

    def check() -> bool:
        if process.poll() is not None:
            return True
        try:
            httpx.get(url, timeout=timeout)
        except httpx.TransportError:  # not listening yet
            return False
        return True

    return check
