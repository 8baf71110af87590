"""Reports: self-service deflections and satisfaction, as pages, CSV and API, only for agents."""

from __future__ import annotations

import csv
import io
from datetime import timedelta

import pytest
from django.utils import timezone

from sportello.csat.models import Rating, Source
from sportello.csat.services import rate_ticket
from sportello.customers.services import Sender
from sportello.kb.models import Deflection, DeflectionSource
from sportello.kb.services import record_deflection, record_feedback
from sportello.tickets.intake import Inbound, ingest
from tests.conftest import api_client, client_for

pytestmark = pytest.mark.django_db


def deflect(article, n: int, source: str = DeflectionSource.WEBFORM, days_ago: int = 0) -> None:
    for i in range(n):
        found = record_deflection(article, session_key=f"{source}-{days_ago}-{i}", source=source)
        if days_ago:
            Deflection.objects.filter(pk=found.pk).update(created_at=timezone.now() - timedelta(days=days_ago))


def figure(result, key: str):  # type: ignore[no-untyped-def]
    return next(found.value for found in result.figures if found.key == key)


def web_ticket(subject: str) -> None:
    ingest(Inbound(channel="web", sender=Sender(name="Piero", email="piero@example.com"), subject=subject,
                   body_text="help", acknowledge=False))  # fmt: skip


def test_self_service_counts_deflections_by_source_and_day_against_requests(agent, invoice_article):
    article = invoice_article.article
    deflect(article, 3)
    deflect(article, 1, DeflectionSource.CHAT)
    deflect(article, 2, days_ago=3)
    deflect(article, 5, days_ago=45)  # outside the default 30 days
    web_ticket("Still cannot download")
    record_feedback(article, session_key="reader-1", helpful=True)
    record_feedback(article, session_key="reader-2", helpful=False)

    page = client_for(agent).get("/reports/self-service")
    assert page.status_code == 200
    report = page.context["result"]
    by_channel = {row["channel"]: (row["deflected"], row["requests"]) for row in report.extra["by_channel"].rows}
    assert by_channel == {"Web form": (5, 1), "Portal": (0, 0), "Chat": (1, 0)}
    assert figure(report, "deflected") == 6 and figure(report, "requested") == 1
    assert figure(report, "deflection_rate") == round(100 * 6 / 7, 1)
    assert (figure(report, "helpful"), figure(report, "not_helpful")) == (1, 1)
    today, three_days_ago = report.table.rows[-1], report.table.rows[-4]
    assert today["deflected_total"] == 4 and three_days_ago["deflected_total"] == 2 and len(report.table.rows) == 30
    assert [series.values[-1] for series in report.series] == [3, 0, 1]  # the chart: web form, portal, chat
    html = page.content.decode()
    assert "Downloading your invoices" in html and 'id="chart"' in html and 'id="chart-data"' in html

    older = client_for(agent).get("/reports/self-service", {"since": (timezone.localdate() - timedelta(days=60))})
    assert figure(older.context["result"], "deflected") == 11


def test_self_service_csv_has_one_row_per_day(agent, invoice_article):
    deflect(invoice_article.article, 2, DeflectionSource.PORTAL)
    today = timezone.localdate()
    response = client_for(agent).get(
        "/reports/self-service", {"since": str(today - timedelta(days=6)), "until": str(today), "format": "csv"}
    )
    assert response["Content-Type"].startswith("text/csv")
    assert "attachment" in response["Content-Disposition"]
    rows = list(csv.reader(io.StringIO(response.content.decode())))
    assert rows[0] == ["day", "deflected_webform", "deflected_portal", "deflected_chat", "deflected_total"]
    assert len(rows) == 1 + 7
    assert rows[-1] == [today.isoformat(), "0", "2", "0", "2"]


def test_top_articles_are_named_and_linked(agent, invoice_article):
    deflect(invoice_article.article, 2)
    page = client_for(agent).get("/reports/self-service")
    articles = page.context["result"].extra["articles"].rows
    assert [(a["title"], a["deflections"], a["url"]) for a in articles] == [
        ("Downloading your invoices", 2, invoice_article.public_path())
    ]
    assert f'href="{invoice_article.public_path()}"' in page.content.decode()


