"""The intelligence reports (issue #17, item 6): deflection by method, triage accuracy over time,
suggestions accepted. Every number below is worked out by hand from the fixtures' docstrings; the
page, the CSV and the API give the same; only agents see them."""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime

import pytest
from django.test import Client

from sportello.assist.models import AssistUse, Outcome
from sportello.customers.services import Sender
from sportello.forum import services as forum
from sportello.kb.models import Deflection, DeflectionMethod, DeflectionSource
from sportello.reports import facts
from sportello.reports.frame import REPORTS, ReportQuery
from sportello.reports.services import Period
from sportello.tickets.intake import Inbound, ingest
from sportello.tickets.models import Change, Ticket
from sportello.triage.models import Mode, Suggestion, SuggestionState, TrainedModel
from sportello.triage.services import system_user
from tests.conftest import api_client, client_for
from tests.forum.conftest import carla, empty_cache, printers, trust  # noqa: F401 — fixtures

pytestmark = pytest.mark.django_db

PERIOD = {"since": "2026-03-02", "until": "2026-03-08"}  # Monday to Sunday; before: 02-23 to 03-01
DAYS = ["2026-03-02", "2026-03-03", "2026-03-04", "2026-03-05", "2026-03-06", "2026-03-07", "2026-03-08"]


def at(day: str, clock: str = "12:00") -> datetime:
    return datetime.fromisoformat(f"{day}T{clock}").replace(tzinfo=UTC)


def figures(result) -> dict:  # type: ignore[no-untyped-def]
    return {f.key: (f.value, f.previous) for f in result.figures}


def table(result, columns: list[str]) -> list[list]:  # type: ignore[no-untyped-def]
    return [[row[key] for key in columns] for row in result.table.rows]


def request_ticket(channel: str, when: datetime, subject: str = "Help") -> Ticket:
    found = ingest(
        Inbound(channel=channel, sender=Sender(name="Nina New", email="nina@example.com"), subject=subject,
                body_text="Please help.", acknowledge=False)
    ).ticket  # fmt: skip
    Ticket.objects.filter(pk=found.pk).update(created_at=when)
    return found


# --- Deflection by method ----------------------------------------------------------------------------------


@pytest.fixture
def deflections(carla, printers, invoice_article):  # type: ignore[no-untyped-def]  # noqa: F811
    """All times UTC (the agent's time zone).

    Previous period: one by full text on the web form (02-25).
    The period 03-02 to 03-08:
      03-02: web form, full text; web form, by meaning; two web-form requests (tickets), one by mail
      03-03: portal, by meaning; portal, a forum topic (method "forum", as forum.services records it)
      03-04: chat, by meaning
      03-05: web form, a topic named on a row written before the method was kept (blank): the forum's;
             one portal request
      03-06: portal, a row naming nothing and no method: unknown
    Totals: 7 deflections (text 1, meaning 3, forum 2, unknown 1), 3 requests: a rate of 70.0 %;
    before: 1 and none, 100.0 %.
    """
    trust(carla)
    topic = forum.start_topic(carla, printers, forum.TopicText("question", "Toner smears", "Why?"))
    article = invoice_article.article

    def row(day: str, source: str, method: str = "", **more) -> None:  # type: ignore[no-untyped-def]
        Deflection.objects.create(source=source, method=method, created_at=at(day), **more)

    row("2026-02-25", DeflectionSource.WEBFORM, DeflectionMethod.TEXT, article=article)
    row("2026-03-02", DeflectionSource.WEBFORM, DeflectionMethod.TEXT, article=article)
    row("2026-03-02", DeflectionSource.WEBFORM, DeflectionMethod.MEANING, article=article)
    row("2026-03-03", DeflectionSource.PORTAL, DeflectionMethod.MEANING, article=article)
    forum.record_deflection(topic, source=DeflectionSource.PORTAL, session_key="s1")
    Deflection.objects.filter(session_key="s1").update(created_at=at("2026-03-03"))
    row("2026-03-04", DeflectionSource.CHAT, DeflectionMethod.MEANING, article=article)
    row("2026-03-05", DeflectionSource.WEBFORM, topic=topic)
    row("2026-03-06", DeflectionSource.PORTAL)
    request_ticket("web", at("2026-03-02", "09:00"))
    request_ticket("web", at("2026-03-02", "10:00"))
    request_ticket("email", at("2026-03-02", "11:00"))
    request_ticket("portal", at("2026-03-05"))
    return topic


