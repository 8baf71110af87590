"""A web process sets its start-up objects aside from the garbage collector's full passes
(core/settle.py): a full collection then walks only what requests made since."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

PROBE = """
import gc, sys
import {module}
# Nothing the URL configuration imports is left to load on the first request.
assert "sportello.tickets.api" in sys.modules and "sportello.reports.views" in sys.modules
print(gc.get_freeze_count(), len(gc.get_objects()))
"""


@pytest.mark.parametrize("module", ["sportello.wsgi", "sportello.asgi"])
def test_the_web_entry_points_leave_their_start_up_out_of_full_collections(module: str, tmp_path: Path):
    env = {**os.environ, "SPORTELLO_DATA_DIR": str(tmp_path), "DJANGO_SETTINGS_MODULE": "sportello.settings"}
    done = subprocess.run(
        [sys.executable, "-c", PROBE.format(module=module)], env=env, capture_output=True, text=True, timeout=300
    )
    assert done.returncode == 0, done.stderr[-2000:]
    frozen, walked = (int(word) for word in done.stdout.split()[-2:])
    # ~200,000 objects frozen, a full collection walks the few made after: none, right after start.
    assert frozen > 50_000
    assert walked < frozen / 100


# The command is not run: Django's entry point is replaced by a print of what the process froze.
COMMAND = """
import gc
import django.core.management
django.core.management.execute_from_command_line = lambda argv: print(gc.get_freeze_count())
from sportello import cli
cli.main({argv!r})
"""


@pytest.mark.parametrize(
    ("argv", "settles"),
    [
        (["db_worker", "--interval", "0.5"], True),
        (["scheduler"], True),
        (["mail", "listen", "--port", "2525"], True),
        (["mail", "poll"], True),
        (["mail", "poll", "--once"], False),
        (["mail", "import", "inbox.mbox"], False),
        (["migrate"], False),
    ],
)
def test_commands_that_run_until_stopped_settle_first_and_one_shot_ones_do_not(
    argv: list[str], settles: bool, tmp_path: Path
):
    env = {**os.environ, "SPORTELLO_DATA_DIR": str(tmp_path), "DJANGO_SETTINGS_MODULE": "sportello.settings"}
    done = subprocess.run(
        [sys.executable, "-c", COMMAND.format(argv=argv)], env=env, capture_output=True, text=True, timeout=300
    )
    assert done.returncode == 0, done.stderr[-2000:]
    frozen = int(done.stdout.split()[-1])
    assert (frozen > 50_000) is settles, frozen
