# bruno.ops — every target installs what it needs (idempotently) before it runs.
#   make demo   bring the lab up and run the main job against it
#   make test   the whole test suite (what CI runs)
SHELL := /bin/bash
.SHELLFLAGS := -eu -o pipefail -c
.DEFAULT_GOAL := help

VENV      ?= .venv
BIN       := $(VENV)/bin
export PATH := $(CURDIR)/$(BIN):$(PATH)
export ANSIBLE_CONFIG := $(CURDIR)/ansible.cfg
DEBS      := redis-server prometheus openssl ca-certificates git shellcheck
PYTEST    ?= $(BIN)/python -m pytest
PYTEST_ARGS ?=

.PHONY: help env debs venv collection tools lint ruff ansible-lint molecule-syntax sanity unit integration test molecule demo \
        lab-up lab-down lab-status lab-reset changelog clean

help:
	@echo "make demo          bring the lab up, apply DEMO_SCENARIO (memory-leak) and run playbooks/diagnose.yml"
	@echo "make test          lint, ansible-test sanity, unit and integration tests"
	@echo "make env           install the pinned venv, Debian packages and Go-built tools only"
	@echo "make lab-up | lab-down | lab-status"

## Environment ---------------------------------------------------------------------------------------
env: debs venv collection tools

debs:
	@scripts/ensure-debs.sh $(DEBS)

venv:
	@scripts/ensure-venv.sh $(VENV)

collection:
	@scripts/link-collection.sh

# Go-built servers (cached outside the repo, keyed by version): FerretDB for the tests, Kubernetes for the lab.
tools:
	@PYTHONPATH=lab $(BIN)/python -c 'from labctl import services; services.ferretdb_binary()'
	@lab/k8s/build.sh >/dev/null

## Quality gates -------------------------------------------------------------------------------------
lint: ruff ansible-lint molecule-syntax

ruff: venv
	$(BIN)/ruff check .

ansible-lint: env
	$(BIN)/ansible-lint --profile production

# The kind scenario cannot run here (no Docker): its playbooks are syntax-checked instead.
molecule-syntax: env
	PATH="$(CURDIR)/.venv/bin:$$PATH" $(BIN)/molecule syntax -s kind

sanity: env
	scripts/sanity.sh

unit: env
	$(PYTEST) tests/unit $(PYTEST_ARGS)

integration: env
	$(PYTEST) tests/integration $(PYTEST_ARGS)

# The lab comes up for the integration tests (and goes down after, unless it was already running).
test: env lint sanity
	PYTEST_ARGS="$(PYTEST_ARGS)" scripts/run-tests.sh

molecule: env
	source $(BIN)/activate && molecule test -s lab

## Lab and demo --------------------------------------------------------------------------------------
lab-up: env
	lab/lab up

lab-down:
	lab/lab down

lab-status:
	lab/lab status

lab-reset: env
	lab/lab reset

# The main job on the lab: a scenario (DEMO_SCENARIO, default memory-leak), then diagnose.yml.
DEMO_SCENARIO ?= memory-leak
demo: lab-up
	lab/lab scenario $(DEMO_SCENARIO)
	$(BIN)/ansible-playbook playbooks/diagnose.yml
	@echo; echo "reports: $(CURDIR)/reports/latest/localhost/diagnosis.{json,md,html} (reports/<run>/<target>/)"; echo
	@sed -n '1,12p' reports/latest/localhost/diagnosis.md

changelog: venv
	$(BIN)/antsibull-changelog lint

clean:
	rm -rf .collections build reports tests/output .pytest_cache .ruff_cache
