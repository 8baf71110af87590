"""Every route of the site refuses strangers: a visitor who is not signed in, and a customer signed
in to the portal, get no agent's or admin's page or data from any URL (SPEC: every endpoint checks
permissions). The routes are read from the URL configuration itself, so a page added tomorrow is
checked too; what anybody may read is listed here, with the reason.
"""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest
from django.urls import URLResolver, get_resolver

from tests.conftest import client_for

pytestmark = pytest.mark.django_db

# Open to everybody, on purpose.
PUBLIC = (
    "/accounts/login/",  # signing in
    "/accounts/invitation/",  # an invitation link (a token; 410 when unknown)
    "/admin/login/",  # Django's admin: its own sign-in and sign-out
    "/admin/logout/",
    "/i18n/setlang/",  # the language switcher
    "/auth/",  # allauth's sign-in, SSO and two-factor steps
    "/api/v1/docs",  # the API's own description; every operation checks its token
    "/api/v1/openapi.json",
    "/chat/widget.js",  # the chat widget websites embed
    "/healthz",
    "/help/",  # the help centre and the forum's public pages
    "/portal/sign-in",  # the portal's magic-link sign-in and address confirmation
    "/portal/confirm/",
    "/settings/branding/style.css",  # the brand's colours, for customer pages
    "/support/",  # the web form
)
CUSTOMERS = (*PUBLIC, "/portal/")  # the customer's own tickets and data
SIGN_IN = re.compile(r"^(/accounts/login/|/portal/sign-in|/auth/|/admin/login/)")
REFUSED = {401, 403, 404, 405, 410, 422}


def routes(patterns: list, prefix: str = "") -> Iterator[str]:  # type: ignore[type-arg]
    for pattern in patterns:
        if isinstance(pattern, URLResolver):
            yield from routes(pattern.url_patterns, prefix + str(pattern.pattern))
        else:
            yield prefix + str(pattern.pattern)


def concrete(route: str) -> str:
    """A URL for the route: every parameter a 1 (an id) or a word (a language, a slug)."""
    words = {"lang": "en", "slug": "x", "str": "x"}
    return "/" + re.sub(r"<(?:(\w+):)?\w+>", lambda m: words.get(m.group(1) or "", "1"), route)


def urls() -> list[str]:
    found = set()
    for route in routes(get_resolver().url_patterns):
        if "(?P" in route or route.startswith(("static/", "media/")):
            continue  # regular-expression routes: static files, served as they are
        found.add(concrete(route))
    return sorted(found)


def refused(response, url: str) -> bool:  # type: ignore[no-untyped-def]
    if response.status_code in REFUSED:
        return True
    if response.status_code in (301, 302):
        location = response["Location"]
        return bool(SIGN_IN.match(location)) or location == url + "/"
    return False


def test_the_route_list_is_the_whole_site():
    found = set(urls())
    assert len(found) > 300
    assert {"/inbox/", "/settings/", "/settings/users/", "/api/v1/tickets", "/reports/", "/tickets/1/"} <= found


def test_a_visitor_who_is_not_signed_in_gets_nothing_private(client, ticket):
    opened = [url for url in urls() if not url.startswith(PUBLIC) and not refused(client.get(url), url)]
    assert not opened, f"open to anybody: {opened}"


def test_a_portal_customer_gets_nothing_of_the_agents(customer, ticket):
    client = client_for(customer.user)
    opened = [url for url in urls() if not url.startswith(CUSTOMERS) and not refused(client.get(url), url)]
    assert not opened, f"open to a customer: {opened}"
