# Two entry points for a fresh machine: `make demo` and `make test`.
# Python 3.11 is required (TensorFlow 2.21 and the pinned packages); point make at it with
# `make PYTHON=python3.11` when `python3` is another version.
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
CLI := $(VENV)/bin/lenet-edge
DEMO ?= runs/demo
ARGS ?=

.PHONY: demo test install install-test

# A venv whose creation failed is removed, so that the next make starts over instead of using it.
$(PY):
	@$(PYTHON) -c 'import sys; sys.exit(sys.version_info[:2] != (3, 11))' || \
		{ echo "lenet-edge needs Python 3.11; $(PYTHON) is missing or another version: run make PYTHON=python3.11"; exit 1; }
	$(PYTHON) -m venv $(VENV) || { rm -rf $(VENV); exit 1; }
	$(PY) -m pip install -q --upgrade pip || { rm -rf $(VENV); exit 1; }

$(VENV)/.installed: pyproject.toml | $(PY)
	$(PY) -m pip install -q -e .
	touch $@

$(VENV)/.installed-test: pyproject.toml | $(PY)
	$(PY) -m pip install -q -e '.[test]'
	touch $@ $(VENV)/.installed

install: $(VENV)/.installed
install-test: $(VENV)/.installed-test

# the whole pipeline with its defaults (15 minutes measured on 2 shared cores; ARGS=--quick: under 2);
# rerunning resumes at the stage that stopped; DEMO=folder for a second demo with other ARGS
demo: $(VENV)/.installed
	sh scripts/ensure_toolchain.sh
	$(CLI) pipeline --model lenet5 --device nrf52840 --sparsity 0.9 --out $(DEMO) $(ARGS)

# one -q (pyproject's addopts): pytest's closing "N passed" line stays. TEST_WORKERS processes
# (pytest-xdist), a test file to each (tests/conftest.py starts the slowest files first)
TEST_WORKERS ?= 2
test: $(VENV)/.installed-test
	sh scripts/ensure_toolchain.sh --browser
	$(PY) -m pytest -n $(TEST_WORKERS) --dist loadfile --durations=15 tests
