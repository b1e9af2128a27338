# Two commands (see README): `make run` and `make test`. Both are idempotent: the venv is
# rebuilt only when pyproject.toml changes.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.khforecast-installed
ARGS   ?=

.PHONY: setup run test test-slow benchmarks clean-venv lab

setup: $(STAMP)

$(STAMP): pyproject.toml
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "khforecast needs Python >= 3.11, found " + sys.version.split()[0])'
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev,lab]'
	$(BIN)/python -m ipykernel install --prefix $(abspath $(VENV)) --name python3 --display-name "Python 3 (khforecast)" >/dev/null
	@touch $(STAMP)

## The main job on the bundled data.
run: setup
	$(BIN)/khforecast run $(ARGS)

## JupyterLab on the notebooks. Jupyter refuses to start as root unless told to: the flag is
## added only when make runs as root (containers, CI), never for a normal user.
LAB_ROOT := $(if $(filter 0,$(shell id -u)),--allow-root,)
lab: setup
	$(BIN)/jupyter lab notebooks/ $(LAB_ROOT) $(ARGS)

## The test suite (what .ci/run calls).
test: setup
	$(BIN)/python -m pytest -q -n 2 $(ARGS)

## Slow calibration / benchmark-style suites.
test-slow: setup
	$(BIN)/python -m pytest -q -m slow $(ARGS)

clean-venv:
	rm -rf $(VENV)
