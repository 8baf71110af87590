#!/usr/bin/env bash
# The whole suite: lint, types, then the SQLite leg always and each service leg when reachable.
# SPORTELLO_REQUIRE_SERVICES=1 (set by .ci/run) turns a missing service into a failure.
set -uo pipefail
cd "$(dirname "$0")/.."
uv() { bash scripts/uv.sh "$@"; }
require=${SPORTELLO_REQUIRE_SERVICES:-0}
PG_URL=${SPORTELLO_TEST_POSTGRES_URL:-postgres://postgres@127.0.0.1:5432/sportello}
MARIADB_URL=${SPORTELLO_TEST_MARIADB_URL:-mysql://root@127.0.0.1:3306/test}
JOBS=${SPORTELLO_TEST_JOBS:-2}
# PostgreSQL does its share of each test in its own processes: one worker more than cores keeps the
# cores busy (tests/reports, chat and web on 2 cores: 231 s with 2 workers, 173 s with 3).
PG_JOBS=${SPORTELLO_TEST_PG_JOBS:-$((JOBS + 1))}
status=0
skipped=()

step() { echo; echo "=== $*"; }

step "lint (ruff)"
uv run ruff check . || status=1

step "types (mypy, services layer)"
uv run mypy || status=1

step "SQLite leg"
uv run pytest -n "$JOBS" -m "not browser" tests || status=1
# The osTicket importer's tests load osTicket's schema into MariaDB/MySQL (a database per test);
# without a server they skip (fail with SPORTELLO_REQUIRE_SERVICES=1, tests/importers/osticket_db.py).
if ! uv run python scripts/reachable.py mysql "$MARIADB_URL"; then
  skipped+=("osTicket importer tests: no MariaDB/MySQL at $MARIADB_URL")
fi

# Browser tests run on their own: Playwright's sync API keeps an event loop running in the test
# thread for the session, which async code in other tests (websocket consumers) must not meet.
if [ -x /usr/bin/chromium ]; then
  step "Browser leg (Playwright + Debian Chromium, SQLite)"
  uv run pytest -n "$JOBS" -m browser tests || status=1
else
  if [ "$require" = 1 ]; then echo "Chromium is missing and SPORTELLO_REQUIRE_SERVICES=1"; status=1; fi
  skipped+=("browser tests: /usr/bin/chromium is not installed")
fi

if uv run python scripts/reachable.py postgres "$PG_URL"; then
  step "PostgreSQL leg ($PG_URL)"
  DATABASE_URL="$PG_URL" uv run pytest -n "$PG_JOBS" -m "not browser" tests || status=1
else
  if [ "$require" = 1 ]; then echo "PostgreSQL is not reachable and SPORTELLO_REQUIRE_SERVICES=1"; status=1; fi
  skipped+=("PostgreSQL leg: no server at $PG_URL")
fi

echo
if [ ${#skipped[@]} -gt 0 ]; then
  echo "SKIPPED:"; printf '  - %s\n' "${skipped[@]}"
else
  echo "Every leg ran (SQLite, PostgreSQL, browser)."
fi
exit $status
