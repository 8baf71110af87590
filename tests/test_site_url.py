"""The default public address follows the port the server listens on (SPORTELLO_PORT, `--port`).

Settings are read once per process, so each case runs `sportello` in a fresh interpreter, on the
default SQLite file in its data folder.
"""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from tests.processes import copy_database

pytestmark = pytest.mark.own_sqlite

# Stands in for `sportello run`'s serving part: Django is set up as `run` does, then the process
# prints what a person would follow: the demo banner's sign-in address, a portal sign-in link's
# start and a macro's {{ site.url }}.
PROBE = textwrap.dedent(
    """
    import io, sys
    from sportello import cli

    def serve_nothing(args):
        cli._django()
        from django.conf import settings
        from sportello.automation.placeholders import context_for, render
        from sportello.core.management.commands.demo import Command
        from sportello.customers.models import Customer
        from sportello.tickets.models import Ticket

        banner = io.StringIO()
        command = Command(stdout=banner)
        command._print_logins()
        print("banner:", [line for line in banner.getvalue().splitlines() if "accounts/login" in line][0])
        print("site:", settings.SITE_URL)
        print("macro:", render("{{ site.url }}", context_for(Ticket(number=1, customer=Customer()))))
        return 0

    cli.cmd_run = serve_nothing
    sys.exit(cli.main(sys.argv[1:]))
    """
)


def probe(tmp_path: Path, migrated: Path, *args: str, **env: str) -> str:
    skipped = ("DJANGO_SETTINGS_MODULE", "DATABASE_URL")  # the default: a SQLite file in the data folder
    environ = {k: v for k, v in os.environ.items() if not k.startswith("SPORTELLO_") and k not in skipped}
    copy_database(migrated, tmp_path)  # `run` finds its migrations applied
    environ.update(SPORTELLO_SECRET_KEY="test-secret", SPORTELLO_DATA_DIR=str(tmp_path), **env)
    done = subprocess.run(
        [sys.executable, "-c", PROBE, *args], env=environ, capture_output=True, text=True, timeout=600, check=False
    )
    assert done.returncode == 0, done.stderr
    return done.stdout


def test_run_with_a_port_points_banner_links_and_site_url_at_it(tmp_path, migrated_sqlite):
    out = probe(tmp_path, migrated_sqlite, "run", "--port", "8765", "--no-demo")
    assert "site: http://127.0.0.1:8765\n" in out
    assert "macro: http://127.0.0.1:8765\n" in out
    assert "http://127.0.0.1:8765/accounts/login/" in out and ":8000" not in out


def test_sportello_port_sets_the_default_and_an_explicit_site_url_wins(tmp_path, migrated_sqlite):
    assert "site: http://127.0.0.1:9123\n" in probe(
        tmp_path, migrated_sqlite, "run", "--no-demo", SPORTELLO_PORT="9123"
    )
    out = probe(
        tmp_path, migrated_sqlite, "run", "--port", "9124", "--no-demo", SPORTELLO_SITE_URL="https://help.example.com/"
    )
    assert "site: https://help.example.com\n" in out


def test_without_a_port_the_address_stays_8000(tmp_path, migrated_sqlite):
    assert "site: http://127.0.0.1:8000\n" in probe(tmp_path, migrated_sqlite, "run", "--no-demo")
