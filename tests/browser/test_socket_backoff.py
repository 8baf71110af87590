"""The agents' websocket client (chat/static/chat/socket.js) backs off when refused.

pytest-django's live server speaks HTTP only, so every websocket the page opens is refused: the
console must knock again less and less often (exponential backoff with jitter), say discreetly
that it is reconnecting, and never stop trying. Attempts are counted by wrapping the page's
WebSocket constructor; the test waits for a number of attempts, never for a fixed time. An inbox
whose socket dropped while a ticket arrived shows that ticket once the socket is back.
"""

from __future__ import annotations

import itertools

import pytest
from playwright.sync_api import expect

from tests.browser.conftest import sign_in
from tests.browser.test_chat import asgi_server  # noqa: F401  (the ASGI server fixture)
from tests.web.conftest import new_ticket

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

BASE_MS, CAP_MS = 100, 800

COUNT_ATTEMPTS = f"""
window.SportelloSocketOptions = {{ base: {BASE_MS}, cap: {CAP_MS} }};
window.socketAttempts = [];
const Native = window.WebSocket;
window.WebSocket = function (url, protocols) {{
  window.socketAttempts.push({{ url: String(url), at: performance.now() }});
  return new Native(url, protocols);
}};
window.WebSocket.prototype = Native.prototype;
Object.assign(window.WebSocket, {{ CONNECTING: 0, OPEN: 1, CLOSING: 2, CLOSED: 3 }});
"""


def console_attempts(page) -> list[float]:  # type: ignore[no-untyped-def]
    return page.evaluate("() => window.socketAttempts.filter(a => a.url.endsWith('/ws/agent/console/')).map(a => a.at)")


def test_a_refused_console_backs_off_and_says_it_is_reconnecting(page, live_server, agent):
    sign_in(page, live_server, agent)
    page.add_init_script(COUNT_ATTEMPTS)
    page.goto(f"{live_server.url}/chat/console")

    expect(page.locator("#connection-state")).to_be_visible()
    expect(page.locator("#console-status")).to_have_attribute("data-state", "disconnected")
    page.wait_for_function("() => window.socketAttempts.filter(a => a.url.endsWith('/ws/agent/console/')).length >= 7")
    times = console_attempts(page)
    gaps = [later - earlier for earlier, later in itertools.pairwise(times)]
    # Retry n waits between half and all of min(cap, base * 2^n): 50+, 100+, 200+, 400+, 400+ ms …
    for n, gap in enumerate(gaps[:6]):
        floor = min(CAP_MS, BASE_MS * 2**n) / 2
        assert gap >= floor - 5, (n, gaps)
    assert max(gaps[:6]) <= CAP_MS + 2_000, gaps  # capped: it keeps trying, not ever slower
    # Full speed would have knocked hundreds of times in the time these few attempts took.
    assert len(times) < 7 + 3, times
    # The jitter: the same retry waits anywhere in its band, so a team's screens come back spread out.
    band = page.evaluate("() => [0, 1].map(r => SportelloSocket.delay(3, r)).concat(SportelloSocket.delay(9, 1))")
    assert band == [400, 800, 800]


def test_a_console_that_is_answered_connects_once_and_says_nothing(page, asgi_server, agent):  # noqa: F811
    sign_in(page, asgi_server, agent)
    page.add_init_script(COUNT_ATTEMPTS)
    page.goto(f"{asgi_server.url}/chat/console")
    expect(page.locator("#console-status")).to_have_attribute("data-state", "connected")
    assert len(console_attempts(page)) == 1
    expect(page.locator("#connection-state")).to_be_hidden()


DROPPABLE = """
window.SportelloSocketOptions = { base: 100, cap: 400 };
window.refuseSockets = false;
window.openSockets = [];
const Native = window.WebSocket;
window.WebSocket = function (url, protocols) {
  const socket = new Native(window.refuseSockets ? String(url).replace("/ws/", "/ws-refused/") : url, protocols);
  window.openSockets.push(socket);
  return socket;
};
window.WebSocket.prototype = Native.prototype;
Object.assign(window.WebSocket, { CONNECTING: 0, OPEN: 1, CLOSING: 2, CLOSED: 3 });
"""


def test_an_inbox_whose_socket_dropped_catches_up_when_it_comes_back(page, asgi_server, agent):  # noqa: F811
    sign_in(page, asgi_server, agent)
    page.add_init_script(DROPPABLE)
    page.goto(f"{asgi_server.url}/?view=all")
    live = page.locator("#inbox-live")
    expect(live).to_have_attribute("data-live", "connected")

    # The connection drops and stays down while a ticket arrives: its push reaches nobody.
    page.evaluate("() => { window.refuseSockets = true; window.openSockets.forEach(s => s.close()); }")
    expect(live).to_have_attribute("data-live", "waiting")
    new_ticket("Arrived while the inbox was away", email="away@example.org")

    page.evaluate("() => { window.refuseSockets = false; }")
    expect(live).to_have_attribute("data-live", "connected")
    rows = page.locator("#inbox-results tbody tr[data-ticket]")
    expect(rows.filter(has_text="Arrived while the inbox was away")).to_have_count(1)
