"""Agents send files from the console; the visitor sees them live and downloads only their own."""

from __future__ import annotations

import pytest
from asgiref.sync import async_to_sync
from channels.db import database_sync_to_async
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client

from sportello.chat import services
from sportello.chat.models import Conversation
from sportello.tickets.attachments import AttachmentIn
from sportello.tickets.models import DeliveryState, Direction, Entry
from sportello.tickets.services import add_note
from tests.chat.conftest import receive_until, visitor_socket
from tests.conftest import client_for

pytestmark = pytest.mark.django_db(transaction=True)


def a_file(content: bytes = b"%PDF-1.4 invoice", name: str = "invoice.pdf") -> SimpleUploadedFile:
    return SimpleUploadedFile(name, content, "application/pdf")


async def _visitor_in_a_chat(agent) -> tuple:  # type: ignore[no-untyped-def]
    """A visitor who wrote, and whose chat `agent` accepted; returns their socket and token."""
    visitor = visitor_socket()
    assert (await visitor.connect())[0]
    await visitor.send_json_to({"type": "hello"})
    token = (await receive_until(visitor, "welcome"))["token"]
    await visitor.send_json_to({"type": "message", "text": "Where is my invoice?"})
    await receive_until(visitor, "joined")
    chat = await database_sync_to_async(Conversation.objects.select_related("ticket", "channel").get)()
    await database_sync_to_async(services.accept_chat)(chat, agent)
    await receive_until(visitor, "state")
    return visitor, token, chat


def test_an_agent_sends_a_file_the_visitor_sees_live_and_downloads(chat_channel, agent):
    def send(chat_id: int):  # type: ignore[no-untyped-def]
        return client_for(agent).post(
            f"/chat/console/{chat_id}/file", {"file": a_file()}, headers={"accept": "application/json"}
        )

    async def scenario() -> tuple[str, dict]:
        visitor, token, chat = await _visitor_in_a_chat(agent)
        answer = await database_sync_to_async(send)(chat.pk)
        assert answer.status_code == 200, answer.content
        line = await receive_until(visitor, "message")
        await visitor.disconnect()
        return token, line

    token, line = async_to_sync(scenario)()
    entry = Entry.objects.get(direction=Direction.OUTBOUND)
    assert line["from"] == "agent" and line["text"] == "📎 invoice.pdf" and line["id"] == entry.pk
    attachment = entry.attachments.get()
    assert line["files"] == [{"id": attachment.pk, "name": "invoice.pdf", "size": 16}]
    # A reply in the chat's ticket, read live: nothing is mailed.
    assert entry.author_user == agent and not entry.internal and entry.delivery == DeliveryState.NONE

    web = Client()  # the visitor's website: no session, the token is the credential
    download = web.post(f"/chat/files/website/{attachment.pk}", {"token": token})
    assert download.status_code == 200
    assert b"".join(download.streaming_content) == b"%PDF-1.4 invoice"
    assert download["Content-Disposition"].startswith("attachment")
    assert download["Access-Control-Allow-Origin"] == "*"
    assert download["Content-Security-Policy"] == "sandbox; default-src 'none'"
    assert web.get(f"/chat/files/website/{attachment.pk}").status_code == 405


def test_a_visitor_downloads_only_public_files_of_their_own_conversations(chat_channel, agent):
    async def scenario() -> tuple[str, str, Conversation]:
        visitor, token, chat = await _visitor_in_a_chat(agent)
        await visitor.disconnect()
        other = visitor_socket()
        assert (await other.connect())[0]
        await other.send_json_to({"type": "hello"})
        other_token = (await receive_until(other, "welcome"))["token"]
        await other.disconnect()
        return token, other_token, chat

    token, other_token, chat = async_to_sync(scenario)()
    sent = services.send_agent_file(chat, agent, AttachmentIn("plan.txt", b"the plan"))
    note = add_note(chat.ticket, agent, body_text="internal", attachments=[AttachmentIn("secret.txt", b"secret")])
    shared, secret = sent.attachments.get().pk, note.attachments.get().pk
    web = Client()

    def fetch(number: object, credential: str, key: str = "website") -> int:
        return web.post(f"/chat/files/{key}/{number}", {"token": credential}).status_code

    assert fetch(shared, token) == 200
    assert fetch(shared, other_token) == 404  # another visitor of the same channel
    assert fetch(shared, "forged") == 404
    assert fetch(shared, "") == 404
    assert fetch(secret, token) == 404  # an internal note's file, even on their own ticket
    assert fetch(999_999, token) == 404
    assert fetch(shared, token, key="nope") == 404
    assert web.post(f"/chat/files/website/{shared}").status_code == 404  # no token at all


def test_only_the_agent_holding_the_chat_sends_files_and_the_size_is_limited(
    chat_channel, agent, admin, restricted_agent, stranger, customer_user, settings
):
    settings.CHAT_MAX_FILE_BYTES = 1024

    async def scenario() -> Conversation:
        visitor, _token, chat = await _visitor_in_a_chat(agent)
        await visitor.disconnect()
        return chat

    chat = async_to_sync(scenario)()
    url = f"/chat/console/{chat.pk}/file"
    json = {"accept": "application/json"}

    assert Client().post(url, {"file": a_file()}).status_code == 302  # to sign in
    assert client_for(stranger).post(url, {"file": a_file()}).status_code == 403
    assert client_for(customer_user).post(url, {"file": a_file()}).status_code == 403
    assert client_for(restricted_agent).post(url, {"file": a_file()}).status_code == 404  # not a ticket they see
    refused = client_for(admin).post(url, {"file": a_file()}, headers=json)  # sees it, but does not hold it
    assert refused.status_code == 403 and "Accept this chat" in refused.json()["error"]
    assert client_for(agent).post(url, {}, headers=json).status_code == 422
    too_large = client_for(agent).post(url, {"file": a_file(b"x" * 1025, "big.bin")}, headers=json)
    assert too_large.status_code == 413
    assert too_large.json()["error"] == "big.bin is too large: a file in a chat can have at most 1 KB"
    assert client_for(agent).get(url).status_code == 405
    assert not Entry.objects.filter(attachments__isnull=False).exists()
    assert client_for(agent).post(url, {"file": a_file(b"x" * 1024, "fits.bin")}, headers=json).status_code == 200
