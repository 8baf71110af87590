from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.importers.common import serve
from tests.importers.freshdesk_server import FreshdeskServer
from tests.importers.helpscout_server import HelpScoutServer
from tests.importers.zammad_server import ZammadServer
from tests.importers.zendesk_server import ZendeskServer


@pytest.fixture
def zendesk() -> Iterator[ZendeskServer]:
    yield from serve(ZendeskServer())


@pytest.fixture
def freshdesk() -> Iterator[FreshdeskServer]:
    yield from serve(FreshdeskServer())


@pytest.fixture
def zammad() -> Iterator[ZammadServer]:
    yield from serve(ZammadServer())


@pytest.fixture
def helpscout() -> Iterator[HelpScoutServer]:
    yield from serve(HelpScoutServer())
