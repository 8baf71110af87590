"""Playwright against Debian's Chromium, talking to pytest-django's live server.

The live server runs in a thread of this process, so its database must be shared with the test
(`transactional_db`, which `live_server` brings) and Django's locmem mail outbox is the same list
the test reads. Playwright's sync API runs an event loop in this thread, which makes Django refuse
ORM calls from the test unless DJANGO_ALLOW_ASYNC_UNSAFE is set: `_allow_orm_beside_playwright` sets
it for the browser tests only (importing this file must not set it for the rest of the suite, where
a synchronous query inside a consumer has to fail its test, tests/test_isolation.py).
"""

from __future__ import annotations

import os

import pytest
from playwright.sync_api import expect

from tests.conftest import PASSWORD

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


@pytest.fixture(scope="session", autouse=True)
def _allow_orm_beside_playwright():  # type: ignore[no-untyped-def]
    """Set before Playwright's session fixtures start its loop (autouse comes first), unset after
    they stopped it (torn down last)."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
        yield


@pytest.fixture(scope="session")
def browser_type_launch_args(browser_type_launch_args):  # type: ignore[no-untyped-def]
    if not os.path.exists(CHROMIUM):
        pytest.skip(f"{CHROMIUM} is not installed (apt-get install chromium)")
    return {**browser_type_launch_args, "executable_path": CHROMIUM, "args": CHROMIUM_ARGS}


@pytest.fixture(autouse=True)
def _no_content_security_policy_violations(request):  # type: ignore[no-untyped-def]
    """Every page a browser test opens — through `page`, or the browser's own new_context and
    new_page — reports nothing the Content-Security-Policy blocked (Chromium logs each as a console
    error), so a page that works only because a script or style slipped through would fail here."""
    if "browser" not in request.fixturenames and "page" not in request.fixturenames:
        yield
        return
    browser = request.getfixturevalue("browser")
    violations: list[str] = []

    def watch(page):  # type: ignore[no-untyped-def]
        def on_console(message):  # type: ignore[no-untyped-def]
            if message.type == "error" and "Content Security Policy" in message.text:
                violations.append(f"{page.url}: {message.text}")

        page.on("console", on_console)
        return page

    def new_context(*args, **kwargs):  # type: ignore[no-untyped-def]
        context = open_context(*args, **kwargs)
        context.on("page", watch)
        return context

    open_context, open_page = browser.new_context, browser.new_page
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(browser, "new_context", new_context)
        patch.setattr(browser, "new_page", lambda *args, **kwargs: watch(open_page(*args, **kwargs)))
        yield
    assert violations == []


# Bounds against hanging, not expectations of speed: a page or an assertion waits only until what
# it waits for is there, and a busy two-core machine (the suite beside other work) can take long.
PATIENCE_MS = 60_000
expect.set_options(timeout=PATIENCE_MS)


@pytest.fixture
def page(page):  # type: ignore[no-untyped-def]
    page.set_default_timeout(PATIENCE_MS)
    return page


def sign_in(page, live_server, user) -> None:  # type: ignore[no-untyped-def]
    """Sign in through the login form, as a person would."""
    page.goto(f"{live_server.url}/accounts/login/")
    page.fill("#id_username", user.username)
    page.fill("#id_password", PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url(f"{live_server.url}/")
