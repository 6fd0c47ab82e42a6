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
# Building and running the built functions (`make shipped`, `make invoke`) need python3.13: it compiles the bytecode
# that ships (layers/shared/Makefile; the wheels come from the dev venv's pip). pyenv machines expose it this way.
export PYENV_VERSION ?= 3.11.7:3.12.1:3.13.0
export LAYER_PIP := $(CURDIR)/$(BIN)/python -m pip

.PHONY: help install lint typecheck template-lint security-scan unit cli integration e2e build-check shipped invoke test build \
	deploy deploy-guided env-file demo rotate bench security-figures clean js-test js-pack

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
	@echo "make js-test    the browser package: node --test, npm pack + a TypeScript consumer, the React example"
	@echo "make js-pack    the browser package's tarball in dist/"
	@echo "make build-check  sam build into .aws-sam/check, exactly as a deploy builds"
	@echo "make build      sam build (any Python 3.11+; the layer is built for python3.13 on arm64)"
	@echo "make shipped    run every sample event through the built functions (python3.13 + awslambdaric)"
	@echo "make invoke FUNCTION=BrokerFunction EVENT=events/token_broker/http_api_valid.json"
	@echo "                a Docker-free sam local invoke of the built function against \`make demo\`'s stack"
	@echo "make deploy     sam deploy with samconfig.toml's ENV environment (default; ENV=production), no prompts"
	@echo "make deploy-guided  first deploy: sam deploy --guided, saves the answers to samconfig.toml's ENV"
	@echo "make env-file STACK=name  events/env.json for sam local invoke --env-vars, from the stack's outputs"
	@echo "make bench      benchmark (warm path vs naive baseline and floor, AWS calls, cold start, sizes,"
	@echo "                local API throughput) -> BENCHMARKS.md; BENCH_ARGS=--quick for small counts"
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

# The host-architecture twin of the build, run through AWS's runtime interface client (see README "What ships").
shipped: install
	$(BIN)/pytest tests/shipped

FUNCTION ?= BrokerFunction
EVENT ?= events/token_broker/http_api_valid.json
invoke: $(VENV)/.installed
	$(BIN)/python -m local_stack.invoke $(FUNCTION) $(EVENT)

test: js-test lint typecheck template-lint security-scan build-check
	$(BIN)/pytest

# The browser package (clients/browser, README "The SPA side"). npm ci needs nothing but the npm registry.
CLIENT := clients/browser
NPM_CI := npm ci --no-audit --no-fund --ignore-scripts
js-test:
	cd $(CLIENT) && $(NPM_CI) && npm test
	cd $(CLIENT)/examples/react && $(NPM_CI) && npm run typecheck

js-pack:
	mkdir -p dist && cd $(CLIENT) && $(NPM_CI) && npm pack --pack-destination $(CURDIR)/dist

build: install
	$(SAM) build

# samconfig.toml holds one environment per deployment (README "Deploy"). `deploy` refuses while that environment
# still has a placeholder parameter; `deploy-guided` asks for everything and saves the answers into it.
ENV ?= default
deploy: build
	$(BIN)/python -m tools.samconfig_check $(ENV)
	$(SAM) deploy --config-env $(ENV)

deploy-guided: build
	$(SAM) deploy --guided --config-env $(ENV)

# The env file of `sam local invoke --env-vars` for a deployed stack: every variable as the stack resolved it.
ENV_FILE ?= events/env.json
env-file: $(VENV)/.installed
	@test -n "$(STACK)" || { echo "usage: make env-file STACK=<stack name> [REGION=..] [PROFILE=..] [ENV_FILE=..]"; exit 2; }
	$(BIN)/python -m tools.env_from_stack --stack-name $(STACK) $(if $(REGION),--region $(REGION)) \
		$(if $(PROFILE),--profile $(PROFILE)) --output $(ENV_FILE)

# Everything on 127.0.0.1, no AWS account, no Docker: see README "Quick start".
demo: $(VENV)/.installed
	$(BIN)/python -m local_stack $(DEMO_ARGS)

# One rotation of the running local stack's connected-app secret (run `make demo` in another shell first).
rotate: $(VENV)/.installed
	$(BIN)/python -m local_stack.rotate $(ROTATE_ARGS)

e2e: install
	$(BIN)/pytest tests/e2e

# Several minutes: the host build (sam build for this machine, cached after the first run), then every measurement
# against a loopback AWS stub with modelled latency. See BENCHMARKS.md and bench/__main__.py.
BENCH_SOURCES := layers/shared:functions/token_broker:functions/secret_rotation:tools:local:.
bench: $(VENV)/.installed $(SAM)
	SAM=$(abspath $(SAM)) PYTHONPATH=$(BENCH_SOURCES) $(BIN)/python -m bench $(BENCH_ARGS)

# Attack, differential, property, fault and load suites, each with a JUnit report; then SECURITY.md's figures.
security-figures: $(VENV)/.installed
	$(BIN)/python -m tools.security_figures $(FIGURES_ARGS)

clean:
	rm -rf .aws-sam .local .pytest_cache .mypy_cache .ruff_cache
