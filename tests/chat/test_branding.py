"""The chat widget takes the help desk's name and colour from the welcome frame, once saved."""

from __future__ import annotations

import pytest
from asgiref.sync import async_to_sync

from sportello.chat.models import AskIdentity, ChatChannel
from sportello.core import branding
from tests.chat.conftest import receive_until, visitor_socket


@pytest.mark.django_db(transaction=True)
def test_the_chat_widget_gets_the_name_and_colour(first_level):
    ChatChannel.objects.create(name="Website", key="website", group=first_level, ask_identity=AskIdentity.OPTIONAL)

    def welcome() -> dict:
        async def hello() -> dict:
            socket = visitor_socket()
            connected, _ = await socket.connect()
            assert connected
            await socket.send_json_to({"type": "hello"})
            frame = await receive_until(socket, "welcome")
            await socket.disconnect()
            return frame

        return async_to_sync(hello)()

    assert welcome()["brand"] == {}  # nothing saved: the widget keeps its own words and colour
    branding.save_branding(product_name="Acme Help", primary_color="#0066cc", support_address="")
    assert welcome()["brand"] == {"name": "Acme Help", "color": "#0066cc"}
