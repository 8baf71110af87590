# Sportello — two commands: `make run` and `make test`. Everything they need is installed here.
SHELL := /bin/bash
# scripts/uv.sh installs the pinned uv when the machine has none, then runs it.
UV := bash scripts/uv.sh
# Let Python cache the bytecode of what it imports (some machines set PYTHONDONTWRITEBYTECODE):
# otherwise every process start, cron's `mail import` included, recompiles ~600 modules
# (django.setup() 2.25 s of CPU the first time, 0.63 s once cached). Cheaper than compiling every
# installed file at `uv sync` (UV_COMPILE_BYTECODE: +12 s on a fresh clone).
unexport PYTHONDONTWRITEBYTECODE

.PHONY: run test setup assets system-deps lint lint-js typecheck fmt messages bench serve worker clean

## run: install, migrate the embedded SQLite database, load demo data, serve on 127.0.0.1:8000
run: setup
	$(UV) run sportello run

## test: install everything and run the whole suite (SQLite always; PostgreSQL when reachable)
test: setup assets system-deps
	@status=0; echo "=== lint (biome, JavaScript)"; node_modules/.bin/biome lint || status=1; \
		bash scripts/test.sh || status=1; exit $$status

# Packages are hard-linked from uv's cache when it is on the checkout's filesystem (a fresh clone's
# sync: 1.8 s of CPU instead of 4.9 s copying 820 MB, 12 s wall instead of 22 at load 11), copied
# otherwise (uv warns when a hard link fails); UV_LINK_MODE set by the caller wins.
setup:
	@cache=$$($(UV) cache dir 2>/dev/null) && mkdir -p "$$cache" \
		&& [ "$$(stat -c %d "$$cache")" = "$$(stat -c %d .)" ] && mode=hardlink || mode=copy; \
		UV_LINK_MODE=$${UV_LINK_MODE:-$$mode} $(UV) sync --frozen --quiet

## assets: the front-end packages of package-lock.json (npm), their built files copied into static/.
## `make run` does not need it: the files the pages load (static/vendor/htmx.min.js, uPlot.*) are committed,
## so a fresh clone serves without Node; `make test` and `make lint` run it (axe-core, biome).
## Nothing is done when package-lock.json has not changed since the last install.
NPM_STAMP := node_modules/.package-lock.json
VENDOR := src/sportello/static/vendor
assets: $(VENDOR)/htmx.min.js $(VENDOR)/uPlot.iife.min.js $(VENDOR)/uPlot.min.css

$(NPM_STAMP): package.json package-lock.json
	@command -v npm >/dev/null 2>&1 || { [ "$$(id -u)" = 0 ] && apt-get install -y -qq nodejs npm >/dev/null; }
	npm ci --no-audit --no-fund --loglevel=error
	@touch $@

$(VENDOR)/htmx.min.js: $(NPM_STAMP)
	cmp -s node_modules/htmx.org/dist/htmx.min.js $@ || cp node_modules/htmx.org/dist/htmx.min.js $@
	@touch $@

# uPlot draws the report charts (docs/frontend.md, "Charts": picked by measured size and speed).
$(VENDOR)/uPlot.%: $(NPM_STAMP)
	cmp -s node_modules/uplot/dist/uPlot.$* $@ || cp node_modules/uplot/dist/uPlot.$* $@
	@touch $@

## system-deps: Debian packages the tests drive (Chromium for the browser, Dovecot for IMAP)
system-deps:
	bash scripts/system-deps.sh

lint: setup lint-js
	$(UV) run ruff check .
	$(UV) run ruff format --check src/sportello/tickets src/sportello/core src/sportello/customers

## lint-js: biome (biome.json) over our own scripts in src/sportello/*/static (not vendor/)
lint-js: assets
	node_modules/.bin/biome lint

typecheck: setup
	$(UV) run mypy

fmt: setup
	$(UV) run ruff format .
	$(UV) run ruff check --fix .

## messages: refresh the translation catalogs (src/sportello/locale) from the source and compile them
## (needs gettext's xgettext and msgfmt); translate what is new in the .po files, then run it again
messages: setup
	$(UV) run python manage.py makemessages -l it -l de -l bg --add-location=file \
		--ignore='.venv/*' --ignore='var/*' --ignore='tests/*' --ignore='bench/*' --ignore='node_modules/*'
	for po in src/sportello/locale/*/LC_MESSAGES/django.po; do msgfmt --check -o "$${po%.po}.mo" "$$po" || exit 1; done

## bench: speed figures (not part of `make test`); needs PostgreSQL on 127.0.0.1:5432
bench: setup
	@command -v wrk >/dev/null 2>&1 || { [ "$$(id -u)" = 0 ] && apt-get install -y -qq wrk >/dev/null; } || true
	$(UV) run python bench/api_create.py
	@if command -v valgrind >/dev/null 2>&1; then $(UV) run python bench/api_instructions.py; \
	else echo "bench/api_instructions.py skipped: valgrind is not installed"; fi
	$(UV) run python bench/inbox.py
	$(UV) run python bench/mail_ingest.py
	$(UV) run python bench/sla_sweep.py
	$(UV) run python bench/kb.py

serve: setup
	$(UV) run sportello serve

worker: setup
	$(UV) run sportello worker

clean:
	rm -rf .venv var .pytest_cache .ruff_cache .mypy_cache
