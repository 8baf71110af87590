"""Helpers for the REST API tests: JSON calls with a persona's token."""

from __future__ import annotations

from typing import Any

import pytest
from django.test import Client

from tests.conftest import api_client

API = "/api/v1"


class Api:
    """A client for one persona; every call sends that persona's token and speaks JSON."""

    def __init__(self, client: Client) -> None:
        self.client = client

    def get(self, path: str, params: dict[str, Any] | None = None) -> Any:
        return self.client.get(API + path, params or {})

    def post(self, path: str, body: Any = None) -> Any:
        return self.client.post(API + path, body if body is not None else {}, content_type="application/json")

    def patch(self, path: str, body: Any) -> Any:
        return self.client.patch(API + path, body, content_type="application/json")

    def delete(self, path: str) -> Any:
        return self.client.delete(API + path)

    def raw(self, method: str, path: str, body: bytes, content_type: str = "application/json") -> Any:
        return self.client.generic(method, API + path, body, content_type=content_type)


def api_as(user: Any) -> Api:
    return Api(api_client(user))


@pytest.fixture
def as_agent(agent) -> Api:
    return api_as(agent)


@pytest.fixture
def as_admin(admin) -> Api:
    return api_as(admin)


@pytest.fixture
def as_light(light_agent) -> Api:
    return api_as(light_agent)
