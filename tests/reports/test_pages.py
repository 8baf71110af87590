"""The report page frame: any report in REPORTS as a page (figures, chart, table) and a CSV.

A fake report shows the frame reads nothing but the ReportResult and passes the URL's query to the
report; the real reports (self-service, satisfaction, and every metric report registered) render
on the frame and their page and CSV equal the result the function returns.
"""

from __future__ import annotations

import csv
import io
import json
from datetime import date, timedelta
from html.parser import HTMLParser
from typing import Any

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from sportello.accounts.models import Group
from sportello.core.errors import InvalidInput
from sportello.customers.models import Organization
from sportello.kb.models import DeflectionSource
from sportello.reports import views
from sportello.reports.frame import REPORTS, Figure, Filters, Granularity, ReportQuery, ReportResult, Series, Table
from sportello.reports.services import Period
from sportello.tickets.models import Category
from tests.conftest import api_client, client_for
from tests.reports.test_reports import deflect

pytestmark = pytest.mark.django_db


class Cells(HTMLParser):
    """The data-value of every cell of each table (by id), and the figures' data attributes."""

    def __init__(self) -> None:
        super().__init__()
        self.tables: dict[str, list[list[str]]] = {}
        self.headers: dict[str, list[str]] = {}
        self.figures: dict[str, dict[str, str]] = {}
        self._table: str | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        found = {key: value or "" for key, value in attrs}
        if tag == "table":
            self._table = found.get("id")
            self.tables[self._table or ""] = []
            self.headers[self._table or ""] = []
        elif tag == "tr" and self._table is not None:
            self.tables[self._table].append([])
        elif tag in ("td", "th") and self._table is not None and "data-value" in found:
            self.tables[self._table][-1].append(found["data-value"])
        elif tag == "th" and self._table is not None and "data-key" in found:
            self.headers[self._table].append(found["data-key"])
        elif "data-figure" in found:
            self.figures[found["data-figure"]] = found

    def handle_endtag(self, tag: str) -> None:
        if tag == "table":
            self._table = None


def cells(html: str) -> Cells:
    parser = Cells()
    parser.feed(html)
    for rows in parser.tables.values():
        rows[:] = [row for row in rows if row]  # the header row has no data-value
    return parser


def as_text(value: Any) -> str:
    return "" if value is None else value.isoformat() if isinstance(value, date) else str(value)


def table_text(table: Table) -> list[list[str]]:
    return [[as_text(row.get(key)) for key, _label in table.columns] for row in table.rows]


def csv_rows(response) -> list[list[str]]:  # type: ignore[no-untyped-def]
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/csv") and "attachment" in response["Content-Disposition"]
    return list(csv.reader(io.StringIO(response.content.decode())))


def chart_data(html: str) -> dict[str, Any]:
    start = html.index('<script id="chart-data" type="application/json">') + len(
        '<script id="chart-data" type="application/json">'
    )
    return json.loads(html[start : html.index("</script>", start)])


# --- A fake report ------------------------------------------------------------------------------------


class Fake:
    """Parcels weighed per day, with a link to each day's list.

    (A report that remembers the queries it was given and returns a fixed result; the first
    paragraph above is what the reports index says of it.)
    """

    def __init__(self) -> None:
        self.queries: list[ReportQuery] = []

    def __call__(self, query: ReportQuery, reader: Any) -> ReportResult:
        self.queries.append(query)
        axis = [query.period.first.isoformat(), (query.period.first + timedelta(days=1)).isoformat()]
        return ReportResult(
            slug="fake",
            title="Parcels",
            figures=[
                Figure("parcels", "Parcels", 120, 100),
                Figure("late", "Late", 3, 6),
                Figure("on_time", "On time", 97.5, 95.0, unit="percent"),
                Figure("wait", "Wait", 5400, None, unit="seconds"),
                Figure("new", "New kinds", 4, 0),
            ],
            axis=axis,
            series=[Series("light", "Light", [70, 50]), Series("heavy", "Heavy", [None, 0])],
            chart="stacked-bar",
            table=Table(
                [("day", "Day"), ("light", "Light"), ("heavy", "Heavy"), ("url", "List")],
                [
                    {"day": axis[0], "light": 70, "heavy": None, "url": "/tickets/1/"},
                    {"day": axis[1], "light": 50, "heavy": 0, "url": "/tickets/2/"},
                ],
            ),
            extra={
                "couriers": Table([("name", "Courier"), ("parcels", "Parcels")], [{"name": "Piero", "parcels": 9}]),
                "ignored_filters": Table([("filter", "Filter")], [{"filter": "tag"}]),
            },
        )


