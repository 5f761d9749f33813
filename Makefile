# The two commands a newcomer needs: `make run` and `make test`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
LOCK := requirements/dev.lock
# The deployment checks' tools live apart, so checkov's dependencies never meet the service's.
TOOLS := .venv-tools
TOOLS_STAMP := $(TOOLS)/.installed
TOOLS_LOCK := requirements/deploy-tools.lock

.PHONY: install tools run test lint format typecheck deploy-check lock schema bench load clean

install: $(STAMP)

# Exact pins from the lock file, then this project in editable mode without re-resolving.
$(STAMP): pyproject.toml $(LOCK)
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -r $(LOCK)
	$(BIN)/python -m pip install --quiet --no-deps -e .
	touch $(STAMP)

tools: $(TOOLS_STAMP)

$(TOOLS_STAMP): $(TOOLS_LOCK)
	test -x $(TOOLS)/bin/python || $(PYTHON) -m venv $(TOOLS)
	$(TOOLS)/bin/python -m pip install --quiet --upgrade pip
	$(TOOLS)/bin/python -m pip install --quiet -r $(TOOLS_LOCK)
	touch $(TOOLS_STAMP)

## Serve GraphQL on http://127.0.0.1:8000/graphql (embedded database + demo data when CX_MONGO_URI is unset)
run: install
	$(BIN)/cxgraph dev

## The whole test suite (lint, types and the import layers first), against the embedded database and a real Redis
test: install tools
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy
	$(BIN)/lint-imports --no-cache
	scripts/check-deploy.sh
	scripts/ensure-redis.sh
	$(BIN)/python -m pytest

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/lint-imports --no-cache

format: install
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

typecheck: install
	$(BIN)/mypy

## hadolint on the Dockerfile; k8s/ overlays rendered, schema-validated and scanned by checkov
deploy-check: tools
	scripts/check-deploy.sh

## Re-pin dependencies after editing pyproject.toml
lock: install
	$(BIN)/python -m pip install --quiet uv
	$(BIN)/uv pip compile pyproject.toml --extra dev --extra embedded --extra motor --extra otel \
		--python-version 3.11 --universal -o requirements/dev.lock
	$(BIN)/uv pip compile pyproject.toml --extra otel --python-version 3.11 --universal \
		-o requirements/prod.lock
	$(BIN)/uv pip compile requirements/deploy-tools.in --python-version 3.11 \
		-o requirements/deploy-tools.lock

schema: install
	$(BIN)/cxgraph schema export > schema.graphql

## Benchmarks: ratios measured in one run, written to docs/benchmarks.md (an hour or so: its 400,000-
## response hot-path part alone took 7 minutes on 2 shared cores; BENCH_RESPONSES=20000 for a quick run; the hot-path section needs wrk: apt-get install -y wrk)
bench: install
	$(BIN)/python -m bench.report

## Mixed load against a real server and embedded database -> docs/reliability.md (~90 s)
LOAD_ARGS ?= --duration 60 --warmup 10 --partners 4 --dashboards 8
load: install
	$(BIN)/python -m bench.load $(LOAD_ARGS)

clean:
	rm -rf $(VENV) $(TOOLS) .pytest_cache .mypy_cache .ruff_cache
