"""`sportello run` starts its worker and scheduler once the server has answered its first page, and
always stops them."""

from __future__ import annotations

import asyncio
import sys
from typing import Any

from sportello.cli import FirstPage, Helpers

SLEEPER = [sys.executable, "-c", "import time; time.sleep(600)"]


def test_helpers_start_once_and_stop_with_the_run():
    helpers = Helpers([SLEEPER, [], SLEEPER])  # [] is the worker of the immediate backend: none
    helpers.start()
    helpers.start()  # a second call (the server started again?) starts nothing more
    assert len(helpers.processes) == 2
    assert all(process.poll() is None for process in helpers.processes)
    helpers.stop()
    assert all(process.poll() is not None for process in helpers.processes)


def test_a_server_that_never_listened_leaves_no_helper_behind():
    helpers = Helpers([SLEEPER])
    helpers.stop()  # the run ends (the port was taken) before the server listened
    helpers.start()  # the watcher's late call
    assert helpers.processes == []


def _answer(status: int) -> Any:
    async def application(scope: dict[str, Any], receive: Any, send: Any) -> None:
        await send({"type": "http.response.start", "status": status, "headers": []})
        await send({"type": "http.response.body", "body": b"<p>", "more_body": True})
        await send({"type": "http.response.body", "body": b"</p>"})

    return application


def _visit(application: FirstPage, kind: str = "http") -> list[dict[str, Any]]:
    sent: list[dict[str, Any]] = []

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    asyncio.run(application({"type": kind}, None, send))
    return sent


def test_the_helpers_wait_for_the_first_page_not_for_the_redirect_to_it():
    redirect = FirstPage(_answer(302))
    assert len(_visit(redirect)) == 3  # the response goes out unchanged
    assert not redirect.answered.is_set()  # / sends a new visitor to the sign-in page: not a page yet
    page = FirstPage(_answer(200))
    assert len(_visit(page)) == 3
    assert page.answered.is_set()
    assert len(_visit(page)) == 3  # later requests go straight through


def test_websockets_pass_through_without_counting_as_a_page():
    application = FirstPage(_answer(200))
    _visit(application, "websocket")
    assert not application.answered.is_set()
