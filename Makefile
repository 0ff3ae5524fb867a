# Lintel: `make demo` and `make test` set everything up themselves (a .venv from requirements.txt).
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

.PHONY: setup test demo bench lint screenshots clean

setup: $(STAMP)

$(STAMP): requirements.txt pyproject.toml
	@# A browser for the web view's test and a QR reader for the sign-in screen's: Debian's
	@# chromium and zbar-tools, installed when missing and apt-get can (root on Debian).
	@command -v chromium >/dev/null && command -v zbarimg >/dev/null || \
	  { command -v apt-get >/dev/null && [ "$$(id -u)" = 0 ] && \
	    apt-get update -qq && apt-get install -y -qq --no-install-recommends chromium zbar-tools \
	    >/dev/null; } || echo "note: install Chromium and zbarimg for every test to run"
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --disable-pip-version-check -r requirements.txt
	$(PY) -m pip install --quiet --disable-pip-version-check --no-deps -e .
	touch $(STAMP)

test: setup
	$(PY) -m pytest -q

lint: setup
	$(VENV)/bin/ruff check host_tools tests firmware board bench

bench: setup
	$(PY) bench/run.py

# The golden screens of tests/test_render.py: every view in tests/golden/views drawn by
# lintel render for every board, into tests/golden/<board>/<view>.png.
BOARDS = $(filter-out unix,$(notdir $(patsubst %/board.json,%,$(wildcard board/*/board.json))))
screenshots: setup
	@for board in $(BOARDS); do mkdir -p tests/golden/$$board; \
	  for view in tests/golden/views/*.json; do \
	    $(VENV)/bin/lintel render --board $$board --view $$view \
	      --out tests/golden/$$board/$$(basename $$view .json).png || exit 1; \
	  done; done

# The e-paper panel's image in the emulator, provisioned, configured for the local fake
# Microsoft 365 tenant and signed in; type action ids (book:15, end, find, ...) to press buttons.
demo: setup
	$(VENV)/bin/lintel demo --workdir build/demo

clean:
	rm -rf build $(VENV) .pytest_cache .ruff_cache
