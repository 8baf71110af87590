"""/settings/statuses/: list, add, edit, reorder, deactivate, delete; LiveAgent's preset; Answered."""

from __future__ import annotations

import re

import pytest

from sportello.customers.services import Sender
from sportello.tickets import statuses
from sportello.tickets.intake import Inbound, ingest
from sportello.tickets.models import Status, StatusCategory, Ticket
from sportello.tickets.services import add_note, reply_to_ticket
from sportello.tickets.settings_services import apply_liveagent_preset
from tests.conftest import client_for

pytestmark = pytest.mark.django_db

PAGE = "/settings/statuses/"
PRESET = ["New", "Open", "Answered", "In progress", "On hold", "Postponed", "Resolved", "Closed"]


def status_options(client, ticket) -> str:  # type: ignore[no-untyped-def]
    """The options of the ticket page's status dropdown (the properties panel)."""
    html = client.get(f"/tickets/{ticket.number}/").content.decode()
    found = re.search(r'<select[^>]*id="update_status"[^>]*>(.*?)</select>', html, re.DOTALL)
    assert found is not None
    return found.group(1)


def names() -> list[str]:
    return list(Status.objects.order_by("position", "name").values_list("name", flat=True))


def test_admin_sees_the_statuses_with_their_categories_and_ticket_counts(admin, ticket):
    html = client_for(admin).get(PAGE).content.decode()
    assert '<tr data-status="new">' in html
    assert "Pending" in html and "On hold" in html
    assert 'href="/settings/statuses/"' in html  # in the side menu now


def test_add_a_status_then_rename_and_recategorise_it(admin, ticket):
    client = client_for(admin)
    response = client.post(PAGE, {"name": "Waiting for parts", "category": "on_hold"})
    assert response.status_code == 302
    row = Status.objects.get(name="Waiting for parts")
    assert row.category == StatusCategory.ON_HOLD and row.slug == "waiting-for-parts" and row.active
    Ticket.objects.filter(pk=ticket.pk).update(status=row, state=row.category)
    response = client.post(f"{PAGE}{row.pk}/", {"name": "Parts ordered", "category": "pending"})
    assert response.status_code == 302
    row.refresh_from_db()
    assert (row.name, row.category) == ("Parts ordered", "pending")
    ticket.refresh_from_db()
    assert ticket.state == "pending"  # the tickets' state follows the category


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"name": "", "category": "open"}, "This field is required."),
        ({"name": "open", "category": "open"}, "is taken; choose another name."),
        ({"name": "Junk", "category": "spam"}, "Select a valid choice."),
    ],
)
def test_a_bad_status_is_refused_with_a_message(admin, data, message):
    response = client_for(admin).post(PAGE, data)
    assert response.status_code == 422
    assert message in response.content.decode()
    assert not Status.objects.filter(name__in=["", "Junk"]).exists()


def test_a_builtin_status_keeps_its_category(admin):
    new = statuses.builtin(StatusCategory.NEW)
    response = client_for(admin).post(f"{PAGE}{new.pk}/", {"name": "Fresh", "category": "solved"})
    assert response.status_code == 302  # the disabled field ignores the posted category
    new.refresh_from_db()
    assert (new.name, new.category) == ("Fresh", "new")


def test_reorder_moves_a_status_up(admin):
    client = client_for(admin)
    pending = Status.objects.get(slug="pending")
    before = names()
    client.post(f"{PAGE}{pending.pk}/move", {"direction": "up"})
    after = names()
    i = before.index("Pending")
    assert after[i - 1] == "Pending" and after[i] == before[i - 1]


def test_deactivate_hides_a_status_from_the_ticket_page_but_tickets_keep_it(admin, agent, ticket):
    client = client_for(admin)
    client.post(PAGE, {"name": "Escalated", "category": "open"})
    row = Status.objects.get(name="Escalated")
    assert f'<option value="{row.pk}"' in status_options(client_for(agent), ticket)
    assert client.post(f"{PAGE}{row.pk}/active", {"active": "false"}).status_code == 302
    assert f'<option value="{row.pk}"' not in status_options(client_for(agent), ticket)
    Ticket.objects.filter(pk=ticket.pk).update(status=row, state=row.category)
    # The ticket still shows its status
    assert f'<option value="{row.pk}" selected>Escalated</option>' in status_options(client_for(agent), ticket)


def test_a_builtin_status_cannot_be_deactivated_or_deleted(admin):
    client = client_for(admin)
    new = statuses.builtin(StatusCategory.NEW)
    response = client.post(f"{PAGE}{new.pk}/active", {"active": "false"})
    assert response.status_code == 422
    assert "is built in" in response.content.decode()
    response = client.post(f"{PAGE}{new.pk}/delete")
    assert response.status_code == 422
    assert Status.objects.filter(pk=new.pk, active=True).exists()


