"""Moving and splitting mails over the API, the threading decision and delivery state of each entry."""

from __future__ import annotations

import pytest
from django.core import mail as outbox

from sportello.mail.services import receive_raw
from sportello.tickets.models import DeliveryState, Entry, Ticket
from sportello.tickets.services import reply_to_ticket
from tests.api.conftest import api_as
from tests.mail.conftest import make_mail
from tests.web.conftest import new_ticket

pytestmark = pytest.mark.django_db


def mail_ticket(**headers: str) -> tuple[Ticket, Entry]:
    row = receive_raw(make_mail(**headers))
    assert row.entry is not None, row.reason
    return row.ticket, row.entry


def two_mails() -> tuple[Ticket, Entry]:
    """A ticket with two mails from the customer; returns the ticket and the second one."""
    ticket, _ = mail_ticket()
    _, second = mail_ticket(subject=f"Re: [#{ticket.number}] Printer on fire", body="Also: my invoice.")
    return ticket, second


def version(ticket: Ticket) -> int:
    return Ticket.objects.get(pk=ticket.pk).version


def test_entries_carry_their_threading_decision(as_agent):
    ticket, second = two_mails()
    first, again = as_agent.get(f"/tickets/{ticket.number}/entries").json()
    assert first["threading"]["threaded_by"] == "new" and first["metadata"]["threaded_by"] == "new"
    assert again["id"] == second.pk and again["ticket"] == ticket.number
    assert again["threading"]["threaded_by"] == "subject_number"
    assert again["threading"]["detail"] == f"[#{ticket.number}] from participant carla@example.com"
    assert again["threading"]["summary"].startswith("Threaded by the number in the subject")
    assert again["metadata"]["from"]["address"] == "carla@example.com" and again["delivery_detail"] is None


def test_move_a_mail(as_agent, agent):
    source, second = two_mails()
    target = new_ticket("Invoice", email="carla@example.com")
    response = as_agent.post(
        f"/tickets/{source.number}/entries/{second.pk}/move",
        {"into": target.number, "expected_version": version(source)},
    )
    assert response.status_code == 200, response.content
    assert response.json()["number"] == target.number and response.json()["version"] == version(target)
    thread = as_agent.get(f"/tickets/{target.number}/entries").json()
    # The thread stays in the order things were written: the moved mail is older than the target.
    assert [e["body_text"] for e in thread] == ["Also: my invoice.", "Please help."]
    moved = thread[0]
    assert moved["threading"] == {
        "threaded_by": "moved",
        "detail": str(source.number),
        "summary": f"Moved here from #{source.number} by Alice Agent",
    }
    assert len(as_agent.get(f"/tickets/{source.number}/entries").json()) == 1


def test_a_stale_move_is_409_and_moves_nothing(as_agent):
    source, second = two_mails()
    target = new_ticket("Other")
    seen = version(source)
    mail_ticket(subject=f"Re: [#{source.number}] x", body="Meanwhile, a third mail.")
    response = as_agent.post(
        f"/tickets/{source.number}/entries/{second.pk}/move", {"into": target.number, "expected_version": seen}
    )
    assert response.status_code == 409
    assert [c["excerpt"] for c in response.json()["changes"]] == ["Meanwhile, a third mail."]
    assert Entry.objects.get(pk=second.pk).ticket_id == source.pk


def test_unknown_ids_are_404_and_an_unknown_target_is_422(as_agent):
    source, second = two_mails()
    other = new_ticket("Other")
    assert as_agent.post(f"/tickets/{source.number}/entries/999999/move", {"into": other.number}).status_code == 404
    assert as_agent.post(f"/tickets/999999/entries/{second.pk}/move", {"into": other.number}).status_code == 404
    # The entry exists, but not on the ticket named in the path.
    assert as_agent.post(f"/tickets/{other.number}/entries/{second.pk}/split", {}).status_code == 404
    response = as_agent.post(f"/tickets/{source.number}/entries/{second.pk}/move", {"into": 999999})
    assert response.status_code == 422 and response.json()["detail"] == "No ticket #999999"
    response = as_agent.post(f"/tickets/{source.number}/entries/{second.pk}/move", {"into": source.number})
    assert response.status_code == 422 and "already on" in response.json()["detail"]
    assert Entry.objects.get(pk=second.pk).ticket_id == source.pk


