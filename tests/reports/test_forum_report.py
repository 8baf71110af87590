"""The forum report: topics, answers, who answered and how soon, deflections through topics; the
same on the page, in the CSV and in the API; for agents only. The numbers below are worked out by
hand from the fixture (its docstring lists every topic and post)."""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime

import pytest
from django.test import Client

from sportello.forum import services
from sportello.forum.models import Post, Topic
from sportello.kb.models import Deflection, DeflectionSource
from sportello.kb.services import record_deflection
from sportello.reports.frame import REPORTS, ReportQuery
from sportello.reports.services import Period
from tests.conftest import api_client, client_for
from tests.forum.conftest import carla, dora, empty_cache, printers, trust  # noqa: F401 — fixtures

pytestmark = pytest.mark.django_db

PERIOD = {"since": "2026-03-02", "until": "2026-03-08"}  # the previous period: 2026-02-23 to 03-01


def at(day: str, clock: str = "12:00") -> datetime:
    return datetime.fromisoformat(f"{day}T{clock}").replace(tzinfo=UTC)


def opened(user, category, title: str, when: datetime) -> Topic:  # type: ignore[no-untyped-def]
    topic = services.start_topic(user, category, services.TopicText("question", title, "Help, please."))
    Topic.objects.filter(pk=topic.pk).update(created_at=when)
    Post.objects.filter(topic=topic, opening=True).update(created_at=when)
    topic.refresh_from_db()
    return topic


def replied(user, topic: Topic, when: datetime) -> Post:  # type: ignore[no-untyped-def]
    post = services.reply_to_topic(user, topic, f"An answer at {when}")
    Post.objects.filter(pk=post.pk).update(created_at=when)
    post.refresh_from_db()
    return post


def deflected(topic: Topic, source: str, when: datetime, session: str) -> None:
    services.record_deflection(topic, source=source, session_key=session)
    Deflection.objects.filter(session_key=session).update(created_at=when)


@pytest.fixture
def forum(carla, dora, printers, agent, invoice_article, settings):  # type: ignore[no-untyped-def]  # noqa: F811
    """All times UTC (the agent's time zone).

    Previous period: T0 (Dora) opened 02-25 12:00, Carla answered 12:02 (120 s, community).
    The period 03-02 to 03-08:
      T1 (Carla) 03-02 12:00: Carla 12:30 (her own: no answer), Dora 13:00 (first answer, 3600 s),
         agent 14:00, marked solution -> agents.
      T2 (Dora) 03-03 12:00: agent 12:10 (600 s) -> agents; Carla 13:00, hidden (not counted).
      T3 (Carla) 03-03 12:00: Dora 03-04 12:00 (86400 s), marked solution -> community.
      T4 (Dora) 03-05 12:00: T6 merged into it: its question (Carla, 03-06 12:00) is T4's first
         answer (86400 s) -> community.
      T5 (Carla) 03-05 12:00, hidden, with Dora's reply at 13:00: neither is counted.
      T6 (Carla) 03-06 12:00, merged into T4: not counted as a topic.
      T0: the agent answered 03-02 12:30 (an answer of the period in an older topic).
    Deflections: T2 twice by the web form on 03-03, T3 once by the portal on 03-04; an article's
    (03-04) and one recorded before topics were kept (no topic, no article) are not the forum's.
    """
    settings.FORUM_POST_RATE_LIMIT = 1000
    trust(carla, dora)
    t0 = opened(dora, printers, "T0 toner smears", at("2026-02-25"))
    replied(carla, t0, at("2026-02-25", "12:02"))
    t1 = opened(carla, printers, "T1 printer blinks", at("2026-03-02"))
    replied(carla, t1, at("2026-03-02", "12:30"))
    replied(dora, t1, at("2026-03-02", "13:00"))
    services.mark_solution(carla, replied(agent, t1, at("2026-03-02", "14:00")))
    t2 = opened(dora, printers, "T2 paper jam", at("2026-03-03"))
    replied(agent, t2, at("2026-03-03", "12:10"))
    services.hide_post(agent, replied(carla, t2, at("2026-03-03", "13:00")))
    t3 = opened(carla, printers, "T3 tray stuck", at("2026-03-03"))
    services.mark_solution(carla, replied(dora, t3, at("2026-03-04")))
    t4 = opened(dora, printers, "T4 wifi drops", at("2026-03-05"))
    t5 = opened(carla, printers, "T5 spam", at("2026-03-05"))
    replied(dora, t5, at("2026-03-05", "13:00"))
    services.hide_post(agent, t5.posts.get(opening=True))
    t6 = opened(carla, printers, "T6 wifi drops again", at("2026-03-06"))
    services.merge_topics(agent, t6, t4)
    replied(agent, t0, at("2026-03-02", "12:30"))
    deflected(t2, DeflectionSource.WEBFORM, at("2026-03-03", "15:00"), "s1")
    deflected(t2, DeflectionSource.WEBFORM, at("2026-03-03", "16:00"), "s2")
    deflected(t3, DeflectionSource.PORTAL, at("2026-03-04", "15:00"), "s3")
    found = record_deflection(invoice_article.article, session_key="s4", source=DeflectionSource.WEBFORM)
    Deflection.objects.filter(pk=found.pk).update(created_at=at("2026-03-04"))
    Deflection.objects.create(article=None, source=DeflectionSource.PORTAL, created_at=at("2026-03-04"))
    return {"t2": t2, "t3": t3}


