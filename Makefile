# Two entry points for a fresh machine: `make demo` and `make test`.
VENV ?= .venv
PY := $(VENV)/bin/python
CLI := $(VENV)/bin/lenet-edge
DEMO ?= runs/demo
ARGS ?=

.PHONY: demo test install install-test

$(PY):
	python3 -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip

$(VENV)/.installed: pyproject.toml | $(PY)
	$(PY) -m pip install -q -e .
	touch $@

$(VENV)/.installed-test: pyproject.toml | $(PY)
	$(PY) -m pip install -q -e '.[test]'
	touch $@ $(VENV)/.installed

install: $(VENV)/.installed
install-test: $(VENV)/.installed-test

# the whole pipeline with its defaults (15 minutes measured on 2 shared cores; ARGS=--quick: under 2);
# rerunning resumes at the stage that stopped
demo: $(VENV)/.installed
	sh scripts/ensure_toolchain.sh
	$(CLI) pipeline --model lenet5 --device nrf52840 --sparsity 0.9 --out $(DEMO) $(ARGS)

test: $(VENV)/.installed-test
	sh scripts/ensure_toolchain.sh
	$(PY) -m pytest -q --durations=15 tests
