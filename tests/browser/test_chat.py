"""Live chat and live agent screens in Chromium, against an ASGI server that speaks websockets.

pytest-django's live server is WSGI only, so `asgi_server` runs uvicorn (as `sportello serve`
does) in a thread of this process. With SQLite's in-memory test database every thread must use
the test's one connection, as Django's own LiveServerThread arranges; on PostgreSQL each thread
has its own. The visitor's page is served by a second, plain HTTP server on 127.0.0.1: another
origin, like any website that embeds the widget.
"""

from __future__ import annotations

import functools
import http.server
import socket
import threading
import types
from collections.abc import Iterator
from pathlib import Path

import pytest
import uvicorn
from django.db import connections
from playwright.sync_api import expect

from sportello.chat.models import ChatChannel, Conversation
from sportello.customers.services import Sender
from sportello.kb.models import Deflection
from sportello.kb.services import ArticleText, create_article, create_category
from sportello.tickets.intake import Inbound, ingest
from sportello.tickets.models import Entry
from tests.browser.conftest import sign_in
from tests.waiting import wait_for

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture
def asgi_server(transactional_db) -> Iterator[types.SimpleNamespace]:
    from sportello.asgi import application

    connection = connections["default"]
    shared = connection.vendor == "sqlite" and connection.is_in_memory_db()
    original = connections._connections
    if shared:
        connection.inc_thread_sharing()
        connections._connections = types.SimpleNamespace(default=connection)  # every thread: this connection
    port = _free_port()
    server = uvicorn.Server(
        uvicorn.Config(application, host="127.0.0.1", port=port, log_level="warning", lifespan="off")
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    wait_for(lambda: server.started or not thread.is_alive(), "uvicorn starting")
    assert server.started, "uvicorn did not start"
    try:
        yield types.SimpleNamespace(url=f"http://127.0.0.1:{port}")
    finally:
        server.should_exit = True
        thread.join(timeout=120)
        if shared:
            connections._connections = original
            connection.dec_thread_sharing()


@pytest.fixture
def shop_page(tmp_path: Path, asgi_server) -> Iterator[str]:
    """A customer's website on another origin, with the one script tag."""
    (tmp_path / "index.html").write_text(
        "<!doctype html><html><head><title>Shop</title></head><body><h1>Our shop</h1>"
        f'<script src="{asgi_server.url}/chat/widget.js" data-channel="website" data-lang="en" async></script>'
        "</body></html>"
    )
    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(tmp_path))
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{httpd.server_address[1]}/index.html"
    finally:
        httpd.shutdown()


def test_a_visitor_chats_from_a_website_and_an_agent_answers_from_the_console(
    browser, asgi_server, shop_page, agent, first_level
):
    ChatChannel.objects.create(name="Website", key="website", group=first_level, greeting="Hi! Ask us anything.")
    visitor = browser.new_context().new_page()
    visitor.set_default_timeout(60_000)
    visitor.goto(shop_page)
    visitor.get_by_role("button", name="Chat with us").click()
    expect(visitor.locator("#sportello-chat .log")).to_contain_text("Hi! Ask us anything.")
    visitor.fill("#sportello-chat input[name=name]", "Vera Visitor")
    visitor.fill("#sportello-chat input[name=email]", "vera@example.com")
    visitor.fill("#sportello-chat .composer textarea", "Do you ship to Sofia?")
    visitor.get_by_role("button", name="Send").click()
    expect(visitor.locator("#sportello-chat .log .visitor")).to_have_text(["Do you ship to Sofia?"])
    expect(visitor.locator("#sportello-chat .status")).to_contain_text("Waiting for an agent")

    desk = browser.new_context().new_page()
    desk.set_default_timeout(60_000)
    sign_in(desk, asgi_server, agent)
    desk.goto(f"{asgi_server.url}/chat/console")
    expect(desk.locator("#console-status")).to_have_attribute("data-state", "connected")
    queue = desk.locator("#chat-queue li[data-conversation]")
    expect(queue).to_contain_text("Vera Visitor")
    queue.get_by_role("button", name="Accept").click()
    chat = desk.locator("article.chat")
    expect(chat.locator(".chat-log")).to_contain_text("Do you ship to Sofia?")
    expect(visitor.locator("#sportello-chat .log")).to_contain_text("Alice Agent is here to help")

    chat.locator("textarea[name=text]").fill("Yes, in two days.")
    chat.get_by_role("button", name="Send").click()
    expect(visitor.locator("#sportello-chat .log .agent")).to_have_text(["Yes, in two days."])
    expect(chat.locator(".chat-log .from-agent .chat-text")).to_have_text(["Yes, in two days."])
    expect(chat.locator(".seen")).to_be_visible()  # the visitor's widget sent a read receipt

    visitor.fill("#sportello-chat .composer textarea", "Great, thanks")
    visitor.keyboard.press("Enter")
    expect(chat.locator(".chat-log .from-visitor .chat-text")).to_have_text(["Do you ship to Sofia?", "Great, thanks"])

    visitor.set_input_files(
        "#sportello-chat input[type=file]", files=[{"name": "receipt.txt", "mimeType": "text/plain", "buffer": b"42"}]
    )
    expect(chat.locator(".chat-log .from-visitor a.file").last).to_have_text("📎 receipt.txt")

    # The agent sends a file from the console; the visitor sees a link at once and downloads it.
    chat.locator("input[type=file]").set_input_files(
        files=[{"name": "label.pdf", "mimeType": "application/pdf", "buffer": b"%PDF shipping label"}]
    )
    chat.get_by_role("button", name="Share file").click()
    link = visitor.locator("#sportello-chat .log .agent a.file")
    expect(link).to_have_text("📎 label.pdf")
    with visitor.expect_download() as saved:
        link.click()
    assert saved.value.suggested_filename == "label.pdf"
    assert Path(saved.value.path()).read_bytes() == b"%PDF shipping label"
    expect(chat.locator(".chat-log .from-agent a.file")).to_have_text("📎 label.pdf")

    visitor.reload()  # the conversation survives a reload
    expect(visitor.locator("#sportello-chat .log .agent")).to_have_text(["Yes, in two days.", "📎 label.pdf"])
    expect(visitor.locator("#sportello-chat .log .visitor")).to_have_text(
        ["Do you ship to Sofia?", "Great, thanks", "📎 receipt.txt"]
    )

    chat.get_by_role("button", name="Close chat").click()
    expect(visitor.locator("#sportello-chat .log")).to_contain_text("The chat has ended.")
    conversation = Conversation.objects.get()
    assert conversation.state == "closed" and conversation.agent == agent
    assert list(conversation.ticket.entries.values_list("body_text", flat=True)) == [
        "Do you ship to Sofia?",
        "Yes, in two days.",
        "Great, thanks",
        "📎 receipt.txt",
        "📎 label.pdf",
    ]
    assert conversation.ticket.entries.get(attachments__filename="receipt.txt").attachments.get().size == 2


