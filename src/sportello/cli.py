"""The `sportello` console script.

sportello run            set up (migrate, demo data) and serve with a worker: the one-command start
sportello serve          the web server as in production (uvicorn, several workers)
sportello worker         a task worker for the configured backend (database or Redis/RQ)
sportello token create   an API token for an agent
sportello mail parse …   any other word is a Django management command (migrate, demo, mail, …)
"""

from __future__ import annotations

import argparse
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import uvicorn


def _django() -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "sportello.settings")
    import django

    django.setup()


# Commands that run until stopped (the task workers, the scheduler, the mail listener and the
# IMAP poller's loop): like a web process, they set their start-up objects aside from the garbage
# collector's full passes first (core/settle.py). A one-shot command (`mail import` from cron,
# `mail poll --once`) does not pay for loading the URL configuration.
_LONG_RUNNING = frozenset({("db_worker",), ("rqworker",), ("scheduler",), ("mail", "listen"), ("mail", "poll")})


def _manage(args: Sequence[str]) -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "sportello.settings")
    from django.core.management import execute_from_command_line

    if (tuple(args[:1]) in _LONG_RUNNING or tuple(args[:2]) in _LONG_RUNNING) and "--once" not in args:
        _django()
        from sportello.core.settle import settle

        settle()
    execute_from_command_line(["sportello", *args])


def _worker_command() -> list[str]:
    from django.conf import settings

    if settings.TASK_BACKEND == "rq":
        # Without the job class every task fails (RECIPES.md).
        return [sys.executable, "-m", "sportello.cli", "rqworker", "default", "--job-class", "django_tasks_rq.Job"]
    if settings.TASK_BACKEND == "immediate":
        return []
    return [sys.executable, "-m", "sportello.cli", "db_worker", "--interval", "0.5", "--no-startup-delay"]


def cmd_run(args: argparse.Namespace) -> int:
    """One command for a freelancer: prepare the embedded database, serve, with a worker and the scheduler.

    What a new user waits for is the first page, so the work is ordered for it: the static files
    are collected (mostly compression, in threads that release the GIL) while the database is
    migrated and the demo loaded, and the worker and the scheduler start once the server has
    answered its first page (or HELPERS_GRACE seconds after it listens), so their start-up and
    the demo's backlog of events (~15 s of CPU) do not compete with that page. A new SQLite
    database starts from the schema snapshot (core/snapshot.py), not from every migration.
    """
    _django()
    from django.conf import settings
    from django.core.management import call_command

    from sportello.core import snapshot

    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="collectstatic") as pool:
        static = pool.submit(call_command, "collectstatic", interactive=False, verbosity=0)
        print("Preparing the database…", flush=True)
        snapshot.load_if_empty()
        call_command("migrate", interactive=False, verbosity=0)
        if not args.no_demo:
            print("Loading the demo data…", flush=True)
            call_command("demo")
        static.result()  # its error, if any, stops the run here
    # uvicorn re-raises SIGTERM after its own shutdown; turning it into SystemExit lets the
    # `finally` below stop the worker and the scheduler instead of leaving them orphaned.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    # This process has just run the system checks (migrate): the helpers skip them (~1 s of CPU each).
    commands = [[sys.executable, "-m", "sportello.cli", "scheduler"], _worker_command()]
    helpers = Helpers([[*command, "--skip-checks"] for command in commands if command])
    url = f"http://{args.host}:{args.port}"
    print(
        f"\nSportello is running at {url}/  (agents: {url}/inbox/, web form: {url}/support/new, "
        f"API docs: {url}/api/v1/docs)"
    )
    print(f"Outgoing mail is written to {settings.EMAIL_FILE_PATH} unless SPORTELLO_EMAIL_BACKEND is set.\n")
    try:
        return _serve(args.host, args.port, workers=1, reload=False, collect=False, started=helpers.start)
    finally:
        helpers.stop()


class Helpers:
    """The background processes of `run` (scheduler, worker): started once, stopped once, even
    when the stop comes first (the server failed to start) or while they are being started."""

    def __init__(self, commands: list[list[str]]) -> None:
        self.commands = [command for command in commands if command]
        self.processes: list[subprocess.Popen[bytes]] = []
        self.stopped = False
        self.lock = threading.Lock()

    def start(self) -> None:
        with self.lock:
            if not self.stopped and not self.processes:
                self.processes = [subprocess.Popen(command) for command in self.commands]

    def stop(self) -> None:
        with self.lock:
            self.stopped = True
            for process in self.processes:
                process.send_signal(signal.SIGTERM)
            for process in self.processes:
                process.wait(timeout=10)


