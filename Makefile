# binvault: `make run` and `make test` are all a newcomer needs (python3 + make).
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
export PYTHONPATH := $(CURDIR)/src
export PYTHONDONTWRITEBYTECODE := 1
PORT ?= 3000
DYNAMODB_PORT ?= 8000
EVENT ?= events/delete-versions-preserve.json
# Where `make run` keeps its data (a write-ahead journal); `memory` for a throw-away run.
BINVAULT_DATA ?= $(CURDIR)/.binvault
BINVAULT_CONCURRENCY ?= 4
ARGS ?= --help
# pytest-xdist workers for make test / make check: one per core (`auto`); TEST_WORKERS=0 runs
# the tests in one process (e.g. to read a failure's output in order). --dist loadgroup keeps
# the tests of a module marked xdist_group (an expensive module-scoped fixture, a shared
# build directory) on one worker, and spreads every other test one by one.
TEST_WORKERS ?= auto
PARALLEL := -n $(TEST_WORKERS) --dist loadgroup

.PHONY: run run-memory reset admin test check unit api integration e2e browser screenshots lint transform format bench soak openapi invoke \
	package clean build-ApiFunction build-PurgeFunction build-UsageLogsFunction

# pip compiles each package's .pyc files one process at a time; --no-compile and then one
# compileall over every core does the same work faster (four alternating fresh venvs here:
# 61 -> 52 s on average; most of what is left is pip reading the package indexes).
$(STAMP): requirements-dev.txt src/requirements.txt
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check --no-compile -r requirements-dev.txt
	$(BIN)/python -m pip install --quiet --disable-pip-version-check --no-compile --no-deps -e .
	$(BIN)/python -m compileall -q -j 0 $(VENV)/lib
	touch $(STAMP)

run: $(STAMP)  ## the whole service locally: embedded DynamoDB (data in $(BINVAULT_DATA)), demo key, API on :$(PORT)/v3
	PORT=$(PORT) DYNAMODB_PORT=$(DYNAMODB_PORT) BINVAULT_DATA=$(BINVAULT_DATA) \
	  BINVAULT_CONCURRENCY=$(BINVAULT_CONCURRENCY) $(BIN)/python -m binvault.local.stack

run-memory: $(STAMP)  ## `make run` with nothing kept: the data is gone when it stops
	$(MAKE) run BINVAULT_DATA=memory

reset: $(STAMP)  ## wipe the local data ($(BINVAULT_DATA)); refused while `make run` uses it
	BINVAULT_DATA=$(BINVAULT_DATA) $(BIN)/python -m binvault.local.stack --reset

admin: $(STAMP)  ## binvault-admin against the local stack: make admin ARGS='create-account --requests 1000'
	BINVAULT_DATA=$(BINVAULT_DATA) DYNAMODB_PORT=$(DYNAMODB_PORT) $(BIN)/python -m binvault.local.admin $(ARGS)

test: $(STAMP)  ## every test (unit, api, integration, e2e on the local stack, the packaged artifact, the console in Chromium; not the long soak) with the coverage floor
	$(BIN)/cfn-lint template.yaml
	bash scripts/browser.sh
	$(BIN)/python -m pytest $(PARALLEL) --durations=15 --cov --cov-report=term --cov-fail-under=90 tests

check: lint  ## the inner loop: make lint, then the unit and api tests in parallel (about 1 min 45 s on 2 cores)
	$(BIN)/python -m pytest $(PARALLEL) tests/unit tests/api

unit: $(STAMP)  ## unit tests only: no moto, no handler call (seconds)
	$(BIN)/python -m pytest $(PARALLEL) tests/unit

api: $(STAMP)  ## the handler on moto's in-process DynamoDB (no network)
	$(BIN)/python -m pytest $(PARALLEL) tests/api

browser: $(STAMP)  ## the web console in Chromium (Playwright) against the local stack, axe-core on every page
	bash scripts/browser.sh
	$(BIN)/python -m pytest tests/browser

screenshots: $(STAMP)  ## the browser tests, writing their screenshots of the console to docs/console/
	bash scripts/browser.sh
	BINVAULT_SCREENSHOTS=1 $(BIN)/python -m pytest tests/browser

integration: $(STAMP)  ## the local stack over loopback HTTP: contract fuzzing, durability, the short soak
	$(BIN)/python -m pytest $(PARALLEL) tests/integration

# The end-to-end suite against any deployment: make e2e BINVAULT_URL=<ApiUrl> BINVAULT_KEY=<master key>
e2e: $(STAMP)
	@test -n "$(BINVAULT_URL)" -a -n "$(BINVAULT_KEY)" || { echo "usage: make e2e BINVAULT_URL=https://.../v3 BINVAULT_KEY=<master key>"; exit 2; }
	BINVAULT_URL="$(BINVAULT_URL)" BINVAULT_KEY="$(BINVAULT_KEY)" $(BIN)/python -m pytest tests/e2e

lint: $(STAMP) transform  ## ruff (lint + format check), mypy on src/, import layers, the SAM transform, cfn-lint on both templates
	$(BIN)/ruff check src tests bench scripts
	$(BIN)/ruff format --check src tests bench scripts
	$(BIN)/mypy
	$(BIN)/lint-imports
	$(BIN)/cfn-lint template.yaml build/template.transformed.json

# What CloudFormation does with template.yaml at change-set time (aws-sam-translator), offline
transform: $(STAMP)
	$(BIN)/python scripts/sam_transform.py template.yaml build/template.transformed.json

format: $(STAMP)
	$(BIN)/ruff check --fix src tests bench
	$(BIN)/ruff format src tests bench

bench: $(STAMP)  ## benchmarks -> bench/results/ (JSON + PNG)
	$(BIN)/python -m bench

SOAK_ARGS ?=
soak: $(STAMP)  ## bounded soak on the local stack with injected faults (loopback only); 10 minutes: SOAK_ARGS='--soak-requests 1000000 --soak-max-seconds 600'
	$(BIN)/python -m pytest -m soak -s tests/integration/test_soak.py $(SOAK_ARGS)

openapi: $(STAMP)  ## regenerate docs/openapi.json and docs/api.md's tables from the route table (binvault_docs, not shipped)
	$(BIN)/python -m binvault_docs.openapi > docs/openapi.json
	$(BIN)/python -m binvault_docs.contract

package: $(STAMP)  ## build the python3.13/arm64 Lambda artifact without Docker, check it imports
	bash scripts/package.sh

# `sam build` (Metadata: BuildMethod: makefile) runs these with ARTIFACTS_DIR set: the
# deployed code is exactly build/package, the artifact `make package` builds and checks and
# tests/artifact/test_artifact.py rehearses. The AWS SDK is not bundled (the runtime's is used).
build-ApiFunction build-PurgeFunction build-UsageLogsFunction: $(STAMP)
	@test -n "$(ARTIFACTS_DIR)" || { echo "ARTIFACTS_DIR is not set (sam build sets it)"; exit 2; }
	bash scripts/package.sh
	mkdir -p "$(ARTIFACTS_DIR)"
	cp -R build/package/. "$(ARTIFACTS_DIR)/"

invoke: $(STAMP)  ## run the API handler on one event, as `sam local invoke -e` would
	$(BIN)/python -m binvault.local.invoke $(EVENT)

clean:
	rm -rf $(VENV) build .aws-sam .pytest_cache .mypy_cache .ruff_cache .coverage
