# The two commands: `make run` and `make test`. Both set up everything on a fresh machine.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
PY := $(BIN)/python
PORT ?= 8000
# Starts embedded PostgreSQL / Redis for whichever of DATABASE_URL / REDIS_URL is unset.
WITH_SERVICES := $(PY) -m portal.devservices run --

.PHONY: run test bench install install-run install-test install-local-model install-load chromium pdf-deps \
	static lint lint-checks services-up services-down load screenshots clean

# A first start installs only what the portal needs to run (no test tools, no llama.cpp build). In DEBUG (the
# default here) whitenoise serves static files from their sources (WHITENOISE_USE_FINDERS), so collectstatic, which
# compresses ~2,000 files, runs only when DEBUG is set to something else.
run: install-run pdf-deps
	@if [ "$${DEBUG:-1}" != 1 ]; then $(MAKE) --no-print-directory static; fi
	DEBUG=$${DEBUG:-1} PORTAL_PORT=$(PORT) SITE_URL=http://127.0.0.1:$(PORT) $(WITH_SERVICES) bash bin/run-portal

test: install-test chromium pdf-deps static
	$(MAKE) --no-print-directory lint-checks
	PORTAL_TESTING=1 EMBEDDED_REDIS_DB=1 $(WITH_SERVICES) bash bin/test-portal

# The speed benchmark of issue 13 (docs/benchmarks.md §3): makes or reuses the two scale databases
# (bench/generate_scale.py), then times every list page, the exercise page, search and the comparison at both sizes
# and prints the ratios. `make bench BENCH_ARGS="--repeat 10 --slow 3"`.
bench: install static
	$(WITH_SERVICES) $(PY) bench/pages_scale.py $(BENCH_ARGS)

# Screenshots of the main pages from the seeded demo to docs/screenshots/ (the README shows them); in `make test`
# the same test writes to test-artifacts/screenshots/ instead.
screenshots: install chromium pdf-deps static
	PORTAL_TESTING=1 EMBEDDED_REDIS_DB=1 SCREENSHOTS_DIR=docs/screenshots $(WITH_SERVICES) \
	  $(PY) -m pytest tests/browser/test_screenshots.py -q -p no:cacheprovider

# Each installs only what is missing or out of date (see bin/ensure-deps and pyproject.toml's groups):
# install-run the runtime dependencies, install (make lint) adds the dev tools, install-test adds the local model
# of the end-to-end tests (llama-cpp-python, built from source once: ~10 min).
install-run:
	@PYTHON=$(PYTHON) bash bin/ensure-deps
install:
	@PYTHON=$(PYTHON) bash bin/ensure-deps dev
install-test:
	@PYTHON=$(PYTHON) bash bin/ensure-deps dev local-model
install-local-model:
	@PYTHON=$(PYTHON) bash bin/ensure-deps local-model
install-load:
	@PYTHON=$(PYTHON) bash bin/ensure-deps load
	@PYTHON=$(PYTHON) bash bin/ensure-locust

# Debian's Chromium for the browser tests (never a browser download by a test tool).
chromium:
	@if [ ! -x /usr/bin/chromium ]; then \
	  echo "Installing Debian's chromium for the browser tests"; \
	  SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
	  $$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq chromium >/dev/null; \
	fi

# Debian's libraries and fonts for WeasyPrint's PDF reports (pango, harfbuzz's subsetter, DejaVu): only the missing.
PDF_DEBS := libpango-1.0-0 libpangoft2-1.0-0 libharfbuzz-subset0 fontconfig fonts-dejavu-core
pdf-deps:
	@missing=$$(for p in $(PDF_DEBS); do dpkg-query -W -f='$${Status}' $$p 2>/dev/null | grep -q "ok installed" || echo $$p; done); \
	if [ -n "$$missing" ]; then \
	  echo "Installing Debian's libraries for the PDF reports:" $$missing; \
	  SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
	  $$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq $$missing >/dev/null; \
	fi

# collectstatic reads settings but touches no service: placeholder URLs when none are set.
static: install-run
	@DEBUG=1 DATABASE_URL=$${DATABASE_URL:-postgresql://unused@127.0.0.1/unused} \
	  REDIS_URL=$${REDIS_URL:-redis://127.0.0.1:6379/0} $(PY) manage.py collectstatic --noinput --verbosity 0

lint: install
	$(MAKE) --no-print-directory lint-checks

# ruff, the layer contracts of pyproject.toml [tool.importlinter] (a broken contract fails `make test` too), bandit
# ([tool.bandit]) and the project's semgrep rules (.semgrep/rules/, tested on .semgrep/tests/; offline: local rules
# only, no metrics, no registry; semgrep lives in a virtualenv of its own, bin/ensure-lint-tools). Any finding fails.
SEMGREP = SEMGREP_SEND_METRICS=off SEMGREP_ENABLE_VERSION_CHECK=0 $$(bash bin/ensure-lint-tools)
SEMGREP_FLAGS := --metrics off --disable-version-check --config .semgrep/rules/
lint-checks:
	$(BIN)/ruff check .
	$(BIN)/lint-imports
	$(BIN)/bandit -q -c pyproject.toml -r accounts evaluations portal bench
	$(SEMGREP) --test $(SEMGREP_FLAGS) .semgrep/tests/
	$(SEMGREP) scan $(SEMGREP_FLAGS) --no-git-ignore --error --quiet accounts evaluations portal templates bench

services-up: install-run
	$(PY) -m portal.devservices up

services-down: install-run
	$(PY) -m portal.devservices down

# The real small model (gemma3-270m, a base model) on 127.0.0.1:8765 for the demo: register it as
# openai-api-completions/llamacpp/gemma3-270m with base URL http://127.0.0.1:8765/v1 (any key). `make local-model PORT=9000`.
LOCAL_MODEL_PORT := $(if $(filter command line environment,$(origin PORT)),$(PORT),8765)
local-model: install-local-model
	$(PY) -m portal.local_model --port $(LOCAL_MODEL_PORT)

# Locust against a `make run`-style portal with the demo scaled up, while a run executes (bench/load/run.py):
# prints requests per second, p50/p95/p99 and errors. `make load LOAD_ARGS="--duration 120 --pollers 50"`.
LOAD_ARGS ?=
load: install-load pdf-deps static
	DEBUG=$${DEBUG:-1} $(WITH_SERVICES) $(PY) bench/load/run.py $(LOAD_ARGS)

clean:
	rm -rf staticfiles build *.egg-info .mypy_cache .pytest_cache .ruff_cache
