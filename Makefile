# erlen's developer commands. Each target sets up what it needs on a fresh machine
# that has only Python 3.11+, make and access to the package registries.

PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed-dev

.PHONY: run test lint format bench bench-quick profile clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e ".[dev]"
	touch $(STAMP)

## Start the example notes app (examples/notes) on http://127.0.0.1:5000
run: $(STAMP)
	cd examples/notes && ../../$(VENV)/bin/erlen --app notes run --host 127.0.0.1 --port 5000

## Run every test with line coverage of src/erlen
test: $(STAMP)
	$(PY) -m pytest --cov=erlen --cov-report=term $(PYTEST_ARGS)

## ruff check + ruff format --check
lint: $(STAMP)
	$(VENV)/bin/ruff check src tests bench examples
	$(VENV)/bin/ruff format --check src tests bench examples

format: $(STAMP)
	$(VENV)/bin/ruff check --fix src tests bench examples
	$(VENV)/bin/ruff format src tests bench examples

## Compare erlen with its peers (see bench/README.md)
bench:
	bash bench/setup.sh
	bench/.venv/bin/python bench/run.py $(BENCH_ARGS)
	bench/.venv/bin/python bench/async_wsgi.py

## One-minute check of the benchmark harness
bench-quick:
	bash bench/setup.sh
	bench/.venv/bin/python bench/run.py --quick $(BENCH_ARGS)

## Profile erlen on one scenario: make profile SCENARIO=hello
profile:
	bash bench/setup.sh
	bench/.venv/bin/python bench/profile.py $(SCENARIO) $(PROFILE_ARGS)

clean:
	rm -rf $(VENV) bench/.venv .pytest_cache .ruff_cache .coverage
