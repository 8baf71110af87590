"""The SLA policies settings page: list, add and edit with conditions and targets as inputs,
preview the tickets a policy would take, confirm a policy with no conditions, reorder, deactivate."""

from __future__ import annotations

from typing import Any

import pytest
from django.urls import reverse

from sportello.sla.models import Policy, TicketSLA
from sportello.sla.services import FACT_COLUMNS, Conditions, Facts, first_match
from sportello.tickets.models import ACTIVE_CATEGORIES, Priority, Ticket
from tests.conftest import client_for
from tests.web.conftest import page_text

pytestmark = pytest.mark.django_db


def form(**changes: Any) -> dict[str, Any]:
    """A policy form as a browser posts it: no condition, no target, unless given."""
    data: dict[str, Any] = {"name": "Urgent", "active": "on", "position": "30", "warning_minutes": "1", "tags": ""}
    data.update(changes)
    return {key: value for key, value in data.items() if value is not None}


def preview_count(response) -> int:  # type: ignore[no-untyped-def]
    import re

    found = re.search(r"This policy would take (\d+) open ticket", page_text(response))
    assert found, page_text(response)
    return int(found.group(1))


def taken_by_python(typed: Policy, tags: list[int] | None = None) -> set[int]:
    """What `first_match` (the code that applies policies to tickets) gives the typed policy:
    the open tickets it would take, policies in (position, id) order, the typed one included."""
    rules = [Conditions.of(p) for p in Policy.objects.filter(active=True).exclude(pk=typed.pk)]
    rules.append(
        Conditions(typed, frozenset(typed.priorities), frozenset(typed.channels), frozenset(), frozenset(),
                   frozenset(), frozenset(tags or []))
    )  # fmt: skip
    rules.sort(key=lambda rule: (rule.policy.position, rule.policy.pk or 10**9))
    taken = set()
    for row in Ticket.objects.filter(state__in=ACTIVE_CATEGORIES).values_list(*FACT_COLUMNS):
        facts = Facts(*row)
        tag_ids = set(Ticket.objects.get(pk=facts.pk).tags.values_list("pk", flat=True))
        if first_match(rules, facts, tag_ids) is typed:
            taken.add(facts.pk)
    return taken


def test_the_list_shows_order_conditions_targets_and_hours(admin, policies, office):
    Policy.objects.filter(pk=policies["chat"].pk).update(calendar=office)
    html = page_text(client_for(admin).get(reverse("settings-sla")))
    assert html.index(f'data-policy="{policies["vip"].pk}"') < html.index(f'data-policy="{policies["chat"].pk}"')
    assert "Tag: vip" in html and "Channel: Chat" in html
    assert "Urgent: First response 0:15 h" in html and "Urgent: First response 0:05 h" in html
    assert office.name in html


def test_an_admin_adds_a_policy_with_conditions_and_targets_per_priority(admin, policies, office, first_level):
    client = client_for(admin)
    response = client.post(
        reverse("settings-sla-add"),
        form(
            name="Urgent mail of first level",
            calendar=str(office.pk),
            priorities=[str(Priority.URGENT), str(Priority.HIGH)],
            channels=["email", "web"],
            tiers=["1"],
            groups=[str(first_level.pk)],
            tags="Outage, vip ,outage",
            target_4_first_response="1",
            target_4_next_response="0:30",
            target_4_resolution="8h",
            target_3_first_response="1.5",
            target_3_resolution="90m",
            action="save",
        ),
    )
    assert response.status_code == 302, page_text(response)
    policy = Policy.objects.get(name="Urgent mail of first level")
    assert (policy.position, policy.active, policy.calendar, policy.warning_minutes) == (30, True, office, 60)
    assert sorted(policy.priorities) == [3, 4] and sorted(policy.channels) == ["email", "web"]
    assert policy.tiers == [1] and list(policy.groups.all()) == [first_level]
    assert sorted(tag.name for tag in policy.tags.all()) == ["outage", "vip"]
    targets = {t.priority: (t.first_response_minutes, t.next_response_minutes, t.resolution_minutes)
               for t in policy.targets.all()}  # fmt: skip
    assert targets == {4: (60, 30, 480), 3: (90, None, 90)}

    # The edit form shows it back as typed, in hours.
    html = page_text(client.get(reverse("settings-sla-edit", args=[policy.pk])))
    assert 'name="target_4_next_response" value="0:30"' in html
    assert 'name="target_3_first_response" value="1:30"' in html
    assert 'value="outage, vip"' in html


def test_editing_replaces_conditions_and_targets(admin, policies):
    vip = policies["vip"]
    response = client_for(admin).post(
        reverse("settings-sla-edit", args=[vip.pk]),
        form(name="VIP customers", position="10", tags="vip, gold", target_2_resolution="24", action="save"),
    )
    assert response.status_code == 302
    vip.refresh_from_db()
    assert vip.name == "VIP customers"
    assert sorted(tag.name for tag in vip.tags.all()) == ["gold", "vip"]
    assert [(t.priority, t.resolution_minutes, t.first_response_minutes) for t in vip.targets.all()] == [
        (2, 1440, None)
    ]


