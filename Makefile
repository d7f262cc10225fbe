# The Makefile is the user interface: `make help` lists the targets.
# Every target that runs Python first brings .venv up to date with requirements.txt.

PYTHON ?= python3
VENV := .venv
STAMP := $(VENV)/.installed
PY := $(VENV)/bin/python
export TF_CPP_MIN_LOG_LEVEL ?= 2
export PYTHONUNBUFFERED := 1
# Configs that `make reproduce` runs at once (auto: one per CPU core; each gets its share of the cores).
JOBS ?= auto

.PHONY: help venv test list reproduce long report notebook notebook-open bench clean-venv

help: ## List the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | sed -E 's/:.*## /\t/' | expand -t 14

$(STAMP): requirements.txt pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(VENV)/bin/pip install --quiet --disable-pip-version-check -r requirements.txt
	$(VENV)/bin/pip install --quiet --disable-pip-version-check --no-deps -e .
	touch $(STAMP)

venv: $(STAMP) ## Create or update .venv from requirements.txt (the other targets do this themselves)

test: $(STAMP) ## Lint and format check (ruff), then the test suite (CPU, a few minutes)
	$(VENV)/bin/ruff check experiments nalu_tf tests
	$(VENV)/bin/ruff format --check experiments nalu_tf tests
	$(PY) -m pytest -q

list: $(STAMP) ## One line per configs/*.yaml: what it reproduces, profiles, size, time of its results
	$(PY) -m experiments list

reproduce: $(STAMP) ## Run every configs/*.yaml with the default profile, then the report and the notebook (resumable; JOBS=auto configs at once)
	$(PY) -m experiments reproduce --jobs $(JOBS)
	$(PY) notebooks/execute.py

long: $(STAMP) ## The long profile of static_arithmetic_madsen (3e6 steps; 70 minutes here) into results/long/ (resumable)
	$(PY) -m experiments run configs/static_arithmetic_madsen.yaml --profile long
	$(PY) -m experiments report --results results/long

report: $(STAMP) ## Rebuild every table and figure in results/ from the CSVs alone
	$(PY) -m experiments report

notebook: $(STAMP) ## Execute notebooks/explore_results.ipynb over results/ and save it with its outputs
	$(PY) notebooks/execute.py

# JupyterLab refuses to run as root unless told; a container or a cloud machine often is root.
notebook-open: $(STAMP) ## Open notebooks/explore_results.ipynb in JupyterLab (installed into .venv on first use)
	$(VENV)/bin/pip install --quiet --disable-pip-version-check -r requirements-notebook.txt
	$(VENV)/bin/jupyter lab $(if $(filter 0,$(shell id -u)),--allow-root) notebooks/explore_results.ipynb

bench: $(STAMP) ## Seed-steps per second: vectorised runner (100 seeds) against per-seed model.fit
	$(PY) -m experiments bench

clean-venv: ## Remove .venv
	rm -rf $(VENV)
