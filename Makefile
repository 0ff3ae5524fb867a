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

# Build the e-paper panel's image and boot it in the emulator; the console is ./panel-console.
demo: setup
	$(VENV)/bin/lintel build --board esp32s3-epd75 --out build/esp32s3-epd75
	@echo "Starting the emulated panel. In another terminal: $(VENV)/bin/mpremote connect ./panel-console repl"
	$(VENV)/bin/lintel emulate --flash build/esp32s3-epd75/flash.bin --console panel-console --rom-port 5555 --speed 60 --log -

clean:
	rm -rf build $(VENV) .pytest_cache .ruff_cache