DEFLECTION_COLUMNS = ["day", "text", "meaning", "forum", "unknown", "source_webform", "source_portal", "source_chat",
                      "deflections", "requests", "deflection_rate"]  # fmt: skip


def test_deflections_by_method_and_form_are_the_hand_computed_ones(deflections, agent):
    result = client_for(agent).get("/reports/deflection-methods", PERIOD).context["result"]
    assert figures(result) == {
        "deflections": (7, 1),
        "text": (1, 1),
        "meaning": (3, 0),
        "forum": (2, 0),
        "unknown": (1, 0),
        "deflection_rate": (70.0, 100.0),
    }
    assert Deflection.objects.get(session_key="s1").method == "forum"
    assert table(result, DEFLECTION_COLUMNS) == [
        # day, text, meaning, forum, unknown, web form, portal, chat, total, requests, rate
        ["2026-03-02", 1, 1, 0, 0, 2, 0, 0, 2, 2, 50.0],
        ["2026-03-03", 0, 1, 1, 0, 0, 2, 0, 2, 0, 100.0],
        ["2026-03-04", 0, 1, 0, 0, 0, 0, 1, 1, 0, 100.0],
        ["2026-03-05", 0, 0, 1, 0, 1, 0, 0, 1, 1, 50.0],
        ["2026-03-06", 0, 0, 0, 1, 0, 1, 0, 1, 0, 100.0],
        ["2026-03-07", 0, 0, 0, 0, 0, 0, 0, 0, 0, None],
        ["2026-03-08", 0, 0, 0, 0, 0, 0, 0, 0, 0, None],
    ]
    assert result.axis == DAYS and result.chart == "stacked-bar"
    assert {s.key: s.values for s in result.series}["meaning"] == [1, 1, 1, 0, 0, 0, 0]
    assert [[row[k] for k in ("source", "text", "meaning", "forum", "unknown", "total")]
            for row in result.extra["by_source"].rows] == [
        ["Web form", 1, 1, 1, 0, 3],
        ["Portal", 0, 1, 1, 1, 3],
        ["Chat", 0, 1, 0, 0, 1],
    ]  # fmt: skip


def test_deflections_by_the_week_and_filters_listed_as_not_applying(deflections, agent):
    result = client_for(agent).get("/reports/deflection-methods", {**PERIOD, "granularity": "week", "channel": "email"})
    found = result.context["result"]
    assert table(found, DEFLECTION_COLUMNS) == [["2026-03-02", 1, 3, 2, 1, 3, 3, 1, 7, 3, 70.0]]
    assert found.extra["ignored_filters"].rows == [{"filter": "channel"}]


# --- Triage accuracy and suggestions accepted ----------------------------------------------------------------


