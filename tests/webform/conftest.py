"""Helpers for the public web form's tests: a clean cache (rate limits) and a filled-in form."""

from __future__ import annotations

import time
from typing import Any

import pytest
from django.core import signing
from django.core.cache import cache

from sportello.webform.forms import STAMP_SALT


@pytest.fixture(autouse=True)
def clean_cache():  # type: ignore[no-untyped-def]
    """Rate-limit counters live in the cache, which outlives a test; start and end empty."""
    cache.clear()
    yield
    cache.clear()


@pytest.fixture(autouse=True)
def min_fill_time(settings):  # type: ignore[no-untyped-def]
    """The production minimum, whatever the test settings say, so the timing tests mean something."""
    settings.WEBFORM_MIN_FILL_SECONDS = 2


def stamp(seconds_ago: float = 30) -> str:
    """The hidden time stamp of a form shown `seconds_ago`."""
    return signing.dumps(time.time() - seconds_ago, salt=STAMP_SALT)


def form_data(**overrides: Any) -> dict[str, Any]:
    data: dict[str, Any] = {
        "name": "Greta Verdi",
        "email": "greta@example.org",
        "subject": "Cannot download my invoice",
        "message": "The download button on the invoices page does nothing.",
        "website": "",
        "started": stamp(),
    }
    data.update(overrides)
    return data
