"""A web process's start-up objects set aside from the garbage collector's full passes.

A web process holds ~200,000 objects from its start (modules, the URL patterns, the API's
schemas, the templates' nodes) that live as long as it does. Python's full collection walks every
one of them each time it runs: ~125 ms on this machine kind, during which no request of the
process moves (a p99 of 85 to 230 ms in bench/api_create.py's uvicorn runs against a p50 of 21 ms).
`settle()` loads what a first request would (the URL configuration, and with it every view and
API module), collects once, and freezes what is left (`gc.freeze`): later full collections walk
only what was made after, a fraction of a millisecond. Garbage from before the freeze is collected
first, so nothing is kept that would have been freed.
"""

from __future__ import annotations

import gc

from django.urls import get_resolver


def settle() -> None:
    """Load the URL configuration, collect, then freeze every object the collector tracks."""
    get_resolver().url_patterns  # noqa: B018 - imports the URLconf, the views and the API's modules
    gc.collect()
    gc.freeze()
