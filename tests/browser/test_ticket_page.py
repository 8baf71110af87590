"""The ticket page as agents click it: properties saved as they change, two agents at once, a
reply with Cc, a macro previewed before it applies."""

from __future__ import annotations

import pytest
from django.core import mail
from playwright.sync_api import expect

from sportello.automation.models import Macro
from sportello.tickets import statuses
from sportello.tickets.models import Priority, StatusCategory, Ticket
from tests.browser.conftest import PATIENCE_MS, sign_in
from tests.browser.test_chat import asgi_server  # noqa: F401 - the fixture, with live sockets
from tests.web.conftest import new_ticket

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def fresh(ticket: Ticket) -> Ticket:
    return Ticket.objects.get(pk=ticket.pk)


def test_changing_a_property_saves_it_without_a_submit(page, live_server, agent):
    ticket = new_ticket("Printer jammed", "Paper stuck in tray 2.")
    sign_in(page, live_server, agent)
    page.goto(f"{live_server.url}/tickets/{ticket.number}/")
    expect(page.get_by_role("button", name="Save changes")).to_have_count(0)  # nothing to press
    page.get_by_label("Priority").select_option(label="Urgent")
    expect(page.locator("#property-status")).to_contain_text("Saved: priority.")
    assert fresh(ticket).priority == Priority.URGENT
    page.get_by_label("Tags").fill("hardware, tray")
    page.get_by_label("Tags").press("Enter")
    expect(page.locator("#property-status")).to_contain_text("Saved: tags.")
    page.reload()
    expect(page.get_by_label("Priority")).to_have_value(str(Priority.URGENT))
    expect(page.get_by_label("Tags")).to_have_value("hardware, tray")


def test_two_agents_change_different_fields_and_both_win(browser, live_server, agent, agent2):
    ticket = new_ticket("Laptop will not boot", "Black screen since the update.")
    url = f"{live_server.url}/tickets/{ticket.number}/"
    alice = browser.new_context().new_page()
    bob = browser.new_context().new_page()
    for page, user in ((alice, agent), (bob, agent2)):
        page.set_default_timeout(PATIENCE_MS)
        sign_in(page, live_server, user)
        page.goto(url)  # both see the ticket as it is now

    alice.get_by_label("Priority").select_option(label="High")
    expect(alice.locator("#property-status")).to_contain_text("Saved: priority.")
    bob.get_by_label("Assignee").select_option(label="Bob Agent")  # his panel still shows Normal
    expect(bob.locator("#property-status")).to_contain_text("Saved: assignee.")
    expect(bob.get_by_label("Priority")).to_have_value(str(Priority.HIGH))  # the panel came back fresh
    ticket = fresh(ticket)
    assert (ticket.priority, ticket.assignee) == (Priority.HIGH, agent2)

    # The same field changed meanwhile: refused, with who changed it to what.
    alice.get_by_label("Priority").select_option(label="Low")  # Alice's panel still says unassigned…
    # Her status line already says "Saved: priority." from before: wait for the panel her save
    # brought back, which has seen Low.
    expect(alice.locator("#update-form input[name=seen_priority]")).to_have_value(str(Priority.LOW))
    bob.get_by_label("Priority").select_option(label="Urgent")  # …and Bob's says High
    expect(bob.locator("#property-conflict")).to_contain_text(
        "Alice Agent changed priority to “Low” meanwhile; your change to “Urgent” was not saved."
    )
    expect(bob.get_by_label("Priority")).to_have_value(str(Priority.LOW))
    assert fresh(ticket).priority == Priority.LOW and fresh(ticket).assignee == agent2


def test_reply_with_cc_reaches_everyone(page, live_server, agent):
    ticket = new_ticket("Invoice address wrong", "Please change the address on invoice 42.")
    sign_in(page, live_server, agent)
    page.goto(f"{live_server.url}/tickets/{ticket.number}/")
    expect(page.get_by_label("Cc", exact=True)).to_be_visible()
    page.get_by_label("Cc", exact=True).fill("accounts@example.com")
    page.get_by_label("Bcc").fill("audit@example.org")
    page.fill("#reply_body", "Done: the new invoice is attached to your account.")
    page.get_by_role("button", name="Send reply").click()
    expect(page.locator(".messages")).to_contain_text("on its way to the customer")
    expect(page.locator(".entry.outbound .delivery")).to_contain_text("Cc accounts@example.com")
    [message] = [m for m in mail.outbox if "invoice is attached" in m.body]
    assert message.to == ["Dora Bianchi <dora@example.org>"]
    assert message.cc == ["accounts@example.com"] and message.bcc == ["audit@example.org"]


def test_forward_mode_asks_for_an_address_and_hides_the_status(page, live_server, agent):
    ticket = new_ticket("Broken part", "The hinge snapped.")
    sign_in(page, live_server, agent)
    page.goto(f"{live_server.url}/tickets/{ticket.number}/")
    page.locator("#reply-form input[name=mode][value=forward]").check()
    expect(page.locator("#compose-send")).to_have_text("Forward")
    expect(page.get_by_label("Status after reply")).to_be_hidden()
    page.get_by_label("To", exact=True).fill("supplier@parts.example")
    page.fill("#reply_body", "Can you send a new hinge?")
    page.locator("#compose-send").click()
    expect(page.locator(".messages")).to_contain_text("on its way to supplier@parts.example")
    [message] = [m for m in mail.outbox if m.to == ["supplier@parts.example"]]
    assert "The hinge snapped." in message.body


