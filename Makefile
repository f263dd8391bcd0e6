# Two entry points: `make run` starts the bot, `make test` runs lint, types and every test.
# Each creates .venv and installs exactly the pinned, hash-checked versions of the lock files:
# requirements.lock (runtime only) for `make run`, requirements-dev.lock (runtime + dev + bench)
# for `make test`. `make lock` regenerates both after a change to pyproject.toml.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
PIP := $(BIN)/python -m pip
RUN_STAMP := $(VENV)/.installed-run
DEV_STAMP := $(VENV)/.installed-dev
UV_VERSION := 0.13.9
LOCK_OPTIONS := --universal --python-version 3.11 --generate-hashes --quiet \
	--custom-compile-command 'make lock'

# The install commands, shared with the Dockerfile (a test checks they stay the same).
INSTALL_RUNTIME := pip install --require-hashes -r requirements.lock
INSTALL_DEV := pip install --require-hashes -r requirements-dev.lock
INSTALL_PROJECT := pip install --no-deps -e .

.PHONY: run install test lint typecheck pytest bench emulator lock clean

$(BIN)/python:
	@$(PYTHON) -c 'import sys; sys.exit(sys.version_info < (3, 11) and \
		"Python 3.11 or newer is needed, $(PYTHON) is " + sys.version.split()[0] + \
		": see docs/operations.md, or run make PYTHON=python3.11")'
	$(PYTHON) -m venv $(VENV)

$(RUN_STAMP): requirements.lock pyproject.toml | $(BIN)/python
	$(BIN)/python -m $(INSTALL_RUNTIME) --quiet
	$(BIN)/python -m $(INSTALL_PROJECT) --quiet
	touch $@

$(DEV_STAMP): requirements-dev.lock pyproject.toml | $(BIN)/python
	$(BIN)/python -m $(INSTALL_DEV) --quiet
	$(BIN)/python -m $(INSTALL_PROJECT) --quiet
	touch $@

run: $(RUN_STAMP)
	$(BIN)/python -m bot

install: $(RUN_STAMP)

test: lint typecheck pytest

lint: $(DEV_STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

typecheck: $(DEV_STAMP)
	$(BIN)/mypy

# The browser test drives Debian's chromium and the proxy test nginx: the first line installs
# them with apt-get when missing (as root) and never fails the build; a test then skips and
# says why.
# Two worker processes: the tests mostly wait on sockets, so two share even one core well.
pytest: $(DEV_STAMP)
	-@$(BIN)/python -m tests.debian_tools
	$(BIN)/pytest --numprocesses 2

bench: $(DEV_STAMP)
	$(BIN)/python -m bench.portal_read
	$(BIN)/python -m bench.portal_latency
	$(BIN)/python -m bench.startup

emulator: $(DEV_STAMP)
	$(BIN)/python -m tests.emulators.bitrix24 --demo

# Needs the network; uv is installed into .venv for this target only.
lock: | $(BIN)/python
	$(PIP) install --quiet uv==$(UV_VERSION)
	$(BIN)/uv pip compile pyproject.toml $(LOCK_OPTIONS) -o requirements.lock
	$(BIN)/uv pip compile pyproject.toml --extra dev --extra bench $(LOCK_OPTIONS) \
		-c requirements.lock -o requirements-dev.lock

clean:
	rm -rf $(VENV) .mypy_cache .pytest_cache .ruff_cache