@pytest.fixture
def fake(monkeypatch) -> Fake:  # type: ignore[no-untyped-def]
    report = Fake()
    monkeypatch.setitem(REPORTS, "fake", ("Parcels", report))
    return report


def test_the_page_shows_the_result_figures_chart_and_table(agent, fake):
    page = client_for(agent).get("/reports/fake")
    assert page.status_code == 200
    html = page.content.decode()
    result = fake(fake.queries[-1], agent)
    found = cells(html)
    assert found.tables["report-table"] == table_text(result.table)
    assert found.headers["report-table"] == ["day", "light", "heavy", "url"]
    assert found.tables["extra-couriers"] == [["Piero", "9"]]
    assert 'href="/tickets/1/"' in html
    assert "These filters do not apply to this report and were left out: Tag</p>" in html
    # Figures: the value, the previous one, the change as an arrow, a signed number and a word.
    assert {key: (f["data-value"], f["data-previous"]) for key, f in found.figures.items()} == {
        "parcels": ("120", "100"),
        "late": ("3", "6"),
        "on_time": ("97.5", "95.0"),
        "wait": ("5400", ""),
        "new": ("4", "0"),
    }
    assert "+20.0 %" in html and "\u221250.0 %" in html and "+2.5 pts" in html and "1 h 30 min" in html
    assert html.count('class="change-up"') == 3 and html.count('class="change-down"') == 1
    assert '<span class="visually-hidden">up</span>' in html
    # The chart: its data for uPlot, labelled, described by the table that has its numbers.
    data = chart_data(html)
    assert data["kind"] == "stacked-bar" and data["axis"] == result.axis and data["dates"] is True
    assert [(s["key"], s["values"]) for s in data["series"]] == [("light", [70, 50]), ("heavy", [None, 0])]
    assert 'role="img"' in html and 'aria-describedby="report-table"' in html
    assert "stacked bar chart of Light, Heavy" in html
    assert 'id="chart-numbers"' not in html  # the table below already has one row per point


def test_a_chart_whose_points_are_not_the_tables_rows_gets_a_table_of_its_own(agent, monkeypatch):
    def points(query: ReportQuery, reader: Any) -> ReportResult:
        return ReportResult(
            "points", "Points", axis=["Rome", "Milan"], series=[Series("wait", "Wait", [3, 4])], chart="bar",
            figures=[Figure("wait", "Wait", 7, unit="seconds")],
            table=Table([("kind", "Kind"), ("wait", "Wait")], [{"kind": "all", "wait": 7}]),
        )  # fmt: skip

    monkeypatch.setitem(REPORTS, "points", ("Points", points))
    html = client_for(agent).get("/reports/points").content.decode()
    assert cells(html).tables["chart-numbers"] == [["Rome", "3"], ["Milan", "4"]]
    assert 'aria-describedby="chart-numbers"' in html and chart_data(html)["dates"] is False
    assert chart_data(html)["unit"] == "seconds"  # the series is a figure in seconds: the axis shows durations


def test_the_csv_is_the_tables_columns_and_rows(agent, fake):
    rows = csv_rows(
        client_for(agent).get("/reports/fake", {"since": "2026-03-01", "until": "2026-03-31", "format": "csv"})
    )
    result = fake(fake.queries[-1], agent)
    assert rows == [["day", "light", "heavy", "url"], *table_text(result.table)]
    assert rows[1] == ["2026-03-01", "70", "", "/tickets/1/"]