def test_a_macro_is_previewed_then_applied_with_the_send(page, live_server, agent):
    Macro.objects.create(
        name="Ask for a photo",
        body="Hello {{ customer.first_name }}, could you send us a photo?",
        actions=[{"type": "set_status", "status": "pending"}, {"type": "add_tags", "tags": ["photo"]}],
    )
    ticket = new_ticket("Scratched screen", "The screen arrived scratched.")
    sign_in(page, live_server, agent)
    page.goto(f"{live_server.url}/tickets/{ticket.number}/")
    page.locator("#macro-results").get_by_role("button", name="Ask for a photo").click()
    preview = page.locator("#macro-preview")
    expect(preview).to_contain_text("Set status to Pending")
    expect(preview).to_contain_text("Add tags: photo")
    expect(page.locator("#reply_body")).to_have_value("Hello Dora, could you send us a photo?")
    assert fresh(ticket).state == StatusCategory.NEW  # previewed, nothing changed yet
    page.get_by_role("button", name="Send reply").click()
    expect(page.locator(".messages")).to_contain_text("on its way to the customer")
    expect(page.locator(".ticket-head [data-field=status]")).to_have_text("Pending")
    ticket = fresh(ticket)
    assert ticket.state == StatusCategory.PENDING and list(ticket.tags.values_list("name", flat=True)) == ["photo"]


def test_files_dropped_on_the_composer_are_attached_with_an_image_preview(page, live_server, agent):
    ticket = new_ticket("Error on screen", "See the error.")
    sign_in(page, live_server, agent)
    page.goto(f"{live_server.url}/tickets/{ticket.number}/")
    png = "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8BQDwAEhQGAhKmMIQAAAABJRU5ErkJggg=="
    transfer = page.evaluate_handle(
        """(data) => {
            const bytes = Uint8Array.from(atob(data), c => c.charCodeAt(0));
            const transfer = new DataTransfer();
            transfer.items.add(new File([bytes], "error.png", { type: "image/png" }));
            return transfer;
        }""",
        png,
    )
    page.dispatch_event("#drop-zone", "drop", {"dataTransfer": transfer})
    expect(page.locator("#drop-list img[alt='error.png']")).to_be_visible()
    page.locator("#reply-form input[name=mode][value=note]").check()
    page.fill("#reply_body", "Screenshot from the customer's call.")
    page.get_by_role("button", name="Add note").click()
    expect(page.locator(".messages")).to_contain_text("Internal note added.")
    thumbnail = page.locator(".entry.internal .attachments img[alt='error.png']")
    expect(thumbnail).to_be_visible()
    # decode() waits for the image to load (it may still be in flight when it shows)
    width = thumbnail.evaluate("img => img.decode().then(() => img.naturalWidth, () => 0)")
    assert width == 1  # served through the attachment view


def test_a_live_notice_names_the_changed_field_in_words(browser, asgi_server, agent, agent2):  # noqa: F811
    """Bob changes the status; Alice's page says so in words, without the columns behind it."""
    ticket = new_ticket("Scanner offline", "It does not show up on the network.")
    url = f"{asgi_server.url}/tickets/{ticket.number}/"
    alice = browser.new_context().new_page()
    bob = browser.new_context().new_page()
    for page, user in ((alice, agent), (bob, agent2)):
        page.set_default_timeout(PATIENCE_MS)
        sign_in(page, asgi_server, user)
        page.goto(url)
    expect(alice.locator("#viewers")).to_contain_text("Bob Agent")  # Alice's socket is listening
    bob.get_by_label("Status", exact=True).select_option(label="Pending")
    expect(bob.locator("#property-status")).to_contain_text("Saved: status.")
    notice = alice.locator("#live-changes li")
    expect(notice).to_have_text("Bob Agent: changed status")
    # Alice's panel came up to date by itself: her next change starts from what Bob set.
    pending = statuses.builtin(StatusCategory.PENDING)
    expect(alice.get_by_label("Status", exact=True)).to_have_value(str(pending.pk))
    expect(alice.locator("input[name=seen_status]")).to_have_value(str(pending.pk))


def test_the_tags_box_suggests_existing_tags(page, live_server, agent):
    from sportello.tickets.models import Tag

    Tag.objects.create(name="warranty")
    ticket = new_ticket("Broken hinge", "It snapped.")
    sign_in(page, live_server, agent)
    page.goto(f"{live_server.url}/tickets/{ticket.number}/")
    page.get_by_label("Tags").press_sequentially("hinge, warr")
    expect(page.locator("#tag-options option")).to_have_attribute("value", "hinge, warranty")
    page.get_by_label("Tags").fill("hinge, warranty")
    page.get_by_label("Tags").press("Enter")
    expect(page.locator("#property-status")).to_contain_text("Saved: tags.")
    assert sorted(fresh(ticket).tags.values_list("name", flat=True)) == ["hinge", "warranty"]
