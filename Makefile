# Lintel: `make demo` and `make test` set everything up themselves (a .venv from requirements.txt).
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

.PHONY: setup test demo bench lint clean

setup: $(STAMP)

$(STAMP): requirements.txt pyproject.toml
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

# The e-paper panel's image in the emulator, provisioned, configured for the local fake
# Microsoft 365 tenant and signed in; type action ids (book:15, end, find, ...) to press buttons.
demo: setup
	$(VENV)/bin/lintel demo --workdir build/demo

clean:
	rm -rf build $(VENV) .pytest_cache .ruff_cache
