"""Under /api/v1/ a path with no operation answers JSON 404, whatever the method and the caller;
pages elsewhere keep their HTML answers."""

from __future__ import annotations

import pytest

from tests.api.conftest import API
from tests.conftest import client_for

pytestmark = pytest.mark.django_db

UNKNOWN = ["/nope", "/kb/nope", "/tickets/1/nope/2", "/chat/conversations/1/nope", "/", "/openapi.yaml"]


@pytest.mark.parametrize("path", UNKNOWN)
@pytest.mark.parametrize("method", ["get", "post", "put", "patch", "delete"])
def test_an_unknown_api_path_is_json_404(client, method, path):
    response = getattr(client, method)(API + path)
    assert response.status_code == 404
    assert response["Content-Type"].startswith("application/json")
    assert response.json() == {"detail": f"No API operation at {API}{path}"}


def test_an_agent_gets_the_same_json_404(as_agent):
    response = as_agent.post("/kb/nope", {"title": "x"})
    assert response.status_code == 404 and response.json()["detail"].startswith("No API operation")


def test_a_known_path_with_another_method_is_json_405(as_agent):
    response = as_agent.delete("/kb/categories")
    assert response.status_code == 405 and "detail" in response.json()


def test_pages_outside_the_api_stay_html(agent):
    signed_in = client_for(agent)
    for path in ("/accounts/login/", "/help/en/"):
        page = signed_in.get(path) if path != "/accounts/login/" else client_for(None).get(path)
        assert page.status_code == 200, path
        assert page["Content-Type"].startswith("text/html"), path
    missing = signed_in.get("/no-such-page/")
    assert missing.status_code == 404 and missing["Content-Type"].startswith("text/html")
