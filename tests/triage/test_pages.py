"""The settings page and the ticket panel: who may see and use them, and bad input."""

from __future__ import annotations

import pytest

from sportello.triage.models import Mode, TrainedModel, TriageSettings
from tests.conftest import client_for
from tests.triage.conftest import new_ticket

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize("who", ["anonymous", "customer_user", "agent", "light_agent"])
def test_the_settings_page_refuses_all_but_admins(request, who) -> None:  # type: ignore[no-untyped-def]
    user = None if who == "anonymous" else request.getfixturevalue(who)
    client = client_for(user)

    page = client.get("/settings/triage/")
    saved = client.post("/settings/triage/", {"group_mode": "apply", "group_threshold": 10})
    train = client.post("/settings/triage/train")

    if user is None:
        assert {page.status_code, saved.status_code, train.status_code} == {302}
        assert "/accounts/login/" in page["Location"]
    else:
        assert {page.status_code, saved.status_code, train.status_code} == {403}
    assert TriageSettings.current().group_mode == Mode.OFF
    assert not TrainedModel.objects.exists()


def _form(**changes: object) -> dict[str, object]:
    data: dict[str, object] = {"retrain_days": 7}
    for target in ("group", "category", "priority", "language", "tags"):
        data[f"{target}_mode"] = "off"
        data[f"{target}_threshold"] = 80
    data.update(changes)
    return data


def test_an_admin_sets_a_mode_and_a_threshold(admin) -> None:  # type: ignore[no-untyped-def]
    client = client_for(admin)
    page = client.get("/settings/triage/")
    assert page.status_code == 200 and "Not trained yet." in page.content.decode()

    response = client.post("/settings/triage/", _form(group_mode="suggest", group_threshold=65))

    assert response.status_code == 302
    policy = TriageSettings.current()
    assert (policy.group_mode, policy.group_threshold) == ("suggest", 65)
    assert "/settings/triage/" in client.get("/settings/").content.decode()


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"group_threshold": 0}, "Between 1 and 100"),
        ({"group_threshold": 101}, "Between 1 and 100"),
        ({"tags_mode": "always"}, "Select a valid choice"),
        ({"retrain_days": 1000}, "At most 365 days"),
        ({"priority_threshold": "high"}, "Enter a whole number"),
    ],
)
def test_bad_settings_are_refused_with_a_message(admin, changes, message) -> None:  # type: ignore[no-untyped-def]
    response = client_for(admin).post("/settings/triage/", _form(**changes))

    assert response.status_code == 422
    assert message in response.content.decode()
    assert TriageSettings.current().group_threshold == 80


def test_train_now_trains_in_the_background_and_shows_the_figures(history, admin) -> None:  # type: ignore[no-untyped-def]
    history(60)
    client = client_for(admin)

    response = client.post("/settings/triage/train", follow=True)  # tests run tasks at once

    assert response.status_code == 200
    assert set(TrainedModel.objects.values_list("target", flat=True)) == {
        "group",
        "category",
        "priority",
        "language",
        "tags",
    }
    page = client.get("/settings/triage/").content.decode()
    assert 'data-target="group"' in page and "data-accuracy" in page and "on 12 recent tickets" in page


def test_the_ticket_panel_and_decisions_refuse_strangers(ticket, customer_user, stranger, light_agent) -> None:  # type: ignore[no-untyped-def]
    from sportello.triage.models import Suggestion

    suggestion = Suggestion.objects.create(
        ticket=ticket, target="priority", value="4", label="Urgent", confidence=0.9, mode="suggest", state="shown"
    )
    for user in (None, customer_user, stranger):
        client = client_for(user)
        assert client.get(f"/triage/tickets/{ticket.number}").status_code in (302, 403)
        assert client.post(f"/triage/tickets/{ticket.number}/{suggestion.pk}/accept").status_code in (302, 403)
    assert client_for(light_agent).post(f"/triage/tickets/{ticket.number}/{suggestion.pk}/accept").status_code == 403
    suggestion.refresh_from_db()
    assert suggestion.state == "shown"
    ticket.refresh_from_db()
    assert ticket.priority != 4


def test_a_suggestion_of_another_ticket_is_not_found(ticket, agent) -> None:  # type: ignore[no-untyped-def]
    from sportello.triage.models import Suggestion

    other = new_ticket("Other", "Something else")
    suggestion = Suggestion.objects.create(
        ticket=other, target="priority", value="4", label="Urgent", confidence=0.9, mode="suggest", state="shown"
    )
    client = client_for(agent)

    assert client.post(f"/triage/tickets/{ticket.number}/{suggestion.pk}/accept").status_code == 404
    assert client.post(f"/triage/tickets/{ticket.number}/999999/dismiss").status_code == 404
    assert client.get("/triage/tickets/999999").status_code == 404
