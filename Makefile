# Two entry points (see README): `make chat` and `make test`. Everything else is set-up.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
# Built for the CPU it runs on (pip builds llama-cpp-python from source on the user's machine anyway):
# GGML_NATIVE=ON reads prompts ~1.7x faster than AVX2-only flags on an AVX-512/VNNI CPU. Override CMAKE_ARGS to change.
export CMAKE_ARGS ?= -DLLAVA_BUILD=OFF -DGGML_NATIVE=ON
export HF_HUB_OFFLINE := 1
export ANONYMIZED_TELEMETRY := False
export GRADIO_ANALYTICS_ENABLED := False

.PHONY: install chat test unit evals browser bench clean-store

$(VENV)/.installed: pyproject.toml constraints.txt
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --upgrade 'pip>=24' >/dev/null
	$(PY) -m pip install -c constraints.txt -e '.[test]'
	touch $@

install: $(VENV)/.installed

# Debian's Chromium for the browser tests (Playwright drives /usr/bin/chromium; it never downloads a browser).
browser:
	@if [ ! -x /usr/bin/chromium ]; then \
	  SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
	  $$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq chromium chromium-driver >/dev/null; \
	fi

chat: install
	$(VENV)/bin/rag chat

test: install browser
	$(PY) -m pytest tests evals

unit: install
	$(PY) -m pytest tests -m "not model and not browser"

evals: install
	$(PY) -m pytest evals

$(VENV)/.bench-installed: $(VENV)/.installed pyproject.toml constraints.txt
	$(PY) -m pip install -c constraints.txt -e '.[test,bench]'
	touch $@

# Figures, not pass/fail: writes benchmarks/results.md, results.json and PNG plots.
# Subsets: make bench BENCH_ARGS='--only ingest,retrieval --scales 1000,10000'
bench: $(VENV)/.bench-installed
	$(PY) benchmarks/run.py $(BENCH_ARGS)

clean-store:
	rm -rf data/store