def test_csv_cells_a_spreadsheet_would_run_as_formulas_are_quoted(agent, monkeypatch):
    def names(query: ReportQuery, reader: Any) -> ReportResult:
        rows = [
            {"name": '=HYPERLINK("http://evil.example")', "n": -3},
            {"name": "@sum", "n": 2},
            {"name": "Ada", "n": 1},
        ]
        return ReportResult("names", "Names", table=Table([("name", "Name"), ("n", "Tickets")], rows))

    monkeypatch.setitem(REPORTS, "names", ("Names", names))
    rows = csv_rows(client_for(agent).get("/reports/names", {"format": "csv"}))
    assert rows[1:] == [['\'=HYPERLINK("http://evil.example")', "-3"], ["'@sum", "2"], ["Ada", "1"]]


def test_the_filters_in_the_url_reach_the_query(agent, fake, first_level):
    organization = Organization.objects.create(name="Acme")
    category = Category.objects.create(name="Billing")
    client = client_for(agent)
    page = client.get(
        "/reports/fake",
        {"since": "2026-01-05", "until": "2026-02-03", "granularity": "week", "group": first_level.pk,
         "agent": agent.pk, "channel": "email", "priority": "3", "tag": "vip", "category": category.pk,
         "organization": organization.pk},
    )  # fmt: skip
    assert page.status_code == 200
    assert fake.queries[-1] == ReportQuery(
        Period(date(2026, 1, 5), date(2026, 2, 3)),
        Filters(group=first_level.pk, agent=agent.pk, channel="email", priority=3, tag="vip",
                category=category.pk, organization=organization.pk),
        Granularity.WEEK,
    )  # fmt: skip
    html = page.content.decode()
    # The form shows them chosen, and the CSV link carries them.
    assert f'<option value="{organization.pk}" selected>Acme</option>' in html
    assert 'value="vip"' in html and '<option value="week" selected>' in html
    csv_link = html.split('id="csv" href="')[1].split('"')[0].replace("&amp;", "&")
    assert "format=csv" in csv_link and "tag=vip" in csv_link and "granularity=week" in csv_link
    client.get("/reports/fake" + csv_link)
    assert fake.queries[-1].filters.tag == "vip" and fake.queries[-1].granularity == Granularity.WEEK


@pytest.mark.parametrize(
    ("preset", "first", "last"),
    [("7d", -6, 0), ("30d", -29, 0), ("90d", -89, 0)],
)
def test_quick_picks_are_periods_ending_today(agent, fake, preset, first, last):
    page = client_for(agent).get("/reports/fake", {"range": preset, "channel": "chat"})
    today = timezone.localdate()
    assert fake.queries[-1].period == Period(today + timedelta(days=first), today + timedelta(days=last))
    assert fake.queries[-1].filters.channel == "chat"
    assert f'href="?range={preset}&amp;channel=chat" data-range="{preset}" aria-current="true"' in page.content.decode()


def test_this_month_and_last_month():
    assert views.period_of("this-month", date(2026, 3, 14)) == Period(date(2026, 3, 1), date(2026, 3, 14))
    assert views.period_of("last-month", date(2026, 3, 14)) == Period(date(2026, 2, 1), date(2026, 2, 28))
    assert views.period_of("last-month", date(2026, 1, 1)) == Period(date(2025, 12, 1), date(2025, 12, 31))


@pytest.mark.parametrize(
    "query",
    [{"group": "sales"}, {"agent": "-1"}, {"organization": "1e3"}, {"category": "\uff11"}, {"priority": "9"},
     {"priority": "99999999999999999999"}, {"channel": "fax"}, {"granularity": "year"}, {"range": "forever"},
     {"since": "yesterday"}, {"since": "2026-05-02", "until": "2026-05-01"}, {"tag": "x" * 51}],
)  # fmt: skip
def test_bad_filter_values_give_a_message_not_an_error(agent, fake, query):
    page = client_for(agent).get("/reports/fake", query)
    assert page.status_code == 400
    html = page.content.decode()
    assert 'id="period-error"' in html and 'role="alert"' in html
    assert 'id="filters"' in html  # the form is there to correct it
    assert fake.queries == []