def test_nobody_online_the_widget_takes_a_message_that_becomes_a_ticket(
    browser, asgi_server, shop_page, first_level, agent
):
    agent.availability = "offline"  # the help centre's author, away
    agent.save()
    article = create_article(
        agent,
        category=create_category(name="Billing", slug="billing"),
        text=ArticleText("en", "Downloading your invoices", "Open **Account > Invoices** and press *Download*."),
        publish=True,
    )
    ChatChannel.objects.create(name="Website", key="website", group=first_level)
    visitor = browser.new_context().new_page()
    visitor.set_default_timeout(60_000)
    visitor.goto(shop_page)
    visitor.get_by_role("button", name="Chat with us").click()
    offline = visitor.locator("#sportello-chat form.offline")
    expect(offline).to_contain_text("Nobody is online right now")

    # While the message is typed, matching help-centre articles; one solves the problem.
    offline.locator("textarea").fill("How do I download an invoice?")
    suggestion = visitor.locator("#sportello-chat .suggest li")
    expect(suggestion.get_by_role("link")).to_have_text(["Downloading your invoices"])
    with visitor.context.expect_page() as opened:
        suggestion.get_by_role("link").click()
    expect(opened.value.locator("h1")).to_contain_text("Downloading your invoices")  # in a new tab
    suggestion.get_by_role("button", name="This solved my problem").click()
    expect(visitor.locator("#sportello-chat .log")).to_contain_text("Glad it helped!")
    expect(visitor.locator("#sportello-chat .suggest")).to_be_hidden()
    deflection = Deflection.objects.get()
    assert deflection.source == "chat" and deflection.article_id == article.article_id

    offline.locator("input[name=email]").fill("olga@example.com")
    offline.locator("textarea").fill("Please call me back")
    offline.get_by_role("button", name="Leave a message").click()
    expect(visitor.locator("#sportello-chat .log")).to_contain_text("Your request number is")
    entry = Entry.objects.get(body_text="Please call me back")
    assert entry.ticket.channel == "chat" and entry.ticket.customer.identities.filter(value="olga@example.com")


def test_two_agents_on_one_ticket_see_each_other_and_a_stale_reply_is_stopped(browser, asgi_server, agent, admin):
    ticket = ingest(
        Inbound(
            channel="email",
            sender=Sender(name="Ettore Neri", email="ettore@example.net"),
            subject="Coffee machine is cold",
            body_text="It stopped heating.",
            acknowledge=False,
        )
    ).ticket
    url = f"{asgi_server.url}/tickets/{ticket.number}/"
    alice = browser.new_context().new_page()
    ada = browser.new_context().new_page()
    for page, user in ((alice, agent), (ada, admin)):
        page.set_default_timeout(60_000)
        sign_in(page, asgi_server, user)
        page.goto(url)
    expect(alice.locator("#viewers")).to_contain_text("Ada Admin")
    expect(ada.locator("#viewers")).to_contain_text("Alice Agent")

    alice.fill("#reply_body", "We will send a technician.")
    expect(ada.locator("#typing")).to_contain_text("Alice Agent is typing a reply")
    alice.reload()  # the draft is kept
    expect(alice.locator("#reply_body")).to_have_value("We will send a technician.")
    # The reloaded page's socket is in the ticket's group once Ada's presence reaches it: only
    # then can it hear her reply (before, the reply's push could beat the socket to the group).
    expect(alice.locator("#viewers")).to_contain_text("Ada Admin")

    ada.fill("#reply_body", "A new heating element is on its way.")
    ada.get_by_role("button", name="Send reply").click()
    expect(ada.locator(".messages")).to_contain_text("on its way to the customer")
    expect(alice.locator("#live-changes")).to_contain_text("Ada Admin: wrote a new message")

    alice.get_by_role("button", name="Send reply").click()  # against the version she opened
    expect(alice.locator("#conflict")).to_contain_text("Ada Admin wrote")
    expect(alice.locator("#reply_body")).to_have_value("We will send a technician.")
    assert ticket.entries.filter(body_text__contains="technician").count() == 0
    alice.goto(url)  # even after leaving the stopped page, the draft is still there
    expect(alice.locator("#reply_body")).to_have_value("We will send a technician.")
    alice.get_by_role("button", name="Send reply").click()  # reviewed: send it anyway
    expect(alice.locator(".messages")).to_contain_text("on its way to the customer")
    alice.goto(url)  # sent: the draft is gone
    expect(alice.locator("#reply_body")).to_have_value("")
    assert ticket.entries.filter(body_text__contains="technician").count() == 1
