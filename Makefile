# Two entry points for a fresh machine: `make demo` and `make test`.
VENV ?= .venv
PY := $(VENV)/bin/python
CLI := $(VENV)/bin/lenet-edge
RUN ?= runs/lenet5

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

demo: $(VENV)/.installed
	$(CLI) models
	@if [ -f $(RUN)/model.keras ]; then echo "reusing $(RUN)"; \
	 elif [ -f $(RUN)/config.json ]; then $(CLI) train --model lenet5 --out $(RUN) --resume; \
	 else $(CLI) train --model lenet5 --epochs 20 --batch-size 32 --lr-decay 0.85 --weight-decay 0.05 --out $(RUN); fi
	$(CLI) evaluate $(RUN)

test: $(VENV)/.installed-test
	sh scripts/ensure_toolchain.sh
	$(PY) -m pytest -q --durations=15 tests