def test_a_value_the_report_itself_refuses_gives_its_message(agent, monkeypatch):
    def picky(query: ReportQuery, reader: Any) -> ReportResult:
        raise InvalidInput("This report cannot be narrowed by tag")

    monkeypatch.setitem(REPORTS, "picky", ("Picky", picky))
    page = client_for(agent).get("/reports/picky", {"tag": "vip", "format": "csv"})
    assert page.status_code == 400 and "This report cannot be narrowed by tag" in page.content.decode()
    assert 'value="vip"' in page.content.decode()  # the form keeps what was asked, to change it


def test_an_unknown_report_is_not_found(agent):
    assert client_for(agent).get("/reports/no-such-report").status_code == 404


@pytest.mark.parametrize("path", ["/reports/fake", "/reports/fake?format=csv", "/reports/"])
def test_only_agents_see_reports(path, fake, stranger, customer_user, light_agent):
    assert client_for(None).get(path).status_code == 302
    assert client_for(stranger).get(path).status_code == 403
    assert client_for(customer_user).get(path).status_code == 403
    assert client_for(light_agent).get(path).status_code == 200


def test_refused_readers_never_run_the_report(fake, stranger, customer_user):
    for user in (None, stranger, customer_user):
        client_for(user).get("/reports/fake")
    assert fake.queries == []


def test_the_index_lists_every_registered_report(agent, fake):
    html = client_for(agent).get("/reports/").content.decode()
    for slug, (title, _function) in REPORTS.items():
        assert f'href="/reports/{slug}"' in html and title in html
    assert "Parcels weighed per day" in html  # the report's docstring says what it is


def test_the_form_costs_the_same_queries_however_many_choices(agent, fake):
    def queries() -> int:
        with CaptureQueriesContext(connection) as captured:
            assert client_for(agent).get("/reports/fake").status_code == 200
        return len(captured)

    queries()  # the first request of a process fills per-process caches (sign-in, lookups)
    few = queries()
    Group.objects.bulk_create(Group(name=f"Team {n}") for n in range(20))
    Organization.objects.bulk_create(Organization(name=f"Org {n}") for n in range(20))
    Category.objects.bulk_create(Category(name=f"Kind {n}") for n in range(20))
    assert queries() == few


@pytest.mark.parametrize(
    ("value", "previous", "unit", "direction", "text"),
    [(120, 100, "count", "up", "+20.0 %"), (50, 100, "count", "down", "\u221250.0 %"),
     (7, 7, "count", "same", "±0.0 %"), (5, 0, "count", "up", "+5"), (40.0, 42.5, "percent", "down", "\u22122.5 pts"),
     (3600, 0, "seconds", "up", "+1 h 00 min")],
)  # fmt: skip
def test_the_change_against_the_previous_period(value, previous, unit, direction, text):
    found = views.change(value, previous, unit)
    assert found is not None and (found.direction, found.text) == (direction, text)
    assert views.change(None, 3, "count") is None and views.change(3, None, "count") is None


def test_durations_read_as_people_say_them():
    assert [views.duration(s) for s in (45, 720, 3 * 3600 + 300, 50 * 3600)] == [
        "45 s",
        "12 min",
        "3 h 05 min",
        "2 d 2 h",
    ]


# --- The real reports ------------------------------------------------------------------------------------


