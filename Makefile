# Servanda Office - developer entry points. `make run` and `make test` are the
# README quick start; both install what they need first.
SHELL := /bin/bash
PYTHON ?= python3
TOOLS := .tools
UV := $(shell command -v uv 2>/dev/null || echo $(TOOLS)/bin/uv)
VENV := .venv
SERVANDA := $(VENV)/bin/servanda

.PHONY: install run test lint types pytest bench clean

# uv is installed into a private tools venv when the machine has none, so a
# fresh Debian needs nothing but python3 (+venv).
$(TOOLS)/bin/uv:
	$(PYTHON) -m venv $(TOOLS)
	$(TOOLS)/bin/pip install --quiet --disable-pip-version-check uv

install: $(if $(findstring $(TOOLS),$(UV)),$(TOOLS)/bin/uv)
	$(UV) sync --locked --quiet

run: install
	$(SERVANDA) up

lint: install
	$(VENV)/bin/ruff check src tests bench
	$(VENV)/bin/ruff format --check src tests bench
	$(VENV)/bin/lint-imports --no-cache

types: install
	$(VENV)/bin/mypy

pytest: install
	$(VENV)/bin/pytest

test: lint types pytest

# Benchmarks print each figure next to its quality.md target (JSON in bench/results/).
bench: install
	@command -v hey >/dev/null || { [ "$$(id -u)" = 0 ] && apt-get install -y -qq hey >/dev/null; } || \
		{ echo "bench needs the 'hey' load generator (apt-get install hey)"; exit 1; }
	$(VENV)/bin/python -m bench.rls_overhead
	$(VENV)/bin/python -m bench.engine
	$(VENV)/bin/python -m bench.identity_me
	$(VENV)/bin/python -m bench.catalog
	$(VENV)/bin/python -m bench.contracts
	$(VENV)/bin/python -m bench.round_trips
	$(VENV)/bin/python -m bench.cpu_per_request
	$(VENV)/bin/python -m bench.export

clean:
	rm -rf $(VENV) $(TOOLS) .pytest_cache .mypy_cache .ruff_cache
