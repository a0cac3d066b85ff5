# Servanda Office - developer entry points. `make run` and `make test` are the
# README quick start; both install what they need first.
SHELL := /bin/bash
PYTHON ?= python3
TOOLS := .tools
UV := $(shell command -v uv 2>/dev/null || echo $(TOOLS)/bin/uv)
VENV := .venv
SERVANDA := $(VENV)/bin/servanda

.PHONY: install web node-check run test lint types pytest webtest sbom audit bench bench-load clean

# uv is installed into a private tools venv when the machine has none, so a
# fresh Debian needs nothing but python3 (+venv).
$(TOOLS)/bin/uv:
	$(PYTHON) -m venv $(TOOLS)
	$(TOOLS)/bin/pip install --quiet --disable-pip-version-check uv

install: $(if $(findstring $(TOOLS),$(UV)),$(TOOLS)/bin/uv)
	$(UV) sync --locked --quiet
	@$(MAKE) --no-print-directory web

# The web app (web/, docs/web.md): dependencies from package-lock.json, then the build the API
# serves (web/dist). Both rerun only when their inputs changed.
WEB_SOURCES := $(shell find web/src web/index.html web/vite.config.ts web/tsconfig.json web/package.json \
	-type f -not -name '*.test.ts' -not -name '*.test.tsx' 2>/dev/null)

web: node-check web/dist/index.html

# Node.js and npm from Debian when root and missing (like .ci/run); Vite 8 needs Node >= 20.19.
node-check:
	@command -v node >/dev/null 2>&1 && command -v npm >/dev/null 2>&1 || { \
		[ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1 && \
		DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends nodejs npm >/dev/null; } || { \
		echo "make install: the web app needs Node.js and npm (Debian: apt-get install nodejs npm)" >&2; exit 1; }
	@node -e 'const [a,b]=process.versions.node.split(".").map(Number); process.exit(a>20||(a===20&&b>=19)?0:1)' || { \
		echo "make install: the web app's build (Vite 8) needs Node.js >= 20.19, found $$(node --version)" >&2; exit 1; }

web/node_modules/.package-lock.json: web/package-lock.json
	cd web && npm ci --no-audit --no-fund --loglevel=error
	@touch $@

web/dist/index.html: web/node_modules/.package-lock.json $(WEB_SOURCES)
	cd web && npm run build --silent

run: install
	$(SERVANDA) up

lint: install
	$(VENV)/bin/ruff check src tests bench
	$(VENV)/bin/ruff format --check src tests bench
	$(VENV)/bin/lint-imports --no-cache
	cd web && npx tsc -b

types: install
	$(VENV)/bin/mypy

# One run of the suite, measured: coverage of src/ with the floor in pyproject.toml
# ([tool.coverage.report] fail_under); the XML report is a build artifact.
pytest: install
	$(VENV)/bin/pytest --cov --cov-report=term --cov-report=xml:build/coverage.xml

webtest: install
	cd web && npx vitest run

# CI gates (docs/operations.md "CI gates"): CycloneDX SBOMs into build/sbom/, and the audit of
# both lock files against the vulnerability services (an unreachable service fails the step).
sbom: install
	UV=$(UV) bash .ci/sbom.sh

audit: install
	UV=$(UV) bash .ci/dependency-audit.sh

test: lint types pytest webtest sbom audit

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
	$(VENV)/bin/python -m bench.scale

# The mixed load test (bench/load, docs/operations.md): 10 minutes, so not part of `make test`
# (tests/test_bench_load.py runs it for 15 s there) nor of `make bench`. LOAD_ARGS e.g. --users 200.
bench-load: install
	$(VENV)/bin/python -m bench.load $(LOAD_ARGS)

clean:
	rm -rf $(VENV) $(TOOLS) .pytest_cache .mypy_cache .ruff_cache
