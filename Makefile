# Vestnik: `make run` starts the whole service, `make test` runs every check.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python

.PHONY: run test setup lint clean screenshots messages

$(VENV)/.installed-runtime: requirements.txt
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -r requirements.txt
	touch $@

$(VENV)/.installed-dev: requirements.txt requirements-dev.txt $(VENV)/.installed-runtime
	$(PY) -m pip install --quiet -r requirements-dev.txt
	touch $@

# axe-core for the accessibility tests, exactly as package-lock.json pins it. Without npm the note says what is
# missing and those tests are skipped (CI installs npm: .ci/run).
node_modules/.installed: package.json package-lock.json
	@if command -v npm >/dev/null 2>&1; then \
		npm ci --no-audit --no-fund --loglevel=error && touch $@; \
	else \
		echo "npm not found: the accessibility tests (axe-core) will be skipped; apt-get install npm"; \
	fi

setup: $(VENV)/.installed-runtime

## Start web + worker + scheduler (+ the local mail sink) on SQLite with demo data, DEBUG off.
## Switches: make run DEBUG=true (Django's debug pages), DEMO=false (no demo data), PORT=9000, MAILSINK_PORT=1026.
run: $(VENV)/.installed-runtime
	$(PY) scripts/start.py

## Lint, type check, migration check and the whole test suite (SQLite; PostgreSQL + Redis when reachable).
test: $(VENV)/.installed-dev node_modules/.installed
	bash scripts/test.sh

## Refresh docs/screenshots/*.png: the real processes on a scratch database with the demo data, headless Chromium.
screenshots: $(VENV)/.installed-dev
	$(PY) scripts/screenshots.py

## Refresh locale/en (the English of the Russian interface strings) and compile it; needs GNU gettext.
I18N_IGNORE := --ignore=.venv --ignore=var --ignore=node_modules --ignore=bench --ignore=docs
messages: $(VENV)/.installed-runtime
	DEBUG=true $(PY) manage.py makemessages -l en $(I18N_IGNORE)
	DEBUG=true $(PY) manage.py compilemessages -l en -l ru $(I18N_IGNORE)

clean:
	rm -rf var/db.sqlite3* var/mail var/media var/test-*
