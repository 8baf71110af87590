"""The community forum in a real browser: ask, answer, mark solved; approve a held post; turn a
post into a ticket and reply; hostile HTML in a post never runs."""

from __future__ import annotations

import pytest
from django.test import Client
from playwright.sync_api import expect

from sportello.forum import services
from sportello.forum.models import Post, PostState, Topic
from sportello.tickets.models import Ticket
from tests.browser.conftest import sign_in
from tests.forum.conftest import portal_customer, trust

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def signed_in_page(browser, live_server, user):  # type: ignore[no-untyped-def]
    """A browser of the user's own, signed in (portal customers' session, as after a sign-in link)."""
    client = Client()
    client.force_login(user)
    context = browser.new_context()
    context.add_cookies([{"name": "sessionid", "value": client.cookies["sessionid"].value, "url": live_server.url}])
    return context.new_page()


@pytest.fixture
def people(db):  # type: ignore[no-untyped-def]
    asker = portal_customer("carla_asks", "Carla Rossi", "carla.rossi@example.com")
    helper = portal_customer("dora_helps", "Dora Bianchi", "dora.bianchi@example.com")
    return asker, helper


def test_a_customer_asks_another_answers_and_the_first_marks_it_solved(browser, live_server, people):
    asker, helper = people
    trust(asker, helper)
    category = services.create_category(language="en", name="Printers")
    page = signed_in_page(browser, live_server, asker)
    page.goto(f"{live_server.url}/help/forum/en/")
    page.get_by_role("link", name="Printers").click()
    page.get_by_role("link", name="New topic").click()
    page.get_by_label("Title").fill("Printer shows error 42")
    page.get_by_label("Your message").fill("It blinks **red**. What now?")
    page.get_by_role("button", name="Post the topic").click()
    expect(page.locator("h1")).to_contain_text("Printer shows error 42")
    expect(page.locator(".article-body strong")).to_have_text("red")

    other = signed_in_page(browser, live_server, helper)
    other.goto(f"{live_server.url}{category.public_path()}")
    other.get_by_role("link", name="Printer shows error 42").click()
    other.get_by_label("Your reply").fill("Open the tray and pull the paper.")
    other.get_by_role("button", name="Post the reply").click()
    expect(other.locator("ol.thread")).to_contain_text("Open the tray")

    page.reload()
    answer = page.locator("li.post", has_text="Open the tray")
    answer.get_by_role("button", name="This solved it").click()
    expect(page.locator("li.post.solution")).to_contain_text("Open the tray")
    expect(page.locator("h1 + p .badge.solved")).to_be_visible()
    assert Topic.objects.get().solution == Post.objects.get(opening=False)


def test_hostile_html_in_a_post_never_runs(browser, live_server, people):
    asker, helper = people
    trust(asker, helper)
    category = services.create_category(language="en", name="Printers")
    topic = services.start_topic(asker, category, services.TopicText("question", "Paper jam", "Help"))
    services.reply_to_topic(
        helper, topic,
        '<img src="x" onerror="window.hacked=1"><script>window.hacked=2</script>'
        '<a href="javascript:window.hacked=3" id="bad">click me</a> <svg onload="window.hacked=4"></svg>',
    )  # fmt: skip
    page = browser.new_page()
    page.goto(f"{live_server.url}{topic.public_path()}")
    expect(page.get_by_text("click me")).to_be_visible()
    page.get_by_text("click me").click()
    page.goto(f"{live_server.url}{topic.public_path()}")
    expect(page.locator("h1")).to_contain_text("Paper jam")
    assert page.evaluate("window.hacked") is None


def test_an_agent_approves_a_held_post_then_turns_it_into_a_ticket_and_replies(browser, live_server, people, agent):
    asker, _helper = people
    category = services.create_category(language="en", name="Printers")
    topic = services.start_topic(asker, category, services.TopicText("problem", "Toner smears", "Grey stripes."))
    anonymous = browser.new_page()
    response = anonymous.goto(f"{live_server.url}{topic.public_path()}")
    assert response is not None and response.status == 404  # held: not public yet

    desk = browser.new_context().new_page()
    sign_in(desk, live_server, agent)
    desk.goto(f"{live_server.url}/help/forum/moderation")
    held = desk.locator("#held li", has_text="Toner smears")
    held.get_by_role("button", name="Approve").click()
    expect(desk.locator("#held")).to_contain_text("Nothing waits for approval.")
    assert topic.posts.get().state == PostState.PUBLISHED
    anonymous.goto(f"{live_server.url}{topic.public_path()}")
    expect(anonymous.locator("ol.thread")).to_contain_text("Grey stripes.")

    desk.goto(f"{live_server.url}{topic.public_path()}")
    desk.get_by_role("button", name="Turn into a ticket").click()
    ticket = Ticket.objects.get(subject="Toner smears")
    desk.wait_for_url(f"{live_server.url}/tickets/{ticket.number}/")
    expect(desk.locator("body")).to_contain_text("Grey stripes.")
    expect(desk.get_by_role("link", name="Toner smears")).to_be_visible()  # the note's link back
    desk.fill("#reply_body", "We are sending a new toner cartridge.")
    desk.get_by_role("button", name="Send reply").click()
    expect(desk.locator("body")).to_contain_text("We are sending a new toner cartridge.")
    assert ticket.customer.user == asker


def test_the_forum_fits_a_phone_screen(browser, live_server, people):
    """Home, a category, a topic with a long address and a wide table, search and the new-topic
    form: nothing wider than the screen, text large enough to read."""
    asker, helper = people
    trust(asker, helper)
    category = services.create_category(language="en", name="Printers")
    table = "| Model | Port | Speed | Duplex | Tray | Toner | Firmware |\n|---|---|---|---|---|---|---|\n"
    table += "| LaserJet-4000-Professional-Edition | 9100 | 40 ppm | yes | 3 | TN-2420-XL | 2024.11.05-beta |\n"
    body = "See `http://printer.example.internal:9100/configuration/network/ipv4/static-address`\n\n" + table
    topic = services.start_topic(asker, category, services.TopicText("question", "Printer address", body))
    services.reply_to_topic(helper, topic, "Supercalifragilisticexpialidocious" * 4)
    page = signed_in_page(browser, live_server, asker)
    page.set_viewport_size({"width": 390, "height": 844})
    for path in ("/help/forum/en/", category.public_path(), topic.public_path(), "/help/forum/en/search?q=printer"):
        page.goto(live_server.url + path)
        overflow = page.evaluate("document.documentElement.scrollWidth - window.innerWidth")
        assert overflow <= 0, f"{path} is {overflow}px wider than a phone screen"
        size = page.evaluate("parseFloat(getComputedStyle(document.body).fontSize)")
        assert size >= 14, f"{path} has {size}px body text"
    page.goto(live_server.url + category.public_path())
    page.get_by_role("link", name="New topic").click()
    expect(page.get_by_label("Title")).to_be_visible()
    assert page.evaluate("document.documentElement.scrollWidth - window.innerWidth") <= 0