@pytest.mark.parametrize(
    "query",
    [{"since": "yesterday"}, {"until": "2026-02-30"}, {"since": "2026-05-02", "until": "2026-05-01"},
     {"since": "2020-01-01", "until": "2026-01-01"}, {"since": "9999-12-30", "until": "9999-12-31"},
     {"since": "0001-01-01", "until": "0001-01-02"}],
)  # fmt: skip
def test_a_bad_period_is_refused_with_a_message(agent, query):
    page = client_for(agent).get("/reports/self-service", query)
    assert page.status_code == 400
    assert 'id="period-error"' in page.content.decode()
    api = api_client(agent).get("/api/v1/reports/self-service", query)
    assert api.status_code == 422 and api.json()["detail"]


def test_satisfaction_report_per_agent_and_group(agent, survey, solved):
    rate_ticket(survey, rating=Rating.BAD, comment="slow", actor=None, source=Source.EMAIL)
    page = client_for(agent).get("/reports/satisfaction")
    report = page.context["result"]
    assert (figure(report, "good"), figure(report, "bad"), figure(report, "offered")) == (0, 1, 1)
    assert figure(report, "score") == 0.0 and figure(report, "response_rate") == 100.0
    assert [(r["name"], r["bad"]) for r in report.table.rows if r["kind"] == "agent"] == [(agent.display_name, 1)]
    assert [s.values[-1] for s in report.series] == [0, 1]  # today: no good answer, one bad
    rows = list(csv.reader(io.StringIO(client_for(agent).get("/reports/satisfaction?format=csv").content.decode())))
    assert rows[1][:6] == ["all", "", "All", "1", "0", "1"]
    assert ["agent", str(agent.pk), agent.display_name, "1", "0", "1", "0.0", "100.0"] in rows


def test_the_api_gives_the_same_figures(agent, invoice_article, survey):
    deflect(invoice_article.article, 2, DeflectionSource.CHAT)
    web_ticket("Another one")
    body = api_client(agent).get("/api/v1/reports/self-service").json()
    assert body["deflected"] == {"webform": 0, "portal": 0, "chat": 2}
    assert body["requests"]["webform"] >= 1 and len(body["days"]) == 30
    assert body["days"][-1]["total"] == 2 and body["articles"][0]["deflections"] == 2
    assert body["period"]["until"] == timezone.localdate().isoformat()
    satisfaction = api_client(agent).get("/api/v1/reports/satisfaction").json()
    assert satisfaction["overall"]["offered"] == 1 and satisfaction["agents"][0]["id"] == agent.pk


def test_ticket_counts_follow_the_readers_visibility(agent, restricted_agent, invoice_article):
    web_ticket("Visible only to unrestricted agents")  # lands in no group
    assert figure(client_for(agent).get("/reports/self-service").context["result"], "requested") == 1
    assert figure(client_for(restricted_agent).get("/reports/self-service").context["result"], "requested") == 0


@pytest.mark.parametrize("path", ["/reports/", "/reports/self-service", "/reports/satisfaction"])
def test_strangers_and_customers_are_refused(path, stranger, customer_user):
    assert client_for(None).get(path).status_code == 302  # to sign in
    assert client_for(stranger).get(path).status_code == 403
    assert client_for(customer_user).get(path).status_code == 403
    api = path.replace("/reports/", "/api/v1/reports/")
    if api != "/api/v1/reports/":
        assert client_for(None).get(api).status_code == 401
        assert api_client(customer_user).get(api).status_code == 403


def test_the_reports_page_lists_the_reports(agent):
    html = client_for(agent).get("/reports/").content.decode()
    assert "/reports/self-service" in html and "/reports/satisfaction" in html
    assert 'href="/reports/"' in client_for(agent).get("/").content.decode()  # in the header