def _serve(
    host: str,
    port: int,
    *,
    workers: int,
    reload: bool,
    collect: bool = True,
    started: Callable[[], None] | None = None,
) -> int:
    """uvicorn; `started` is called (in another thread) once a single server has answered its
    first page, or HELPERS_GRACE seconds after it listens if no one asked for one."""
    import uvicorn

    _django()
    from django.core.management import call_command

    if collect:
        call_command("collectstatic", interactive=False, verbosity=0)
    options: dict[str, Any] = {
        "host": host,
        "port": port,
        "log_level": os.environ.get("SPORTELLO_LOG_LEVEL", "info").lower(),
        "proxy_headers": True,
    }
    if started is None or workers > 1 or reload:
        uvicorn.run("sportello.asgi:application", workers=workers, reload=reload, **options)
        return 0
    from sportello.asgi import application

    first_page = FirstPage(application)
    server = uvicorn.Server(uvicorn.Config(first_page, **options))
    watcher = threading.Thread(
        target=_when_started, args=(server, first_page.answered, started), name="sportello-started", daemon=True
    )
    watcher.start()
    server.run()
    return 0 if server.started else 3  # uvicorn's own exit status for a server that never started


# Seconds after the server listens when `run` starts its worker and scheduler if no page was asked for.
HELPERS_GRACE = 10.0


def _when_started(server: uvicorn.Server, answered: threading.Event, then: Callable[[], None]) -> None:
    while not server.started:
        if server.should_exit:
            return
        time.sleep(0.05)
    answered.wait(HELPERS_GRACE)
    if not server.should_exit:
        then()


class FirstPage:
    """An ASGI application as it is, which sets `answered` once it has sent a whole page: an HTTP
    response other than a redirect (the first visit to / is redirected to the sign-in page)."""

    def __init__(self, application: Any) -> None:
        self.application = application
        self.answered = threading.Event()

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http" or self.answered.is_set():
            await self.application(scope, receive, send)
            return
        status = 0

        async def sending(message: dict[str, Any]) -> None:
            nonlocal status
            await send(message)
            if message["type"] == "http.response.start":
                status = int(message["status"])
            elif message["type"] == "http.response.body" and not message.get("more_body") and not 300 <= status < 400:
                self.answered.set()

        await self.application(scope, receive, sending)


def cmd_serve(args: argparse.Namespace) -> int:
    if args.wsgi:
        return _serve_wsgi(args.host, args.port, workers=args.workers)
    return _serve(args.host, args.port, workers=args.workers, reload=False)


def _serve_wsgi(host: str, port: int, *, workers: int) -> int:
    """gunicorn, for web nodes that serve HTTP only; websockets (live chat, live screens) need the
    ASGI server. bench/api_create.py measures both servers side by side."""
    _django()
    from django.core.management import call_command

    call_command("collectstatic", interactive=False, verbosity=0)
    command = [
        "gunicorn",
        "sportello.wsgi:application",
        "--workers",
        str(workers),
        "--bind",
        f"{host}:{port}",
        "--log-level",
        os.environ.get("SPORTELLO_LOG_LEVEL", "info").lower(),
    ]
    os.execvp(sys.executable, [sys.executable, "-m", *command])
    return 0


def cmd_worker(args: argparse.Namespace) -> int:
    _django()
    command = _worker_command()
    if not command:
        print("SPORTELLO_TASK_BACKEND=immediate runs tasks in the web process; no worker is needed.")
        return 0
    return subprocess.call(command + list(args.extra))


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    parser = argparse.ArgumentParser(
        prog="sportello", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    sub = parser.add_subparsers(dest="command")
    run = sub.add_parser("run", help="migrate, load demo data, serve with a worker")
    run.add_argument("--host", default=os.environ.get("SPORTELLO_HOST", "127.0.0.1"))
    run.add_argument("--port", type=int, default=int(os.environ.get("SPORTELLO_PORT", "8000")))
    run.add_argument("--no-demo", action="store_true", help="do not load demo data")
    serve = sub.add_parser("serve", help="serve as in production")
    serve.add_argument("--host", default=os.environ.get("SPORTELLO_HOST", "0.0.0.0"))
    serve.add_argument("--port", type=int, default=int(os.environ.get("SPORTELLO_PORT", "8000")))
    serve.add_argument("--workers", type=int, default=int(os.environ.get("SPORTELLO_WEB_WORKERS", "4")))
    serve.add_argument("--wsgi", action="store_true", help="gunicorn (HTTP only, no websockets) instead of uvicorn")
    sub.add_parser("worker", help="run a background task worker; options go to the worker (e.g. --burst)")
    if not argv or argv[0] in {"-h", "--help"}:
        parser.print_help()
        print(
            "\nAny other command is passed to Django's management: sportello migrate, sportello demo, "
            "sportello token create USER, sportello mail parse FILE, …"
        )
        return 0
    if argv[0] not in {"run", "serve", "worker"}:
        _manage(argv)
        return 0
    if argv[0] == "worker":  # the rest goes to the worker as it is (--burst, --batch, --queue-name …)
        return cmd_worker(argparse.Namespace(extra=argv[1:]))
    args = parser.parse_args(argv)
    # Before Django reads its settings: the default SITE_URL follows the port (the banner, portal
    # sign-in links and {{ site.url }}), and the worker and scheduler started here inherit it.
    os.environ["SPORTELLO_PORT"] = str(args.port)
    return {"run": cmd_run, "serve": cmd_serve}[args.command](args)


if __name__ == "__main__":
    sys.exit(main())