def test_self_service_page_and_csv_equal_its_result(agent, invoice_article):
    deflect(invoice_article.article, 2, DeflectionSource.PORTAL)
    deflect(invoice_article.article, 1, DeflectionSource.CHAT, days_ago=8)
    today = timezone.localdate()
    params = {"since": str(today - timedelta(days=13)), "until": str(today), "granularity": "week"}
    client = client_for(agent)
    html = client.get("/reports/self-service", params).content.decode()
    with timezone.override(agent.time_zone):
        result = REPORTS["self-service"][1](views.parse_query(_query_dict(params)), agent)
    assert cells(html).tables["report-table"] == table_text(result.table)
    assert sum(row["deflected_total"] for row in result.table.rows) == 3
    assert csv_rows(client.get("/reports/self-service", {**params, "format": "csv"}))[1:] == table_text(result.table)
    assert chart_data(html)["axis"] == result.axis


def test_satisfaction_page_and_csv_equal_its_result_and_follow_the_agent_filter(agent, agent2, survey):
    from sportello.csat.models import Rating, Source
    from sportello.csat.services import rate_ticket

    rate_ticket(survey, rating=Rating.GOOD, comment="", actor=None, source=Source.EMAIL)
    client = client_for(agent)
    html = client.get("/reports/satisfaction").content.decode()
    with timezone.override(agent.time_zone):
        result = REPORTS["satisfaction"][1](ReportQuery(Period.ending_today()), agent)
    assert cells(html).tables["report-table"] == table_text(result.table)
    assert csv_rows(client.get("/reports/satisfaction?format=csv"))[1:] == table_text(result.table)
    assert cells(html).figures["good"]["data-value"] == "1"
    # The chart's own table: answers per day (the table below is per agent and group).
    assert cells(html).tables["chart-numbers"][-1][1:] == ["1", "0"]
    other = cells(client.get("/reports/satisfaction", {"agent": agent2.pk}).content.decode())
    assert other.figures["offered"]["data-value"] == "0"


def _query_dict(params: dict[str, str]) -> Any:
    from django.http import QueryDict

    found = QueryDict(mutable=True)
    found.update(params)
    return found


def test_every_registered_report_renders_on_demo_data(agent, django_capture_on_commit_callbacks):
    """Each report in REPORTS (the metric reports as they land too): page, filtered page and CSV;
    where the report has an operation in the API, its table and figures are the CSV's and the page's."""
    from django.core.management import call_command

    with django_capture_on_commit_callbacks(execute=True):
        call_command("demo", stdout=io.StringIO())
    client, api = client_for(agent), api_client(agent)
    group = Group.objects.order_by("pk").first()
    assert group is not None and len(REPORTS) >= 2
    today = timezone.localdate()
    params = {"since": str(today - timedelta(days=89)), "until": str(today), "granularity": "week"}
    compared_with_api = []
    for slug, (_title, build) in REPORTS.items():
        page = client.get(f"/reports/{slug}", params)
        assert page.status_code == 200, slug
        html = page.content.decode()
        with timezone.override(agent.time_zone):
            result = build(views.parse_query(_query_dict(params)), agent)
        found = cells(html)
        assert found.tables.get("report-table", []) == table_text(result.table), slug
        assert {key: f["data-value"] for key, f in found.figures.items()} == {
            f.key: as_text(f.value) for f in result.figures
        }, slug
        if result.series:
            assert chart_data(html)["axis"] == [str(point) for point in result.axis], slug
        rows = csv_rows(client.get(f"/reports/{slug}", {**params, "format": "csv"}))
        assert rows == [[key for key, _label in result.table.columns], *table_text(result.table)], slug
        body = api.get(f"/api/v1/reports/{slug}", params).json()
        if "table" in body:  # the metric reports' one shape (self-service and satisfaction keep theirs)
            columns = [column["key"] for column in body["table"]["columns"]]
            assert [columns, *([as_text(row.get(key)) for key in columns] for row in body["table"]["rows"])] == rows
            assert {f["key"]: as_text(f["value"]) for f in body["figures"]} == {
                key: f["data-value"] for key, f in found.figures.items()
            }, slug
            compared_with_api.append(slug)
        filtered = client.get(f"/reports/{slug}", {"range": "30d", "group": group.pk, "channel": "email", "tag": "x"})
        assert filtered.status_code == 200, slug
    assert set(compared_with_api) == set(REPORTS) - {"self-service", "satisfaction"}
