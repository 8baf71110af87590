"""`sportello sqlite_snapshot` — write sportello/core/sqlite_snapshot.sql: an empty SQLite database
migrated from nothing, which `sportello run` loads into a new installation's database instead of
applying every migration (core/snapshot.py). Run it after adding a migration and commit the file;
a snapshot older than the newest migrations still works, the newer ones are applied after it."""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand

from sportello.core import snapshot


class Command(BaseCommand):
    help = "Write the SQLite snapshot that `sportello run` starts a new database from."

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("--output", default=str(snapshot.SNAPSHOT), help="where to write it")

    def handle(self, *args: Any, **options: Any) -> None:
        # A new process on a scratch data directory: the database is empty and the settings are
        # the embedded defaults, whatever this process was started with.
        with tempfile.TemporaryDirectory(prefix="sportello-snapshot-") as scratch:
            env = {**os.environ, "SPORTELLO_DATA_DIR": scratch, "DJANGO_SETTINGS_MODULE": "sportello.settings"}
            for name in ("DATABASE_URL", "REDIS_URL", "SPORTELLO_TASK_BACKEND"):
                env.pop(name, None)
            code = (
                "import sys, django; django.setup(); from django.core.management import call_command; "
                "call_command('migrate', interactive=False, verbosity=0); "
                "from sportello.core import snapshot; from pathlib import Path; "
                "print(snapshot.write(path=Path(sys.argv[1])))"
            )
            done = subprocess.run(
                [sys.executable, "-c", code, options["output"]], env=env, capture_output=True, text=True, check=True
            )
        statements = done.stdout.strip().splitlines()[-1]
        self.stdout.write(f"{statements} statements written to {Path(options['output'])}")