@pytest.mark.parametrize(
    "value, message",
    [
        ("soon", "“soon” is not a duration"),
        ("0", "At least 1 minute"),
        ("-2", "is not a duration"),
        ("1:75", "is not a duration"),
        ("99999999", "At most ten years"),
    ],
)
def test_a_target_that_is_not_a_duration_is_refused_with_a_message(admin, value, message):
    response = client_for(admin).post(
        reverse("settings-sla-add"), form(priorities=["4"], target_4_first_response=value, action="save")
    )
    assert response.status_code == 422
    assert message in page_text(response)
    assert not Policy.objects.exists()


def test_a_name_taken_and_unknown_choices_are_refused(admin, policies, first_level):
    client = client_for(admin)
    response = client.post(reverse("settings-sla-add"), form(name="VIP", priorities=["4"], action="save"))
    assert response.status_code == 422
    assert "A policy named &#x27;VIP&#x27; already exists" in page_text(response)
    response = client.post(reverse("settings-sla-add"), form(priorities=["9"], channels=["fax"], action="save"))
    assert response.status_code == 422
    assert "Select a valid choice" in page_text(response)
    assert Policy.objects.count() == 2


@pytest.mark.parametrize(
    "position, expected, kept",
    [
        # Before both: every open urgent ticket (the solved one is not open).
        ("5", {"vip_mail", "urgent_mail", "urgent_chat", "vip_chat"}, []),
        # Between VIP and Chat: VIP keeps its two.
        ("15", {"urgent_mail", "urgent_chat"}, ["VIP: 2"]),
        # After both: VIP keeps two, Chat one.
        ("30", {"urgent_mail"}, ["VIP: 2", "Chat: 1"]),
    ],
)
def test_the_preview_counts_the_open_tickets_the_policy_would_take_after_the_ones_above(
    admin, tickets, position, expected, kept
):
    client = client_for(admin)
    response = client.post(reverse("settings-sla-add"), form(position=position, priorities=["4"], action="preview"))
    assert response.status_code == 200
    assert preview_count(response) == len(expected)
    html = page_text(response)
    for name, ticket in tickets.items():
        link = f'href="/tickets/{ticket.number}/"'
        assert (link in html) == (name in expected), name
    for line in kept:
        assert f"<li>{line}</li>" in html
    # Nothing saved, and the count is what applying policies to tickets gives.
    assert Policy.objects.count() == 2
    typed = Policy(name="Urgent", position=int(position), priorities=[4])
    assert taken_by_python(typed) == {tickets[name].pk for name in expected}


def test_the_preview_of_a_saved_policy_counts_it_at_its_place_without_itself(admin, tickets, policies):
    # Chat's own preview, with its conditions as they are: VIP keeps the VIP chat.
    chat = policies["chat"]
    response = client_for(admin).post(
        reverse("settings-sla-edit", args=[chat.pk]),
        form(name="Chat", position="20", channels=["chat"], action="preview"),
    )
    assert preview_count(response) == 2  # urgent_chat, normal_chat
    # Moved above VIP, it takes the VIP chat too.
    response = client_for(admin).post(
        reverse("settings-sla-edit", args=[chat.pk]),
        form(name="Chat", position="5", channels=["chat"], action="preview"),
    )
    assert preview_count(response) == 3
    chat.refresh_from_db()
    assert chat.position == 20


def test_the_preview_with_a_tag_no_ticket_has_counts_nothing(admin, tickets):
    response = client_for(admin).post(
        reverse("settings-sla-add"), form(position="1", tags="never-used", action="preview")
    )
    assert preview_count(response) == 0
    assert not Policy.objects.filter(name="Urgent").exists()


def test_a_policy_with_no_conditions_is_saved_only_after_confirming_it_takes_every_ticket(admin, tickets):
    client = client_for(admin)
    response = client.post(
        reverse("settings-sla-add"), form(name="Catch-all", target_2_first_response="8", action="save")
    )
    assert response.status_code == 422
    html = page_text(response)
    # After VIP (2) and Chat (2 more), the open tickets left are urgent_mail, normal_mail, low_web.
    assert "This policy has no conditions, so it applies to every ticket." in html
    assert "That is 3 open tickets today." in html
    assert preview_count(response) == 3
    assert 'name="confirm_all"' in html
    assert not Policy.objects.filter(name="Catch-all").exists()

    response = client.post(
        reverse("settings-sla-add"),
        form(name="Catch-all", target_2_first_response="8", confirm_all="on", action="save"),
    )
    assert response.status_code == 302
    assert Policy.objects.filter(name="Catch-all", active=True).exists()