def figures(body) -> dict:  # type: ignore[no-untyped-def]
    return {f.key: (f.value, f.previous) for f in body.figures}


def test_the_figures_and_the_table_are_the_hand_computed_ones(forum, agent):
    result = client_for(agent).get("/reports/forum", PERIOD).context["result"]
    assert figures(result) == {
        "topics": (4, 1),
        "answers": (7, 1),
        "community_percent": (50.0, 100.0),
        "agents_percent": (50.0, 0.0),
        "first_answer_median": (45000.0, 120.0),  # of 600, 3600, 86400, 86400
        "deflections": (3, 0),
    }
    columns = [key for key, _label in result.table.columns]
    rows = [[row[key] for key in columns] for row in result.table.rows]
    assert rows == [
        # day, topics, by community, by agents, unanswered, %, %, median, answers (community, agents), deflections
        ["2026-03-02", 1, 0, 1, 0, 0.0, 100.0, 3600.0, 4, 2, 2, 0],
        ["2026-03-03", 2, 1, 1, 0, 50.0, 50.0, 43500.0, 1, 0, 1, 2],
        ["2026-03-04", 0, 0, 0, 0, None, None, None, 1, 1, 0, 1],
        ["2026-03-05", 1, 1, 0, 0, 100.0, 0.0, 86400.0, 0, 0, 0, 0],
        ["2026-03-06", 0, 0, 0, 0, None, None, None, 1, 1, 0, 0],
        ["2026-03-07", 0, 0, 0, 0, None, None, None, 0, 0, 0, 0],
        ["2026-03-08", 0, 0, 0, 0, None, None, None, 0, 0, 0, 0],
    ]
    assert result.axis == [row[0] for row in rows]
    assert {s.key: s.values for s in result.series}["deflections"] == [0, 2, 1, 0, 0, 0, 0]
    categories = result.extra["forum_categories"].rows
    assert categories == [
        {
            "category": "Printers",
            "language": "en",
            "topics": 4,
            "answered_community": 2,
            "answered_agents": 2,
            "unanswered": 0,
            "first_answer_median_seconds": 45000.0,
        }
    ]
    assert [(row["title"], row["deflections"]) for row in result.extra["topics"].rows] == [
        ("T2 paper jam", 2),
        ("T3 tray stuck", 1),
    ]


def test_a_week_bucket_and_an_unanswered_topic(forum, agent, dora, printers):  # noqa: F811
    opened(dora, printers, "T7 nobody knows", at("2026-03-07"))
    result = client_for(agent).get("/reports/forum", {**PERIOD, "granularity": "week"}).context["result"]
    # 03-02 is a Monday: one week, 03-02 to 03-08.
    assert [(row["day"], row["topics"], row["unanswered"], row["community_percent"]) for row in result.table.rows] == [
        ("2026-03-02", 5, 1, 40.0)
    ]
    assert figures(result)["first_answer_median"] == (45000.0, 120.0)  # the unanswered one has no time


