# Outpost: every target works on a fresh machine (creates .venv and installs pinned deps first).
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed-stamp
export PYTHONDONTWRITEBYTECODE := 1

.PHONY: run test bench package browser edge clean catalogs

$(STAMP): requirements.txt requirements-dev.txt pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade "pip<26.3"
	$(PY) -m pip install --quiet -r requirements-dev.txt
	$(PY) -m pip install --quiet --no-deps --no-build-isolation -e .
	touch $@

# Debian's chromium for the browser tests of the HTML page (never `playwright install`).
browser:
	@command -v chromium >/dev/null 2>&1 || { \
	  SUDO=$$(command -v sudo >/dev/null 2>&1 && [ "$$(id -u)" != 0 ] && echo sudo); \
	  $$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq chromium >/dev/null; }

# nginx for the local edge (local/edge.py: what CloudFront does, in front of the local API).
# nginx-light and its Brotli module; the packages' service is never started here (the stack runs
# its own unprivileged nginx with a generated config), so stop one that a policy let start.
edge:
	@command -v nginx >/dev/null 2>&1 || test -x /usr/sbin/nginx || { \
	  SUDO=$$(command -v sudo >/dev/null 2>&1 && [ "$$(id -u)" != 0 ] && echo sudo); \
	  $$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq \
	    --no-install-recommends nginx-light libnginx-mod-http-brotli-filter >/dev/null; \
	  if command -v systemctl >/dev/null 2>&1; then $$SUDO systemctl disable --now nginx >/dev/null 2>&1 || true; \
	  elif [ -s /run/nginx.pid ]; then $$SUDO /usr/sbin/nginx -s quit || true; fi; }

run: $(STAMP) edge
	$(PY) -m local.stack

# Six workers on a 2-core machine: the long end-to-end tests mostly wait (on the local stack's
# rounds, deadlines, sockets), so with four they held every worker while a core sat idle; two
# more keep the CPU-bound api and unit tests going beside them (5:13 against 5:26 measured).
# The long tests are collected first (tests/conftest.py) and handed out two at a time.
test: $(STAMP) browser edge
	$(PY) -m pytest -n 6 --dist load --maxschedchunk 2 --durations=10

bench: $(STAMP) edge
	$(PY) -m bench

package: $(STAMP)
	$(PY) -m infra.package

# Languages (README "Languages"): extract every marked string into the template, merge it into
# each locale's .po (new strings arrive untranslated; tests/unit/test_catalogs.py then names
# them), and compile the .mo files, which are committed so no other target needs this step.
LOCALE_DIR := chalicelib/locales
catalogs: $(STAMP)
	$(VENV)/bin/pybabel extract -F babel.cfg -k N_ --no-location --sort-output \
	  --project Outpost -o $(LOCALE_DIR)/outpost.pot .
	$(VENV)/bin/pybabel update -i $(LOCALE_DIR)/outpost.pot -d $(LOCALE_DIR) -D outpost \
	  --no-fuzzy-matching --ignore-obsolete --ignore-pot-creation-date
	$(VENV)/bin/pybabel compile -d $(LOCALE_DIR) -D outpost --statistics

clean:
	rm -rf $(VENV) build .local
