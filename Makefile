# Baton: `make dev` runs the whole product locally, `make test` runs every test.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin

.PHONY: dev test lint bench system-deps clean-data

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip

$(VENV)/.installed: pyproject.toml | $(BIN)/python
	$(BIN)/pip install --quiet -e .
	touch $@

$(VENV)/.installed-dev: pyproject.toml | $(BIN)/python
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $@ $(VENV)/.installed

## dev: run Temporal, the workers, the API and the mail catcher on this machine (Ctrl-C stops all)
dev: $(VENV)/.installed
	$(BIN)/python -m starter.dev

## system-deps: install the Debian packages the tests use (OCR, PDF tools, PostgreSQL, Dovecot)
system-deps:
	bash .ci/system-deps

## test: install what the tests need, then run them all
test: $(VENV)/.installed-dev system-deps
	$(BIN)/python -m pytest $(PYTEST_ARGS)

## lint: ruff and mypy, as CI runs them
lint: $(VENV)/.installed-dev
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy .

## bench: the baseline benchmark (floor chain and signal latency)
bench: $(VENV)/.installed-dev
	$(BIN)/python -m bench.baseline

## clean-data: forget all local state (Temporal runs, database, files, captured mail)
clean-data:
	rm -rf data