@pytest.fixture
def triage(agent):  # type: ignore[no-untyped-def]
    """Suggestions on tickets T1..T11 (one each), all times UTC; models: group 0.8, priority 0.6,
    tags 0.5 accurate at training.

    The period:
      03-02  T1 group ACCEPTED (right), T2 group DISMISSED (wrong)
      03-03  T3 priority APPLIED, untouched (right); T4 priority APPLIED, the agent changed the
             priority on 03-04 (wrong)
      03-04  T5 tags "printer, urgent" APPLIED, the agent then set "printer, urgent, vip" (right: a tag
             added); T6 tags "billing" APPLIED, the agent set "refund" (wrong: the tag left out)
      03-05  T7 language AGREED (right, no model); T8 category SHOWN; T9 category BELOW (neither decided)
      03-06  T10 priority APPLIED; Triage itself changed the priority afterwards (not a person: right)
    Before: T11 group DISMISSED on 02-25.
    Decided 8, right 5: 62.5 %; at training (0.8 * 2 + 0.6 * 3 + 0.5 * 2) / 7 = 62.9 %.
    Before: 1 decided, 0 right; at training 80.0 %.
    Shown to agents: T1, T2, T8 (1 accepted of 3: 33.3 %); before T11 (0 of 1).

    Reply assistance: 03-02 a draft put into the reply, a draft discarded; 03-04 a summary closed
    (only read: listed, not in the share), a tone change used in the reply, a draft the agent did
    nothing with, a translation that failed (not counted). Before: 02-26 a draft discarded.
    Answers to use 4, used 2: 50.0 %; before 0 of 1.
    """
    models = {
        target: TrainedModel.objects.create(target=target, accuracy=accuracy, baseline=0.3)
        for target, accuracy in (("group", 0.8), ("priority", 0.6), ("tags", 0.5))
    }
    tickets = [request_ticket("email", at("2026-02-20"), f"T{n}") for n in range(1, 12)]

    def made(n: int, target: str, state: str, day: str, value: str = "1") -> None:
        Suggestion.objects.create(
            ticket=tickets[n - 1], target=target, value=value, label=value, confidence=0.9,
            model=models.get(target), mode=Mode.APPLY, state=state, created_at=at(day),
        )  # fmt: skip

    def changed(n: int, field: str, new: str, day: str, actor=agent) -> None:  # type: ignore[no-untyped-def]
        when = at(day, "15:00")
        Change.objects.create(ticket=tickets[n - 1], actor=actor, field=field, new_value=new, created_at=when)

    made(1, "group", SuggestionState.ACCEPTED, "2026-03-02")
    made(2, "group", SuggestionState.DISMISSED, "2026-03-02")
    made(3, "priority", SuggestionState.APPLIED, "2026-03-03")
    made(4, "priority", SuggestionState.APPLIED, "2026-03-03")
    changed(4, "priority", "Low", "2026-03-04")
    changed(3, "group", "Second level", "2026-03-04")  # another field: T3's priority stays right
    made(5, "tags", SuggestionState.APPLIED, "2026-03-04", "printer, urgent")
    changed(5, "tags", "printer, urgent, vip", "2026-03-04")
    made(6, "tags", SuggestionState.APPLIED, "2026-03-04", "billing")
    changed(6, "tags", "refund", "2026-03-04")
    made(7, "language", SuggestionState.AGREED, "2026-03-05", "en")
    made(8, "category", SuggestionState.SHOWN, "2026-03-05")
    made(9, "category", SuggestionState.BELOW, "2026-03-05")
    made(10, "priority", SuggestionState.APPLIED, "2026-03-06")
    changed(10, "priority", "High", "2026-03-06", actor=system_user())
    made(11, "group", SuggestionState.DISMISSED, "2026-02-25")
    Suggestion.objects.filter(ticket=tickets[6]).update(model=None)

    def used(day: str, action: str, accepted: bool | None, outcome: str = Outcome.ANSWERED) -> None:
        use = AssistUse.objects.create(
            user=agent, ticket=tickets[0], action=action, model="m", server="http://127.0.0.1", outcome=outcome,
            accepted=accepted,
        )  # fmt: skip
        AssistUse.objects.filter(pk=use.pk).update(created_at=at(day))

    used("2026-03-02", "draft", True)
    used("2026-03-02", "draft", False)
    used("2026-03-04", "summarise", False)
    used("2026-03-04", "tone", True)
    used("2026-03-04", "draft", None)
    used("2026-03-04", "translate_out", None, Outcome.FAILED)
    used("2026-02-26", "draft", False)
    facts.refresh([found.pk for found in tickets])  # what the ticket filters read (the worker's job)
    return tickets


ACCURACY_COLUMNS = ["day", "decided", "right", "wrong", "accuracy", "group_accuracy", "category_accuracy",
                    "priority_accuracy", "language_accuracy", "tags_accuracy"]  # fmt: skip


