# Each target works on a fresh machine by itself: it creates .venv if missing and installs.
VENV ?= .venv
PYTHON ?= python3
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp
PYTEST_ARGS ?=

.PHONY: install run test lint format bench clean

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -e '.[dev]'
	touch $(STAMP)

install: $(STAMP)

## Serve the demo on http://127.0.0.1:8000 (SQLite file accord.db; demo loaded once).
run: $(STAMP)
	$(BIN)/accord db upgrade
	$(BIN)/accord demo --if-needed
	$(BIN)/accord serve --host 127.0.0.1 --port 8000

## Lint, type-check, check the layering, then run every test (the 25 slowest are named,
## and the branch coverage of src/accord is measured).
test: lint
	$(BIN)/pytest -n 2 --durations=25 --cov=accord --cov-branch --cov-report=term:skip-covered $(PYTEST_ARGS)

lint: $(STAMP)
	$(BIN)/ruff check src tests bench
	$(BIN)/ruff format --check src tests bench
	$(BIN)/mypy
	$(BIN)/lint-imports

format: $(STAMP)
	$(BIN)/ruff format src tests bench
	$(BIN)/ruff check --fix src tests bench

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache .hypothesis
