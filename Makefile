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

types: install
	$(VENV)/bin/mypy

pytest: install
	$(VENV)/bin/pytest

test: lint types pytest

bench: install
	$(VENV)/bin/python -m bench.rls_overhead

clean:
	rm -rf $(VENV) $(TOOLS) .pytest_cache .mypy_cache .ruff_cache
