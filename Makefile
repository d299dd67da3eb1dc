# Two commands matter: `make run` (the demo on embedded defaults) and `make test`.
SHELL := /bin/bash
PYTHON ?= $(shell command -v python3.13 2>/dev/null || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
PORT ?= 8000
STAMP := $(VENV)/.installed

.PHONY: run test install lock worker beat bench bench-broker lint format messages screenshots clean

$(STAMP): pyproject.toml constraints.txt
	@$(PYTHON) -c 'import sys; assert sys.version_info[:2] == (3, 13), "Python 3.13 is required, found " + sys.version'
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -c constraints.txt -e '.[dev]'
	touch $(STAMP)

install: $(STAMP)

# Re-pin constraints.txt: the newest releases pyproject.toml's ranges allow, then `make test`.
lock:
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade -e '.[dev,bench]'
	head -n 2 constraints.txt > constraints.new
	$(BIN)/python -m pip freeze --exclude-editable | grep -v '^#' >> constraints.new
	mv constraints.new constraints.txt

# The demo: SQLite under var/, tasks in-process, emails on the console (unless the
# environment says otherwise: EMAIL_URL, DATABASE_URL, CELERY_BROKER_URL pass through).
run: $(STAMP)
	mkdir -p var
	DEBUG=$${DEBUG:-1} $(BIN)/python manage.py migrate --noinput
	DEBUG=$${DEBUG:-1} $(BIN)/python manage.py seed_demo
	DEBUG=$${DEBUG:-1} PORT=$(PORT) $(BIN)/python manage.py runserver 127.0.0.1:$(PORT)

# axe-core (package.json, pinned in package-lock.json) checks every page's accessibility in
# the browser tests; `npm ci` installs it when node_modules is missing.
node_modules/axe-core/axe.min.js: package.json package-lock.json
	npm ci --no-audit --no-fund
	touch $@

# The OpenID Connect provider the sign-in tests start on loopback (npm's oidc-provider,
# pinned in tests/oidc_provider/package-lock.json); `npm ci` when it is missing.
OIDC_PROVIDER := tests/oidc_provider/node_modules/.package-lock.json
$(OIDC_PROVIDER): tests/oidc_provider/package.json tests/oidc_provider/package-lock.json
	npm ci --prefix tests/oidc_provider --no-audit --no-fund
	touch $@

test: $(STAMP) node_modules/axe-core/axe.min.js $(OIDC_PROVIDER)
	$(BIN)/python -m pytest $(PYTEST_ARGS)

# A Celery worker with the beat scheduler, against CELERY_BROKER_URL.
worker: $(STAMP)
	DEBUG=$${DEBUG:-1} $(BIN)/celery -A billing_portal worker --beat --loglevel=INFO

# The performance benchmark (not part of `make test`): seeds its own PostgreSQL database
# (BENCH_PG, default postgres://postgres@127.0.0.1:5432), serves the app with gunicorn, loads
# it with wrk (installed from Debian's packages when missing, with libharfbuzz-subset0 for PDFs), writes docs/performance.md and docs/performance.png;
# then times the batch runs over one and two Celery workers (bench/batches.py, writes
# docs/performance-batches.md; BATCH_ARGS="--rows 300") and runs the stalled-broker check
# (`make bench-broker`).
# It also imports a 50,000-credit camt.053 (bench/statement.py, bench/imports.py): ~60 s of
# CPU (about the 60 s target: docs/payments.md, Scale), then its receipts are rendered and
# sent in-process for ~15 minutes more; BENCH_ARGS="--statement-entries 5000" for a shorter run.
# BENCH_ARGS passes options, e.g. BENCH_ARGS="--keep" (see python -m bench.run --help).
bench: $(STAMP)
	command -v wrk >/dev/null && dpkg -s libharfbuzz-subset0 >/dev/null 2>&1 \
		|| (apt-get update -q && apt-get install -y -q wrk libharfbuzz-subset0)
	$(BIN)/python -c 'import matplotlib, pyinstrument' 2>/dev/null \
		|| $(BIN)/python -m pip install --quiet -c constraints.txt -e '.[bench]'
	$(BIN)/python -m bench.run $(BENCH_ARGS)
	$(BIN)/python -m bench.batches $(BATCH_ARGS)
	$(BIN)/python -m bench.stalled_broker $(BROKER_ARGS)

# The stalled-broker check (about a minute; also run by `make bench`): gunicorn against a
# broker that accepts connections and never answers; every change must answer a redirect
# within 2 s and the outbox sweep must then send each email once. Its own database
# (BENCH_PG, BENCH_BROKER_DB_NAME, default billing_bench_broker), dropped at the end;
# summary on stdout and in var/bench/stalled_broker.md. BROKER_ARGS="--runs 10", see --help.
bench-broker: $(STAMP)
	$(BIN)/python -m bench.stalled_broker $(BROKER_ARGS)

# The documentation's pictures (docs/screenshots/, docs/responsive.md): the demo seeded into a
# throwaway SQLite database and served, each tab, an invoice and the pricing page in French at
# 1280 and 390 px, photographed by Debian's Chromium. About a minute; commit the PNGs.
screenshots: $(STAMP)
	DEBUG=$${DEBUG:-1} $(BIN)/python manage.py screenshots $(SCREENSHOTS_ARGS)

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	DEBUG=1 $(BIN)/python manage.py makemigrations --check --dry-run

format: $(STAMP)
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

# The one English catalogue, locale/en/LC_MESSAGES/django.po (no app-level locale/ folders:
# makemessages would split the strings between them). Needs GNU gettext; the compiled .mo
# is committed, so `make run` works without gettext.
messages: $(STAMP)
	DEBUG=1 $(BIN)/python manage.py makemessages -l en --no-obsolete \
		-i '.venv/*' -i 'var/*' -i 'bench/*' -i 'tests/*' -i 'staticfiles/*' -i 'node_modules/*'
	DEBUG=1 $(BIN)/python manage.py compilemessages -l en -i '.venv'

clean:
	rm -rf $(VENV) var staticfiles node_modules tests/oidc_provider/node_modules
