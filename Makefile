# eSeal: `make run` starts the all-in-one server with sample data,
# `make test` runs the whole suite (CI runs it through .ci/run).

PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
HOST ?= 127.0.0.1
PORT ?= 8000
# pytest-xdist workers for `make test`: one a core (`TEST_WORKERS=0` runs in one process).
TEST_WORKERS ?= auto
# Options for a bench script: `make bench-load ARGS="--seconds 20"`.
ARGS ?=
export ESEAL_HOME ?= $(CURDIR)/var
export ESEAL_PUBLIC_URL ?= http://$(HOST):$(PORT)

.PHONY: run test lint bench bench-issue bench-verify bench-proof bench-qr bench-load clean venv

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

$(VENV)/.installed: $(BIN)/python pyproject.toml
	$(BIN)/pip install --quiet -e '.[test]'
	touch $@

venv: $(VENV)/.installed

run: venv
	bash .ci/pdf.sh || echo "make run: no CJK font installed; proofs cannot be printed" >&2
	ESEAL_DEV=1 $(BIN)/eseal dev-setup
	ESEAL_DEV=1 $(BIN)/eseal serve --host $(HOST) --port $(PORT)

test: venv
	bash .ci/softhsm.sh >/dev/null
	bash .ci/chromium.sh >/dev/null
	bash .ci/pdf.sh --test
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy credential keys schemas issuer wallet verifier eseal web
	$(BIN)/python -m pytest -q -p no:cacheprovider -n $(TEST_WORKERS)

bench: venv
	$(BIN)/python bench/qr_size.py $(ARGS)

bench-issue: venv
	$(BIN)/python bench/issue.py $(ARGS)

bench-verify: venv
	$(BIN)/python bench/verify.py $(ARGS)

bench-proof: venv
	$(BIN)/python bench/proof.py $(ARGS)

bench-qr: venv
	$(BIN)/python bench/qr_render.py $(ARGS)

bench-load: venv
	$(BIN)/python bench/load.py $(ARGS)

clean:
	rm -rf $(VENV) var .pytest_cache
