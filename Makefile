# Two commands: `make run` (install everything, start the app) and `make test` (install everything, run the suite).
# Both are idempotent: a second call only re-installs when requirements*.txt changed.
PYTHON ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
# Debian packages: FluidSynth (without its GUI recommends) and a General MIDI soundfont; Chromium for the UI test.
SYSTEM_PACKAGES := fluidsynth fluid-soundfont-gm
TEST_SYSTEM_PACKAGES := chromium

.PHONY: run test setup setup-dev system-deps test-system-deps lint bench screenshots clean

run: setup system-deps
	$(BIN)/streamlit run streamlit_app.py

# Two pytest workers, a test file each at a time (files share module fixtures): the 2 cores run both.
test: setup-dev system-deps test-system-deps
	$(BIN)/lint-imports
	$(BIN)/python -m pytest -n 2 --dist loadfile

setup: $(VENV)/.runtime-installed
setup-dev: $(VENV)/.dev-installed

$(VENV)/.runtime-installed: requirements.txt
	@command -v $(PYTHON) >/dev/null || { echo "Python 3.11 is needed ($(PYTHON) not found); set PYTHON=..."; exit 1; }
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -r requirements.txt
	touch $@

$(VENV)/.dev-installed: requirements-dev.txt $(VENV)/.runtime-installed
	$(BIN)/python -m pip install --quiet -r requirements-dev.txt
	touch $@

# Installs with apt-get when root; otherwise prints the exact command and carries on (the built-in synth plays).
system-deps:
	@bash tools/system-deps.sh $(SYSTEM_PACKAGES)

test-system-deps:
	@bash tools/system-deps.sh $(TEST_SYSTEM_PACKAGES)

# ruff, and the import contract of pyproject.toml (who may import whom; no cycles).
lint: setup-dev
	$(BIN)/ruff check .
	$(BIN)/lint-imports

bench: setup-dev
	$(BIN)/python -m bench

# Retakes the README's screenshots: the UI test, writing them into docs/ instead of a temporary folder.
screenshots: setup-dev system-deps test-system-deps
	SCREENSHOT_DIR=docs/screenshots $(BIN)/python -m pytest tests/system/test_browser.py -k "every_page or space_bar"

clean:
	rm -rf $(VENV) data/cache
