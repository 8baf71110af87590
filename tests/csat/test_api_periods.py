"""Survey filters take points in time as clients send them, refusing what no database can compare."""

from __future__ import annotations

import zoneinfo
from datetime import timedelta

import pytest

from tests.conftest import api_client

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize(
    "until", ["1075-10-02T03:18:36+19:21", "2026-01-01T00:00:00-15:00", "0001-01-01T00:00:00+01:00"]
)
def test_an_impossible_offset_or_time_is_refused_with_422(agent, until):
    response = api_client(agent).get("/api/v1/csat/groups", {"until": until})
    assert response.status_code == 422 and "until" in response.json()["detail"]


def test_real_offsets_are_compared_in_utc(agent, survey):
    # The same instant written at +14:00: `until` is exclusive, so the survey offered then is not before it.
    same_instant = survey.offered_at.astimezone(zoneinfo.ZoneInfo("Pacific/Kiritimati")).isoformat()
    assert api_client(agent).get("/api/v1/csat/groups", {"until": same_instant}).json() == []
    a_second_later = (survey.offered_at + timedelta(seconds=1)).astimezone(zoneinfo.ZoneInfo("America/Adak"))
    rows = api_client(agent).get("/api/v1/csat/groups", {"until": a_second_later.isoformat()}).json()
    assert rows[0]["offered"] == 1
