"""Generated requests to the forum's API operations never end in a server error."""

from __future__ import annotations

import pytest

from tests.api.conftest import API
from tests.api.test_fuzz import fuzz, wsgi_app  # noqa: F401  (the fixture)

pytestmark = pytest.mark.django_db


def test_generated_forum_requests_never_cause_a_server_error(wsgi_app, agent, held):  # noqa: F811
    real = {"topic_id": held.pk, "post_id": held.posts.get().pk}
    statuses = fuzz(wsgi_app, agent, rf"^{API}/forum", real, examples=80)
    assert {200, 201} & statuses and 422 in statuses