def test_csv_and_api_equal_the_page(forum, agent):
    page = client_for(agent).get("/reports/forum", PERIOD)
    result = page.context["result"]
    columns = [key for key, _label in result.table.columns]
    expected = [columns, *(["" if row[k] is None else str(row[k]) for k in columns] for row in result.table.rows)]
    response = client_for(agent).get("/reports/forum", {**PERIOD, "format": "csv"})
    assert response["Content-Type"].startswith("text/csv")
    assert list(csv.reader(io.StringIO(response.content.decode()))) == expected
    body = api_client(agent).get("/api/v1/reports/forum", PERIOD).json()
    assert body["slug"] == "forum" and body["previous"]["since"] == "2026-02-23"
    assert {f["key"]: (f["value"], f["previous"]) for f in body["figures"]} == figures(result)
    assert [[row[k] for k in columns] for row in body["table"]["rows"]] == [
        [row[k] for k in columns] for row in result.table.rows
    ]
    assert body["extra"]["topics"]["rows"] == result.extra["topics"].rows
    html = page.content.decode()
    assert "By forum category" in html and "Forum topics that solved the most problems" in html


def test_ticket_filters_are_listed_as_not_applying(forum, agent):
    result = client_for(agent).get("/reports/forum", {**PERIOD, "channel": "email"}).context["result"]
    assert result.extra["ignored_filters"].rows == [{"filter": "channel"}]
    assert figures(result)["topics"] == (4, 1)


def test_bad_input_is_refused_with_a_message(agent):
    client = client_for(agent)
    assert client.get("/reports/forum", {"since": "2026-13-01"}).status_code == 400
    assert client.get("/reports/forum", {"granularity": "hour"}).status_code == 400
    api = api_client(agent)
    for params in ({"since": "yesterday"}, {"since": "2026-03-08", "until": "2026-03-01"}, {"granularity": "x"}):
        response = api.get("/api/v1/reports/forum", params)
        assert response.status_code == 422, params
        assert response.json()["detail"], params


def test_only_agents_see_it(stranger, customer_user):
    assert client_for(None).get("/reports/forum").status_code == 302  # to sign in
    assert client_for(stranger).get("/reports/forum").status_code == 403
    assert client_for(customer_user).get("/reports/forum").status_code == 403
    assert client_for(customer_user).get("/reports/forum", {"format": "csv"}).status_code == 403
    assert Client().get("/api/v1/reports/forum").status_code == 401
    assert api_client(customer_user).get("/api/v1/reports/forum").status_code == 403


def test_a_suggested_topic_that_solved_it_is_named_in_the_deflection(carla, printers, agent):  # noqa: F811
    trust(carla)
    topic = services.start_topic(carla, printers, services.TopicText("question", "Scanner is slow", "Why?"))
    client = Client()
    assert client.post(f"/help/forum/topics/{topic.pk}/deflect", {"source": "portal"}).status_code == 200
    assert Deflection.objects.get().topic == topic
    result = REPORTS["forum"][1](ReportQuery(Period.ending_today()), agent)
    assert figures(result)["deflections"] == (1, 0)


def test_the_self_service_report_counts_the_forum_deflections(forum, agent):
    page = client_for(agent).get("/reports/self-service", PERIOD)
    result = page.context["result"]
    values = figures(result)
    assert values["forum_deflected"] == (3, 0)
    assert values["deflected"] == (5, 0)  # the forum's 3, the article's, the row that names nothing
    assert [(row["title"], row["deflections"]) for row in result.extra["topics"].rows] == [
        ("T2 paper jam", 2),
        ("T3 tray stuck", 1),
    ]
    # The forum's deflections are not an article's: only the invoice article and the nameless row.
    assert sorted(row["deflections"] for row in result.extra["articles"].rows) == [1, 1]
    body = api_client(agent).get("/api/v1/reports/self-service", PERIOD).json()
    assert body["forum_deflected"] == 3
    assert [(row["title"], row["deflections"]) for row in body["topics"]] == [("T2 paper jam", 2), ("T3 tray stuck", 1)]
    assert body["topics"][0]["path"] == forum["t2"].public_path()