def test_deleting_a_status_in_use_is_refused_with_the_count(admin, ticket):
    client = client_for(admin)
    client.post(PAGE, {"name": "Escalated", "category": "open"})
    row = Status.objects.get(name="Escalated")
    Ticket.objects.filter(pk=ticket.pk).update(status=row, state=row.category)
    response = client.post(f"{PAGE}{row.pk}/delete")
    assert response.status_code == 422
    html = response.content.decode()
    assert "cannot be deleted: 1 ticket has it (1 still open)." in html
    assert Status.objects.filter(pk=row.pk).exists()
    Ticket.objects.filter(pk=ticket.pk).update(status=statuses.builtin("open"))
    assert client.post(f"{PAGE}{row.pk}/delete").status_code == 302
    assert not Status.objects.filter(pk=row.pk).exists()


def test_the_preset_makes_liveagents_set_and_is_idempotent(admin, ticket):
    client = client_for(admin)
    old_new = statuses.builtin(StatusCategory.NEW)
    assert client.post(f"{PAGE}preset").status_code == 302
    first = list(Status.objects.values_list("pk", "name", "slug", "category", "position", "set_on_agent_reply"))
    assert names()[:8] == PRESET
    by_name = {row.name: row for row in Status.objects.all()}
    assert by_name["Answered"].category == "pending" and by_name["Answered"].set_on_agent_reply
    assert by_name["In progress"].category == "open"
    assert by_name["Postponed"].category == "on_hold"
    assert by_name["Resolved"].category == "solved" and by_name["Resolved"].builtin
    assert client.post(f"{PAGE}preset").status_code == 302
    again = list(Status.objects.values_list("pk", "name", "slug", "category", "position", "set_on_agent_reply"))
    assert again == first
    ticket.refresh_from_db()
    assert ticket.status_id == old_new.pk  # existing tickets keep their status
    assert "Pending" in names() and "Spam" in names()  # statuses outside the set are kept


def test_the_preset_takes_over_an_admins_own_answered(admin):
    Status.objects.create(name="answered", slug="replied", category="open")
    apply_liveagent_preset()
    assert Status.objects.filter(name__iexact="answered").count() == 1
    row = Status.objects.get(name="Answered")
    assert row.slug == "replied" and row.category == "pending" and row.set_on_agent_reply


def test_an_agents_public_reply_sets_answered_a_note_or_customer_reply_does_not(agent, ticket):
    apply_liveagent_preset()
    answered = Status.objects.get(name="Answered")
    add_note(ticket, agent, body_text="Checking the logs.")
    ticket.refresh_from_db()
    assert ticket.status.name == "New"
    reply_to_ticket(ticket, agent, body_text="Please restart it.")
    ticket.refresh_from_db()
    assert ticket.status_id == answered.pk and ticket.state == "pending"
    ingest(
        Inbound(
            channel="web",
            sender=Sender(name="Carla Rossi", email="carla@example.com"),
            subject="Re: Printer on fire",
            body_text="Still broken.",
            ticket=ticket,
            acknowledge=False,
        )
    )
    ticket.refresh_from_db()
    assert ticket.status.name == "Open"  # the customer's answer reopens it, not Answered
    in_progress = Status.objects.get(name="In progress")
    reply_to_ticket(ticket, agent, body_text="On it.", status=in_progress)  # a chosen status wins
    ticket.refresh_from_db()
    assert ticket.status_id == in_progress.pk


def test_without_a_flagged_status_a_reply_opens_a_new_ticket_as_before(agent, ticket):
    reply_to_ticket(ticket, agent, body_text="Hello.")
    ticket.refresh_from_db()
    assert ticket.status.name == "Open"


def test_one_status_at_most_follows_the_reply(admin):
    client = client_for(admin)
    client.post(PAGE, {"name": "Replied", "category": "pending", "set_on_agent_reply": "on"})
    client.post(PAGE, {"name": "Awaiting", "category": "pending", "set_on_agent_reply": "on"})
    assert list(Status.objects.filter(set_on_agent_reply=True).values_list("name", flat=True)) == ["Awaiting"]


@pytest.mark.parametrize(
    ("method", "url"),
    [
        ("get", PAGE),
        ("post", PAGE),
        ("post", f"{PAGE}preset"),
        ("get", f"{PAGE}1/"),
        ("post", f"{PAGE}1/move"),
        ("post", f"{PAGE}1/active"),
        ("post", f"{PAGE}1/delete"),
    ],
)
def test_strangers_customers_and_agents_are_refused(client, agent, customer_user, method, url):
    response = getattr(client, method)(url)
    assert response.status_code == 302 and "/accounts/login/" in response["Location"]
    assert getattr(client_for(customer_user), method)(url).status_code in (302, 403)
    assert getattr(client_for(agent), method)(url).status_code == 403
    assert Status.objects.filter(name="Answered").count() == 0
