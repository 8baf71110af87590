"""`sportello run` starts its worker and scheduler once the server listens, and always stops them."""

from __future__ import annotations

import sys

from sportello.cli import Helpers

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
