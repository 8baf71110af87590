"""axe-core (from npm, `make assets`) run inside Chromium on the pages people work in all day.

Each page must have no serious or critical violation of WCAG 2.1 A/AA (labels, contrast ≥ 4.5:1,
names of buttons and links, landmarks, ARIA). The script is evaluated through the DevTools
protocol, so the pages' Content-Security-Policy (script-src 'self') stays as it is.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from django.test import Client

from tests.browser.conftest import sign_in
from tests.web.conftest import new_ticket

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

AXE = Path(__file__).resolve().parents[2] / "node_modules" / "axe-core" / "axe.min.js"
TAGS = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"]
RUN_AXE = """async (tags) => {
  const results = await axe.run(document, { runOnly: { type: "tag", values: tags }, resultTypes: ["violations"] });
  return results.violations.map((v) => ({
    id: v.id, impact: v.impact, help: v.help, nodes: v.nodes.slice(0, 5).map((n) => n.target.join(" ")),
  }));
}"""


@pytest.fixture(scope="module")
def axe_source() -> str:
    if not AXE.exists():
        pytest.skip(f"{AXE} is missing: run `make assets` (npm ci)")
    return AXE.read_text()


def serious_violations(page, axe_source: str) -> list[str]:  # type: ignore[no-untyped-def]
    page.wait_for_load_state("load")
    page.evaluate(axe_source)
    found = page.evaluate(RUN_AXE, TAGS)
    return [
        f"{v['id']} ({v['impact']}: {v['help']}) at {json.dumps(v['nodes'], ensure_ascii=False)}"
        for v in found
        if v["impact"] in ("serious", "critical")
    ]


def test_inbox(page, live_server, agent, axe_source):
    for n in range(3):
        new_ticket(f"Printer {n} is on fire", email=f"dora{n}@example.org")
    sign_in(page, live_server, agent)
    page.goto(f"{live_server.url}/")
    assert serious_violations(page, axe_source) == []


def test_ticket_page(page, live_server, agent, axe_source):
    ticket = new_ticket("Invoice 2026-114 is wrong", "The amount is twice what we ordered.")
    sign_in(page, live_server, agent)
    page.goto(f"{live_server.url}/tickets/{ticket.number}/")
    assert serious_violations(page, axe_source) == []


def test_profile_page(page, live_server, agent, axe_source):
    sign_in(page, live_server, agent)
    page.goto(f"{live_server.url}/accounts/profile/")
    assert serious_violations(page, axe_source) == []


def test_chat_console(page, live_server, agent, axe_source):
    sign_in(page, live_server, agent)
    page.goto(f"{live_server.url}/chat/console")
    assert serious_violations(page, axe_source) == []


def test_portal_home(page, live_server, customer, ticket, axe_source):
    client = Client()
    client.force_login(customer.user)
    page.context.add_cookies(
        [{"name": "sessionid", "value": client.cookies["sessionid"].value, "url": live_server.url}]
    )
    page.goto(f"{live_server.url}/portal/")
    assert page.locator("main").count() == 1
    assert serious_violations(page, axe_source) == []


def test_sign_in_and_tokens_pages(page, live_server, agent, axe_source):
    page.goto(f"{live_server.url}/accounts/login/")
    assert serious_violations(page, axe_source) == []
    sign_in(page, live_server, agent)
    page.goto(f"{live_server.url}/accounts/tokens/")
    assert serious_violations(page, axe_source) == []
    page.keyboard.press("?")  # the shortcuts sheet, open
    assert serious_violations(page, axe_source) == []
