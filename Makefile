# One entry point for people and CI. `make demo` runs the local stack; `make test` runs every check.
SHELL := /bin/bash
.DEFAULT_GOAL := help

PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
SAM_VENV := .tools/sam
SAM := $(SAM_VENV)/bin/sam
# checkov pins its own versions of libraries the dev env also uses, so it lives in its own venv, like SAM.
CHECKOV_VENV := .tools/checkov
CHECKOV := $(CHECKOV_VENV)/bin/checkov
export SAM_CLI_TELEMETRY := 0
# template.yaml declares one set of resources per additional Tableau site with Fn::ForEach (AWS::LanguageExtensions).
export SAM_CLI_ENABLE_LANGUAGE_EXTENSIONS := 1
# `sam build` needs the runtime's python3.13 on PATH; pyenv machines expose it this way.
export PYENV_VERSION ?= 3.11.7:3.12.1:3.13.0

.PHONY: help install lint typecheck template-lint security-scan unit cli integration e2e build-check test build deploy demo rotate bench \
	security-figures clean

help:
	@echo "make demo       run the whole flow locally (embedded AWS, local API, Tableau emulator, demo page)"
	@echo "make rotate     rotate the running local stack's connected-app secret through all four steps"
	@echo "make test       lint, type-check, template checks, security scans, build check and every test"
	@echo "make install    the dev venv (.venv), SAM CLI and checkov (.tools/)"
	@echo "make lint       ruff check and ruff format --check"
	@echo "make typecheck  mypy --strict"
	@echo "make template-lint  cfn-lint and sam validate --lint on template.yaml"
	@echo "make security-scan  bandit, pip-audit (layer + dev env) and checkov on template.yaml"
	@echo "make unit       fast unit tests (no AWS emulation, no network beyond loopback sockets)"
	@echo "make cli        the operator CLI's tests (moto in-process)"
	@echo "make integration  the broker and rotation handlers against moto server"
	@echo "make e2e        end-to-end tests against the local stack"
	@echo "make build-check  sam build into .aws-sam/check, exactly as a deploy builds"
	@echo "make build      sam build (needs python3.13 on PATH)"
	@echo "make deploy     sam deploy --guided"
	@echo "make bench      token-path benchmark"
	@echo "make security-figures  run the security suites and rewrite the figures in SECURITY.md"
	@echo "make clean      remove build output and tool caches"

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip

$(VENV)/.installed: pyproject.toml layers/shared/requirements.txt | $(BIN)/python
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $@

$(SAM):
	$(PYTHON) -m venv $(SAM_VENV)
	$(SAM_VENV)/bin/pip install --quiet --upgrade pip
	$(SAM_VENV)/bin/pip install --quiet 'aws-sam-cli>=1.148'

$(CHECKOV):
	$(PYTHON) -m venv $(CHECKOV_VENV)
	$(CHECKOV_VENV)/bin/pip install --quiet --upgrade pip
	$(CHECKOV_VENV)/bin/pip install --quiet 'checkov>=3.2,<4'

install: $(VENV)/.installed $(SAM) $(CHECKOV)

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

typecheck: install
	$(BIN)/mypy

template-lint: install
	$(BIN)/cfn-lint template.yaml
	$(SAM) validate --lint --template template.yaml --region us-east-1

# See README "Security scans". pip-audit fails only on a known vulnerability reported by a database that answered.
security-scan: install
	$(BIN)/bandit -c pyproject.toml -q -r layers functions tools local
	$(BIN)/python .ci/audit_dependencies.py lambda-layer -- -r layers/shared/requirements.txt
	$(BIN)/python .ci/audit_dependencies.py dev-env -- --skip-editable
	BC_SKIP_MAPPING=TRUE $(CHECKOV) -f template.yaml --framework cloudformation --compact --quiet --skip-download

unit: install
	$(BIN)/pytest tests/unit

cli: install
	$(BIN)/pytest tests/cli

integration: install
	$(BIN)/pytest tests/integration

# The Lambda artefacts must build exactly as `sam build` does for a deploy (no container).
build-check: install
	$(SAM) build --build-dir .aws-sam/check --cache-dir .aws-sam/cache --cached

test: lint typecheck template-lint security-scan build-check
	$(BIN)/pytest

build: install
	$(SAM) build

deploy: build
	$(SAM) deploy --guided

# Everything on 127.0.0.1, no AWS account, no Docker: see README "Quick start".
demo: $(VENV)/.installed
	$(BIN)/python -m local_stack $(DEMO_ARGS)

# One rotation of the running local stack's connected-app secret (run `make demo` in another shell first).
rotate: $(VENV)/.installed
	$(BIN)/python -m local_stack.rotate $(ROTATE_ARGS)

e2e: install
	$(BIN)/pytest tests/e2e

bench: $(VENV)/.installed
	$(BIN)/python bench/token_path.py

# Attack, differential, property, fault and load suites, each with a JUnit report; then SECURITY.md's figures.
security-figures: $(VENV)/.installed
	$(BIN)/python -m tools.security_figures $(FIGURES_ARGS)

clean:
	rm -rf .aws-sam .local .pytest_cache .mypy_cache .ruff_cache
