"""`sportello serve` (uvicorn, as in production) answers HTTP through Django's WSGI handler in a pool
of threads (asgi.py): a request's whole work in one thread, its pushes handed to the server's loop."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.processes import BOUND, agent_socket, copy_database, serve_log, serving, shell, signed_in, sportello_env

TOKEN = """
from sportello.accounts.models import User
from sportello.accounts.services import create_token
print(create_token(User.objects.get(username="anna"), "api")[1])
"""


@pytest.mark.own_sqlite
def test_an_api_create_reaches_the_inbox_socket_of_the_same_server(tmp_path: Path, migrated_sqlite: Path):
    # The in-memory channel layer: the inbox's socket waits on the server's event loop, and the
    # create's push starts in the thread that ran the request.
    env = sportello_env(tmp_path)
    copy_database(migrated_sqlite, tmp_path)
    session = signed_in(env, role="ADMIN")
    token = shell(env, TOKEN)
    with serving(env, tmp_path) as port, agent_socket(port, "/ws/agent/inbox/", session) as socket:
        answer = httpx.post(
            f"http://127.0.0.1:{port}/api/v1/tickets",
            json={
                "subject": "Screen cracked",
                "body_text": "It came broken.",
                "customer": {"name": "Carla Rossi", "email": "carla@example.com"},
            },
            headers={"Authorization": f"Bearer {token}"},
            timeout=BOUND,
        )
        assert answer.status_code == 201, answer.text + serve_log(tmp_path)
        number = answer.json()["number"]
        heard = json.loads(socket.recv(timeout=BOUND))
        assert heard == {"type": "changed", "ticket": number}, serve_log(tmp_path)


@pytest.mark.own_sqlite
def test_a_form_post_is_read_and_checked_for_its_csrf_token(tmp_path: Path, migrated_sqlite: Path):
    env = sportello_env(tmp_path)
    copy_database(migrated_sqlite, tmp_path)
    with serving(env, tmp_path) as port:
        base = f"http://127.0.0.1:{port}"
        with httpx.Client(base_url=base, timeout=BOUND) as browser:
            page = browser.get("/accounts/login/")
            assert page.status_code == 200 and "csrftoken" in browser.cookies
            # A form post with its CSRF token: the body is read from the socket by the request's thread.
            refused = browser.post(
                "/accounts/login/",
                data={
                    "username": "nobody",
                    "password": "x" * 5000,
                    "csrfmiddlewaretoken": browser.cookies["csrftoken"],
                },
                headers={"Referer": f"{base}/accounts/login/"},
            )
            assert refused.status_code == 200 and "did not match" in refused.text, serve_log(tmp_path)
            # Without its token the same post is refused (403), as under any server.
            assert browser.post("/accounts/login/", data={"username": "nobody"}).status_code == 403


@pytest.mark.own_sqlite
def test_a_chunked_body_without_a_length_is_read_whole(tmp_path: Path, migrated_sqlite: Path):
    env = sportello_env(tmp_path)
    copy_database(migrated_sqlite, tmp_path)
    signed_in(env, role="ADMIN")
    token = shell(env, TOKEN)
    body = json.dumps(
        {
            "subject": "Sent in pieces",
            "body_text": "x" * 70_000,
            "customer": {"name": "Ada", "email": "ada@example.com"},
        }
    ).encode()

    def pieces() -> Iterator[bytes]:  # a generator: httpx sends it chunked, with no Content-Length
        for start in range(0, len(body), 8192):
            yield body[start : start + 8192]

    with serving(env, tmp_path) as port:
        answer = httpx.post(
            f"http://127.0.0.1:{port}/api/v1/tickets",
            content=pieces(),
            headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"},
            timeout=BOUND,
        )
        assert answer.status_code == 201, answer.text + serve_log(tmp_path)
        assert answer.json()["subject"] == "Sent in pieces"