def test_restricted_and_light_agents_are_refused(light_agent, restricted_agent, second_level):
    source, second = two_mails()
    hidden = new_ticket("Outside Rita's groups")
    path = f"/tickets/{source.number}/entries/{second.pk}"
    # Rita cannot see the source ticket at all: it does not exist for her.
    as_rita = api_as(restricted_agent)
    assert as_rita.post(f"{path}/move", {"into": hidden.number}).status_code == 404
    assert as_rita.post(f"{path}/split", {}).status_code == 404
    # Once the source is in her group, she still cannot move the mail to a ticket she cannot see.
    Ticket.objects.filter(pk=source.pk).update(group=second_level)
    response = as_rita.post(f"{path}/move", {"into": hidden.number})
    assert response.status_code == 422 and response.json()["detail"] == f"No ticket #{hidden.number}"
    as_lucy = api_as(light_agent)
    for action, body in (("move", {"into": hidden.number}), ("split", {})):
        response = as_lucy.post(f"{path}/{action}", body)
        assert response.status_code == 403 and response.json()["detail"] == "Light agents can add internal notes only"
    assert Entry.objects.get(pk=second.pk).ticket_id == source.pk and Ticket.objects.count() == 2


def test_split_a_mail_into_a_new_ticket(as_agent):
    source, second = two_mails()
    response = as_agent.post(
        f"/tickets/{source.number}/entries/{second.pk}/split", {"expected_version": version(source)}
    )
    assert response.status_code == 201, response.content
    new = response.json()
    assert new["number"] != source.number and new["customer"]["id"] == source.customer_id
    [entry] = as_agent.get(f"/tickets/{new['number']}/entries").json()
    assert entry["id"] == second.pk and entry["threading"]["threaded_by"] == "split"
    stale = as_agent.post(f"/tickets/{source.number}/entries/{second.pk}/split", {"expected_version": 1})
    assert stale.status_code == 404  # it is no longer on that ticket


def test_a_reply_cannot_be_moved_or_split(as_agent, agent, ticket):
    ours = reply_to_ticket(ticket, agent, body_text="On our way.")
    other = new_ticket("Other", email="carla@example.com")
    for action, body in (("move", {"into": other.number}), ("split", {})):
        response = as_agent.post(f"/tickets/{ticket.number}/entries/{ours.pk}/{action}", body)
        assert response.status_code == 422 and "Only messages that came in" in response.json()["detail"]


def test_delivery_detail_and_resend(as_agent, agent, ticket, django_capture_on_commit_callbacks):
    ours = reply_to_ticket(ticket, agent, body_text="On our way.")
    Entry.objects.filter(pk=ours.pk).update(
        delivery=DeliveryState.FAILED, delivery_error="550 5.1.1 No such user", metadata={"delivery": {"attempts": 1}}
    )
    listed = as_agent.get(f"/tickets/{ticket.number}/entries").json()[-1]
    assert listed["delivery"] == "failed"
    assert listed["delivery_detail"] == {
        "state": "failed",
        "attempts": 1,
        "next_attempt_at": None,
        "error": "550 5.1.1 No such user",
    }
    with django_capture_on_commit_callbacks(execute=True):
        response = as_agent.post(f"/tickets/{ticket.number}/entries/{ours.pk}/resend")
    assert response.status_code == 200 and response.json()["delivery"] == "queued"
    assert Entry.objects.get(pk=ours.pk).delivery == DeliveryState.SENT and len(outbox.outbox) == 1
    again = as_agent.post(f"/tickets/{ticket.number}/entries/{ours.pk}/resend")
    assert again.status_code == 422 and "Only a failed delivery" in again.json()["detail"]
