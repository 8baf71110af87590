"""Settings pages' fixtures."""

from __future__ import annotations

import pytest

from sportello.core import branding, lookups


@pytest.fixture(autouse=True)
def forget_branding():  # type: ignore[no-untyped-def]
    """A test's saved branding is rolled back, but this process would keep its version for
    `branding.RECHECK` seconds and show it to the next test's pages: forget it after each test."""
    yield
    lookups.forget()
    branding._checked = (None, 0.0)
