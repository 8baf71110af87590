"""Satisfaction surveys: offered once when a ticket is solved, answered through the email's links."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
import time_machine
from django.core import mail
from django.test import Client
from django.utils import timezone

from sportello.automation.models import Trigger
from sportello.csat import services
from sportello.csat.models import Survey
from sportello.customers.models import Identity
from sportello.customers.services import Sender
from sportello.tickets import statuses
from sportello.tickets.intake import Inbound, ingest
from sportello.tickets.models import StatusCategory
from sportello.tickets.services import TicketChanges, reply_to_ticket, update_ticket
from tests.conftest import client_for
from tests.csat.conftest import solve, survey_links

pytestmark = pytest.mark.django_db


def post_answer(client: Client, path: str, rating: str, comment: str = "", capture=None):  # type: ignore[no-untyped-def]
    if capture is None:
        return client.post(path, {"rating": rating, "comment": comment})
    with capture(execute=True):
        return client.post(path, {"rating": rating, "comment": comment})


# --- Offering ----------------------------------------------------------------------------------------------


def test_solving_mails_one_click_links_to_the_customer(solved, agent):
    message = mail.outbox[-1]
    assert message.to == ["Carla Rossi <carla@example.com>"]
    assert message.subject == f"[#{solved.number}] How did we do? Printer on fire"
    assert message.extra_headers["Auto-Submitted"] == "auto-generated"
    links = survey_links()
    assert links["good"].startswith(f"/csat/{solved.number}/") and links["bad"].endswith("/bad")
    html = message.alternatives[0][0]
    assert '<a href="http://' in html and links["good"] in html
    survey = Survey.objects.get(ticket=solved)
    assert survey.mailed_to == "carla@example.com" and survey.agent == agent and survey.rating == ""


def test_a_reply_that_solves_the_ticket_offers_the_survey(ticket, agent, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        reply_to_ticket(
            ticket, agent, body_text="Fixed.", status=statuses.builtin(StatusCategory.SOLVED), deliver=False
        )
    assert Survey.objects.filter(ticket=ticket).count() == 1
    assert "How did we do?" in mail.outbox[-1].subject


def test_the_survey_speaks_the_customers_language(ticket, agent, django_capture_on_commit_callbacks):
    ticket.customer.language = "it"
    ticket.customer.save()
    solve(ticket, agent, django_capture_on_commit_callbacks)
    assert "Com'è andata?" in mail.outbox[-1].subject
    assert "Bene, sono soddisfatto" in mail.outbox[-1].body


def test_offered_once_even_when_solved_again(solved, agent, django_capture_on_commit_callbacks):
    sent = len(mail.outbox)
    with django_capture_on_commit_callbacks(execute=True):
        update_ticket(solved, agent, TicketChanges(status=statuses.builtin(StatusCategory.OPEN)))
    solve(solved, agent, django_capture_on_commit_callbacks)
    assert len(mail.outbox) == sent and Survey.objects.filter(ticket=solved).count() == 1


def test_no_survey_mail_when_the_address_bounced(ticket, agent, django_capture_on_commit_callbacks):
    Identity.objects.filter(customer=ticket.customer).update(undeliverable=True)
    solve(ticket, agent, django_capture_on_commit_callbacks)
    assert mail.outbox == []
    # Still offered in the portal.
    assert Survey.objects.get(ticket=ticket).mailed_to == ""


def test_no_survey_for_a_ticket_opened_by_a_machine(agent, django_capture_on_commit_callbacks):
    ticket = ingest(
        Inbound(
            channel="email", sender=Sender(name="Mailer", email="noreply@vendor.example"), subject="Out of office",
            body_text="I am away.", acknowledge=False,
            metadata={"flags": {"auto_reply": True, "auto_reply_reason": "Auto-Submitted: auto-replied"}},
        )
    ).ticket  # fmt: skip
    solve(ticket, agent, django_capture_on_commit_callbacks)
    assert mail.outbox == [] and not Survey.objects.filter(ticket=ticket).exists()


def test_closing_or_other_changes_offer_nothing(ticket, agent, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        update_ticket(ticket, agent, TicketChanges(priority=4))
        update_ticket(ticket, agent, TicketChanges(status=statuses.builtin(StatusCategory.PENDING)))
    assert not Survey.objects.exists() and mail.outbox == []


# --- Answering through the email's links ------------------------------------------------------------------


# What a browser sends when a person opens a link of the mail (a click in a mail app or webmail).
BROWSER = {"Sec-Fetch-Mode": "navigate", "Sec-Fetch-Dest": "document", "Sec-Fetch-Site": "none", "Sec-Fetch-User": "?1"}


def browser() -> Client:
    return Client(headers=BROWSER)


def test_one_click_on_a_link_records_the_answer_and_offers_a_comment(solved, survey):
    response = browser().get(survey_links()["bad"])
    assert response.status_code == 200
    page = response.content.decode()
    assert 'id="survey-thanks"' in page and "Thank you! Your answer was recorded." in page
    survey.refresh_from_db()
    assert (survey.rating, survey.source) == ("bad", "email") and survey.answered_at is not None
    assert solved.changes.filter(field="csat", new_value="bad").exists()
    # The same page holds the answer, to change it or to add a comment.
    assert 'id="survey-form"' in page and re.search(r'value="bad"[^>]*checked', page) and "<textarea" in page
    response = post_answer(Client(), survey_links()["bad"], "bad", "Two days without a printer")
    survey.refresh_from_db()
    assert (survey.rating, survey.comment) == ("bad", "Two days without a printer")


@pytest.mark.parametrize(
    "method, headers",
    [
        ("get", {}),  # an HTTP client (a mail scanner): no Sec-Fetch headers
        ("get", {"User-Agent": "Mozilla/5.0 (compatible; MSIE 9.0; Windows NT 6.1)"}),
        ("head", BROWSER),
        ("get", {**BROWSER, "Sec-Purpose": "prefetch"}),
        ("get", {**BROWSER, "Sec-Purpose": "prefetch;prerender"}),
        ("get", {**BROWSER, "Purpose": "prefetch"}),
        ("get", {**BROWSER, "X-Moz": "prefetch"}),
        ("get", {**BROWSER, "X-Purpose": "preview"}),
        ("get", {**BROWSER, "Sec-Fetch-Dest": "iframe"}),  # a page embedding the link
    ],
)
def test_scanners_and_prefetches_do_not_vote(solved, survey, method, headers):
    response = getattr(Client(headers=headers), method)(survey_links()["bad"])
    assert response.status_code == 200
    if method == "get":
        page = response.content.decode()
        assert 'id="survey-thanks"' not in page and 'id="survey-form"' in page
        assert re.search(r'value="bad"[^>]*checked', page) and "Send my answer" in page  # one click to confirm
    survey.refresh_from_db()
    assert survey.rating == "" and survey.answered_at is None
    assert not solved.changes.filter(field="csat", new_value__in=["good", "bad"]).exists()


def test_a_click_on_the_other_link_offers_the_change_without_making_it(solved, survey):
    links = survey_links()
    browser().get(links["good"])
    post_answer(Client(), links["good"], "good", "Fast")
    # A scanner driving a browser through every link, or a second look at the mail: no silent change.
    page = browser().get(links["bad"]).content.decode()
    survey.refresh_from_db()
    assert (survey.rating, survey.comment) == ("good", "Fast")
    assert 'id="survey-current"' in page and "Your answer: good." in page and 'id="survey-thanks"' not in page
    assert re.search(r'value="bad"[^>]*checked', page) and "Save my answer" in page and "Fast</textarea>" in page
    # The person who changed their mind saves it in one click.
    response = post_answer(Client(), links["bad"], "bad", "Fast, but it broke again")
    assert response.status_code == 200 and 'id="survey-thanks"' in response.content.decode()
    survey.refresh_from_db()
    assert (survey.rating, survey.comment) == ("bad", "Fast, but it broke again")


def test_a_click_after_the_change_window_changes_nothing(solved, survey):
    links = survey_links()
    start = timezone.now()
    with time_machine.travel(start, tick=False):
        browser().get(links["good"])
    with time_machine.travel(start + timedelta(days=4), tick=False):
        response = browser().get(links["bad"])
    assert response.status_code == 200 and "This answer can no longer be changed." in response.content.decode()
    survey.refresh_from_db()
    assert survey.rating == "good"


def test_the_post_records_the_answer_and_its_comment(solved, survey):
    response = post_answer(Client(), survey_links()["good"], "good", "Quick and kind")
    assert response.status_code == 200 and 'id="survey-thanks"' in response.content.decode()
    survey.refresh_from_db()
    assert (survey.rating, survey.comment, survey.source) == ("good", "Quick and kind", "email")
    assert solved.changes.filter(field="csat", new_value="good").exists()


def test_a_comment_with_html_is_shown_escaped(solved, survey, agent):
    hostile = '<script>alert(1)</script><img src=x onerror="alert(2)">'
    response = post_answer(Client(), survey_links()["bad"], "bad", hostile)
    assert "<script>alert(1)" not in response.content.decode()
    panel = client_for(agent).get(f"/csat/agent/tickets/{solved.number}").content.decode()
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in panel and "<script>" not in panel and "<img" not in panel


def test_a_forged_token_is_refused(solved, survey):
    assert browser().get(f"/csat/{solved.number}/not-a-token/good").status_code == 404
    good = survey_links()["good"]
    tampered = good.replace("/good", "").rstrip("/")[:-2] + "xx/good"
    assert browser().get(tampered).status_code == 404
    assert post_answer(Client(), tampered, "good").status_code == 404
    survey.refresh_from_db()
    assert survey.rating == ""


def test_a_token_of_another_ticket_is_refused(solved, survey, customer, agent, django_capture_on_commit_callbacks):
    other = ingest(Inbound(channel="web", sender=Sender(name="Carla Rossi", email="carla@example.com"),
                           subject="Second", body_text="Another one", acknowledge=False)).ticket  # fmt: skip
    token = services.survey_token(survey)
    solve(other, agent, django_capture_on_commit_callbacks)
    response = post_answer(Client(), f"/csat/{other.number}/{token}/bad", "bad")
    assert response.status_code == 404
    assert not Survey.objects.exclude(rating="").exists()


def test_an_agent_cannot_vote_for_the_customer(solved, survey, agent):
    response = post_answer(client_for(agent), survey_links()["good"], "good")
    assert response.status_code == 403 and "Agents cannot answer" in response.content.decode()
    clicked = client_for(agent)
    clicked.defaults.update({f"HTTP_{name.upper().replace('-', '_')}": value for name, value in BROWSER.items()})
    response = clicked.get(survey_links()["good"])
    assert response.status_code == 403 and "Agents cannot answer" in response.content.decode()
    survey.refresh_from_db()
    assert survey.rating == ""


def test_the_answer_changes_for_three_days_then_stays(solved, survey):
    links = survey_links()
    start = timezone.now()
    with time_machine.travel(start, tick=False):
        post_answer(Client(), links["good"], "good")
    with time_machine.travel(start + timedelta(days=2), tick=False):
        assert post_answer(Client(), links["bad"], "bad", "It broke again").status_code == 200
    survey.refresh_from_db()
    assert (survey.rating, survey.answered_at) == ("bad", start)
    with time_machine.travel(start + timedelta(days=3, seconds=1), tick=False):
        response = post_answer(Client(), links["good"], "good")
        assert response.status_code == 409 and "can no longer be changed" in response.content.decode()
    survey.refresh_from_db()
    assert survey.rating == "bad" and Survey.objects.count() == 1


def test_an_expired_link_is_refused(solved, survey):
    links = survey_links()
    with time_machine.travel(timezone.now() + timedelta(days=31)):
        response = browser().get(links["good"])
    assert response.status_code == 410 and "expired" in response.content.decode()
    survey.refresh_from_db()
    assert survey.rating == ""


def test_an_unknown_answer_is_not_found(solved, survey):
    assert Client().get(survey_links()["good"].replace("/good", "/meh")).status_code == 404


# --- The csat.rated event and triggers -------------------------------------------------------------------


def test_a_bad_rating_fires_a_csat_bad_trigger(solved, survey, django_capture_on_commit_callbacks):
    Trigger.objects.create(
        name="Unhappy customer", event="csat_bad", actions=[{"type": "add_tags", "tags": ["unhappy"]}]
    )
    links = survey_links()
    post_answer(Client(), links["good"], "good", capture=django_capture_on_commit_callbacks)
    assert not solved.tags.filter(name="unhappy").exists()
    post_answer(Client(), links["bad"], "bad", "Still broken", capture=django_capture_on_commit_callbacks)
    assert solved.tags.filter(name="unhappy").exists()


# --- The agent's ticket page ------------------------------------------------------------------------------


def test_the_agents_ticket_page_shows_the_answer(solved, survey, agent, light_agent):
    post_answer(Client(), survey_links()["bad"], "bad", "Too slow")
    page = client_for(agent).get(f"/tickets/{solved.number}/").content.decode()
    assert f'hx-get="/csat/agent/tickets/{solved.number}"' in page
    for user in (agent, light_agent):
        panel = client_for(user).get(f"/csat/agent/tickets/{solved.number}")
        assert panel.status_code == 200 and 'data-rating="bad"' in panel.content.decode()
        assert "Too slow" in panel.content.decode()


def test_the_panel_is_for_agents_only(solved, survey, customer_user):
    assert client_for(customer_user).get(f"/csat/agent/tickets/{solved.number}").status_code == 403
    assert Client().get(f"/csat/agent/tickets/{solved.number}").status_code == 302


def test_the_panel_is_empty_without_a_survey(ticket, agent):
    response = client_for(agent).get(f"/csat/agent/tickets/{ticket.number}")
    assert response.status_code == 200 and response.content.decode().strip() == ""


def test_a_survey_whose_task_was_lost_is_mailed_by_the_outbox_sweep(
    ticket, agent, monkeypatch, django_capture_on_commit_callbacks
):
    from sportello.core import outbox

    class BrokenQueue:
        def enqueue(self, *args: object) -> None:
            raise ConnectionError("the task queue is down")

    monkeypatch.setattr("sportello.core.tasks.drain_message", BrokenQueue())
    solve(ticket, agent, django_capture_on_commit_callbacks)
    assert Survey.objects.get(ticket=ticket).mailed_to == "" and mail.outbox == []
    monkeypatch.undo()
    outbox.sweep()
    outbox.sweep()
    [message] = mail.outbox
    assert message.subject.startswith(f"[#{ticket.number}]") and set(survey_links()) == {"good", "bad"}
    assert Survey.objects.get(ticket=ticket).mailed_to == "carla@example.com"
