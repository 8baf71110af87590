"""/chat/try: a page with only a channel's widget, for agents (and anyone with DEBUG) to try it."""

from __future__ import annotations

import pytest
from django.test import Client

from tests.conftest import client_for

pytestmark = pytest.mark.django_db


def test_agents_try_a_channels_widget_strangers_find_nothing(chat_channel, agent, stranger, settings):
    settings.DEBUG = False
    html = client_for(agent).get("/chat/try").content.decode()
    assert '<script src="/chat/widget.js" data-channel="website" async></script>' in html
    assert client_for(agent).get("/chat/try/website").status_code == 200
    assert client_for(agent).get("/chat/try/nope").status_code == 404
    assert Client().get("/chat/try").status_code == 404
    assert client_for(stranger).get("/chat/try").status_code == 404
    chat_channel.enabled = False
    chat_channel.save()
    assert client_for(agent).get("/chat/try").status_code == 404


def test_with_debug_anyone_may_try_it(chat_channel, settings):
    settings.DEBUG = True
    assert Client().get("/chat/try").status_code == 200
