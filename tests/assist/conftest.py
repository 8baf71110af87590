from __future__ import annotations

from collections.abc import Iterator

import pytest

from sportello.assist.models import AssistSettings
from tests.assist.openai_server import ModelServer, serve


@pytest.fixture
def model_server() -> Iterator[ModelServer]:
    yield from serve(ModelServer())


@pytest.fixture
def assist_on(db, model_server: ModelServer) -> AssistSettings:
    """Assistance turned on, pointed at the local model server (loopback allowed)."""
    return AssistSettings.objects.create(
        pk=1, enabled=True, base_url=model_server.url, model="llama3.1:8b", timeout_seconds=10, allow_local=True
    )