def test_triage_accuracy_is_the_hand_computed_one(triage, agent):
    result = client_for(agent).get("/reports/triage-accuracy", PERIOD).context["result"]
    assert figures(result) == {
        "accuracy": (62.5, 0.0),
        "trained_accuracy": (62.9, 80.0),
        "decided": (8, 1),
        "wrong": (3, 1),
    }
    assert table(result, ACCURACY_COLUMNS) == [
        ["2026-03-02", 2, 1, 1, 50.0, 50.0, None, None, None, None],
        ["2026-03-03", 2, 1, 1, 50.0, None, None, 50.0, None, None],
        ["2026-03-04", 2, 1, 1, 50.0, None, None, None, None, 50.0],
        ["2026-03-05", 1, 1, 0, 100.0, None, None, None, 100.0, None],
        ["2026-03-06", 1, 1, 0, 100.0, None, None, 100.0, None, None],
        ["2026-03-07", 0, 0, 0, None, None, None, None, None, None],
        ["2026-03-08", 0, 0, 0, None, None, None, None, None, None],
    ]
    assert result.axis == DAYS and result.series[0].key == "accuracy"
    assert [[row[k] for k in ("target", "decided", "right", "wrong", "accuracy", "trained_accuracy")]
            for row in result.extra["by_target"].rows] == [
        ["Group", 2, 1, 1, 50.0, 80.0],
        ["Ticket type", 0, 0, 0, None, None],
        ["Priority", 3, 2, 1, 66.7, 60.0],
        ["Language", 1, 1, 0, 100.0, None],
        ["Tags", 2, 1, 1, 50.0, 50.0],
    ]  # fmt: skip
    week = client_for(agent).get("/reports/triage-accuracy", {**PERIOD, "granularity": "week"}).context["result"]
    assert table(week, ACCURACY_COLUMNS) == [["2026-03-02", 8, 5, 3, 62.5, 50.0, None, 66.7, 100.0, 50.0]]


ACCEPTANCE_COLUMNS = ["day", "triage_shown", "triage_accepted", "triage_dismissed", "triage_pending",
                      "triage_accepted_percent", "assist_answers", "assist_inserted", "assist_discarded",
                      "assist_unsaid", "assist_inserted_percent"]  # fmt: skip


def test_suggestions_accepted_are_the_hand_computed_ones(triage, agent):
    result = client_for(agent).get("/reports/suggestions-accepted", PERIOD).context["result"]
    assert figures(result) == {
        "triage_accepted_percent": (33.3, 0.0),
        "assist_inserted_percent": (50.0, 0.0),
        "triage_shown": (3, 1),
        "assist_answers": (4, 1),
    }
    assert table(result, ACCEPTANCE_COLUMNS) == [
        ["2026-03-02", 2, 1, 1, 0, 50.0, 2, 1, 1, 0, 50.0],
        ["2026-03-03", 0, 0, 0, 0, None, 0, 0, 0, 0, None],
        ["2026-03-04", 0, 0, 0, 0, None, 2, 1, 0, 1, 50.0],
        ["2026-03-05", 1, 0, 0, 1, 0.0, 0, 0, 0, 0, None],
        ["2026-03-06", 0, 0, 0, 0, None, 0, 0, 0, 0, None],
        ["2026-03-07", 0, 0, 0, 0, None, 0, 0, 0, 0, None],
        ["2026-03-08", 0, 0, 0, 0, None, 0, 0, 0, 0, None],
    ]
    by_target = {row["target"]: row for row in result.extra["triage_by_target"].rows}
    assert by_target["Group"] == {"target": "Group", "shown": 2, "accepted": 1, "dismissed": 1, "pending": 0,
                                  "accepted_percent": 50.0}  # fmt: skip
    assert by_target["Ticket type"]["pending"] == 1 and by_target["Priority"]["shown"] == 0
    by_action = {row["action"]: [row[k] for k in ("answers", "inserted", "discarded", "unsaid", "inserted_percent")]
                 for row in result.extra["assist_by_action"].rows}  # fmt: skip
    assert by_action == {
        "Summarise the thread": [1, 0, 1, 0, None],  # closed: only read
        "Draft a reply": [3, 1, 1, 1, 33.3],
        "Improve the tone": [1, 1, 0, 0, 100.0],
        "Translate the customer's message": [0, 0, 0, 0, None],
        "Translate into the customer's language": [0, 0, 0, 0, None],  # the failed one is not an answer
    }