def test_the_server_refuses_a_policy_left_with_no_conditions_without_the_confirmation(admin, tickets, policies):
    """Whatever the page showed: a POST that empties an active policy's conditions, or activates
    a policy without conditions, is refused unless it carries the ticked confirmation."""
    client = client_for(admin)
    chat = policies["chat"]
    url = reverse("settings-sla-edit", args=[chat.pk])
    # Chat's only condition (the channel) removed, posted straight to the server: no confirmation,
    # or a "confirmation" that is not a ticked box.
    for confirm in (None, "", "false", "0", "no", "off"):
        response = client.post(url, form(name="Chat", position="20", confirm_all=confirm, action="save"))
        assert response.status_code == 422, confirm
        html = page_text(response)
        assert "The policy is not saved yet" in html
        assert "This policy has no conditions: it applies to every ticket no policy above it takes" in html
        assert "Tick the box to save it anyway, or add a condition." in html
    chat.refresh_from_db()
    assert chat.channels == ["chat"] and chat.active

    # An inactive policy without conditions, activated from its form: the same question.
    later = Policy.objects.create(name="Later", position=90, active=False)
    url = reverse("settings-sla-edit", args=[later.pk])
    response = client.post(url, form(name="Later", position="90", action="save"))
    assert response.status_code == 422 and 'name="confirm_all"' in page_text(response)
    later.refresh_from_db()
    assert not later.active
    assert client.post(url, form(name="Later", position="90", confirm_all="yes", action="save")).status_code == 302
    later.refresh_from_db()
    assert later.active


def test_an_inactive_policy_with_no_conditions_needs_no_confirmation_until_activated(admin, tickets):
    client = client_for(admin)
    response = client.post(reverse("settings-sla-add"), form(name="Later", active=None, action="save"))
    assert response.status_code == 302
    later = Policy.objects.get(name="Later")
    assert not later.active
    # The list's "Activate" does not activate it: the form, with its count, asks first.
    response = client.post(reverse("settings-sla-active", args=[later.pk]), {"active": "true"})
    assert response.status_code == 302 and response["Location"] == reverse("settings-sla-edit", args=[later.pk])
    later.refresh_from_db()
    assert not later.active


def test_saving_a_policy_recomputes_the_open_tickets_clocks(admin, tickets, django_capture_on_commit_callbacks):
    client = client_for(admin)
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(
            reverse("settings-sla-add"),
            form(position="1", priorities=["4"], target_4_first_response="2", action="save"),
        )
    assert response.status_code == 302
    policy = Policy.objects.get(name="Urgent")
    urgent = {tickets[name].pk for name in ("vip_mail", "urgent_mail", "urgent_chat", "vip_chat")}
    clocks = TicketSLA.objects.filter(ticket_id__in=urgent)
    assert {sla.ticket_id for sla in clocks} == urgent
    assert {(sla.policy_id, sla.first_response_minutes) for sla in clocks} == {(policy.pk, 120)}

    # Deactivated, its tickets go back to VIP and Chat (and none for the plain urgent mail).
    with django_capture_on_commit_callbacks(execute=True):
        client.post(reverse("settings-sla-active", args=[policy.pk]), {"active": "false"})
    found = dict(TicketSLA.objects.filter(ticket_id__in=urgent).values_list("ticket_id", "policy__name"))
    assert found == {
        tickets["vip_mail"].pk: "VIP",
        tickets["vip_chat"].pk: "VIP",
        tickets["urgent_chat"].pk: "Chat",
        tickets["urgent_mail"].pk: None,
    }


def test_moving_a_policy_up_reorders_and_reassigns_tickets(
    admin, tickets, policies, django_capture_on_commit_callbacks
):
    client = client_for(admin)
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(reverse("settings-sla-move", args=[policies["chat"].pk]), {"direction": "up"})
    assert response.status_code == 302
    assert list(Policy.objects.order_by("position").values_list("name", "position")) == [("Chat", 10), ("VIP", 20)]
    html = page_text(client.get(reverse("settings-sla")))
    assert html.index(f'data-policy="{policies["chat"].pk}"') < html.index(f'data-policy="{policies["vip"].pk}"')
    assert TicketSLA.objects.get(ticket=tickets["vip_chat"]).policy == policies["chat"]
    # The top one cannot go higher.
    client.post(reverse("settings-sla-move", args=[policies["chat"].pk]), {"direction": "up"})
    assert Policy.objects.order_by("position").first() == policies["chat"]


def test_a_preview_costs_the_same_queries_whatever_the_number_of_tickets(admin, tickets):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from tests.sla.conftest import open_ticket

    client = client_for(admin)

    def queries() -> int:
        with CaptureQueriesContext(connection) as captured:
            response = client.post(reverse("settings-sla-add"), form(priorities=["4"], action="preview"))
        assert response.status_code == 200
        return len(captured)

    queries()  # the first page of a session reads what later pages find cached
    few = queries()
    for n in range(20):
        open_ticket(f"More {n}", f"more{n}@example.com", priority=Priority.URGENT, tags=["vip"] if n % 2 else [])
    assert queries() == few
