# Every target installs what it needs: a venv under the repo from the pinned lock files.
SHELL := /bin/bash
PYTHON ?= python3.11
VENV := .venv
PY := $(VENV)/bin/python
CHECKOV_VENV := .venv-checkov
export JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION := 20
export JSII_SILENCE_WARNING_UNTESTED_NODE_VERSION := 1
export PYTHONDONTWRITEBYTECODE :=

.PHONY: run test lint synth deploy bench demo fuzz fmt clean install

$(VENV)/.installed: requirements/dev.lock requirements/runtime.txt pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --disable-pip-version-check -r requirements/dev.lock
	$(PY) -m pip install --quiet --disable-pip-version-check --no-deps -e .
	touch $@

# checkov pins its own boto3 and conflicts with ours: it lives in a venv of its own.
$(CHECKOV_VENV)/.installed: requirements/checkov.lock
	$(PYTHON) -m venv $(CHECKOV_VENV)
	$(CHECKOV_VENV)/bin/pip install --quiet --disable-pip-version-check -r requirements/checkov.lock
	touch $@

install: $(VENV)/.installed $(CHECKOV_VENV)/.installed

run: $(VENV)/.installed
	$(VENV)/bin/stackpilot local serve

# CI runs this: the layering contracts and types are part of "passes".
test: install lint
	$(PY) -m pytest -n 2 --dist loadgroup

lint: $(VENV)/.installed
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/mypy
	$(VENV)/bin/lint-imports

fmt: $(VENV)/.installed
	$(VENV)/bin/ruff format .
	$(VENV)/bin/ruff check --fix .

synth: install
	$(PY) -m infra.app --outdir cdk.out --check

deploy: install
	$(PY) -m infra.layer
	npm ci --no-audit --no-fund
	npx cdk deploy --all --require-approval broadening

bench: $(VENV)/.installed
	$(PY) -m tests.bench

demo: $(VENV)/.installed
	$(VENV)/bin/stackpilot local demo

fuzz: install
	$(PY) -m pytest tests/contract/test_api_fuzz.py --fuzz-deep -n 0

clean:
	rm -rf $(VENV) $(CHECKOV_VENV) cdk.out .stackpilot .pytest_cache .mypy_cache .ruff_cache layers/common/build