def test_ticket_filters_and_group_restrictions_narrow_triage_and_assistance(triage, agent, restricted_agent):
    assert figures(REPORTS["triage-accuracy"][1](ReportQuery(Period.parse("2026-03-02", "2026-03-08")), agent))[
        "decided"
    ] == (8, 1)
    # The fixture's tickets came by mail and have no group: a web filter and a restricted agent find none.
    web = client_for(agent).get("/reports/triage-accuracy", {**PERIOD, "channel": "web"}).context["result"]
    assert figures(web)["decided"] == (0, 0)
    email = client_for(agent).get("/reports/suggestions-accepted", {**PERIOD, "channel": "email"}).context["result"]
    assert figures(email)["assist_answers"] == (4, 1)
    restricted = client_for(restricted_agent).get("/reports/suggestions-accepted", PERIOD).context["result"]
    assert figures(restricted)["triage_shown"] == (0, 0) and figures(restricted)["assist_answers"] == (0, 0)


# --- The same everywhere; agents only -----------------------------------------------------------------------

SLUGS = ("deflection-methods", "triage-accuracy", "suggestions-accepted")


@pytest.mark.parametrize("slug", SLUGS)
def test_csv_and_api_equal_the_page(deflections, triage, agent, slug):
    page = client_for(agent).get(f"/reports/{slug}", PERIOD)
    assert page.status_code == 200
    result = page.context["result"]
    html = page.content.decode()
    assert 'id="chart-data"' in html and 'id="report-table"' in html  # the chart first, the table below
    assert html.index('id="chart-data"') < html.index('id="report-table"')
    columns = [key for key, _label in result.table.columns]
    expected = [columns, *(["" if row[k] is None else str(row[k]) for k in columns] for row in result.table.rows)]
    response = client_for(agent).get(f"/reports/{slug}", {**PERIOD, "format": "csv"})
    assert response["Content-Type"].startswith("text/csv")
    assert list(csv.reader(io.StringIO(response.content.decode()))) == expected
    body = api_client(agent).get(f"/api/v1/reports/{slug}", PERIOD).json()
    assert body["slug"] == slug and body["previous"] == {"since": "2026-02-23", "until": "2026-03-01",
                                                         "time_zone": "UTC"}  # fmt: skip
    assert {f["key"]: (f["value"], f["previous"]) for f in body["figures"]} == figures(result)
    assert [[row[k] for k in columns] for row in body["table"]["rows"]] == table(result, columns)
    for name, extra in result.extra.items():
        assert body["extra"][name]["rows"] == extra.rows


def test_they_are_listed_on_the_reports_index(agent):
    html = client_for(agent).get("/reports/").content.decode()
    for slug, title in zip(SLUGS, ("Deflection by method", "Triage accuracy", "Suggestions accepted"), strict=True):
        assert f'href="/reports/{slug}"' in html and title in html


@pytest.mark.parametrize("slug", SLUGS)
def test_only_agents_see_them(stranger, customer_user, slug):
    assert client_for(None).get(f"/reports/{slug}").status_code == 302  # to sign in
    assert client_for(stranger).get(f"/reports/{slug}").status_code == 403
    assert client_for(customer_user).get(f"/reports/{slug}").status_code == 403  # a portal customer
    assert client_for(customer_user).get(f"/reports/{slug}", {"format": "csv"}).status_code == 403
    assert Client().get(f"/api/v1/reports/{slug}").status_code == 401
    assert api_client(customer_user).get(f"/api/v1/reports/{slug}").status_code == 403


@pytest.mark.parametrize("slug", SLUGS)
def test_bad_input_is_refused_with_a_message(agent, slug):
    assert client_for(agent).get(f"/reports/{slug}", {"since": "2026-13-01"}).status_code == 400
    for params in ({"since": "yesterday"}, {"since": "2026-03-08", "until": "2026-03-01"}, {"granularity": "x"}):
        response = api_client(agent).get(f"/api/v1/reports/{slug}", params)
        assert response.status_code == 422, params
        assert response.json()["detail"], params
