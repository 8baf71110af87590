"""Playwright against Debian's Chromium, talking to pytest-django's live server.

The live server runs in a thread of this process, so its database must be shared with the test
(`transactional_db`, which `live_server` brings) and Django's locmem mail outbox is the same list
the test reads. Playwright's sync API runs an event loop in this thread, which makes Django refuse
ORM calls from the test unless DJANGO_ALLOW_ASYNC_UNSAFE is set.
"""

from __future__ import annotations

import os

import pytest

from tests.conftest import PASSWORD

os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
    "--disable-dev-shm-usage",
]


@pytest.fixture(scope="session")
def browser_type_launch_args(browser_type_launch_args):  # type: ignore[no-untyped-def]
    if not os.path.exists(CHROMIUM):
        pytest.skip(f"{CHROMIUM} is not installed (apt-get install chromium)")
    return {**browser_type_launch_args, "executable_path": CHROMIUM, "args": CHROMIUM_ARGS}


@pytest.fixture
def page(page):  # type: ignore[no-untyped-def]
    page.set_default_timeout(10_000)
    return page


def sign_in(page, live_server, user) -> None:  # type: ignore[no-untyped-def]
    """Sign in through the login form, as a person would."""
    page.goto(f"{live_server.url}/accounts/login/")
    page.fill("#id_username", user.username)
    page.fill("#id_password", PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url(f"{live_server.url}/")
