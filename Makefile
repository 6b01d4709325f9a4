# Two entry points (see README): `make chat` and `make test`. Everything else is set-up.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
# Built for the CPU it runs on (pip builds llama-cpp-python from source on the user's machine anyway):
# GGML_NATIVE=ON reads prompts ~1.7x faster than AVX2-only flags on an AVX-512/VNNI CPU. Override CMAKE_ARGS to change.
export CMAKE_ARGS ?= -DLLAVA_BUILD=OFF -DGGML_NATIVE=ON
# ...but without ggml's AMX kernels: on an AMX CPU (Intel Sapphire Rapids and later) a native build
# repacks the Q4_K_M weights into an AMX buffer and segfaults in the first decode (seen here on
# 2026-12-02, Xeon VM; llama.cpp issue #20824, ollama #17205). The explicit -mno-* flags win over
# -march=native whatever their order; on CPUs without AMX they change nothing.
NO_AMX := -mno-amx-tile -mno-amx-int8 -mno-amx-bf16
export CFLAGS ?= $(NO_AMX)
export CXXFLAGS ?= $(NO_AMX)
# pip's wheel cache does not key on CMAKE_ARGS/CFLAGS, so a wheel built with other flags (or for
# another CPU) would be reused: llama-cpp-python's wheel is cached here instead, keyed by the build
# flags and this CPU's feature flags. The version is pinned, as the key holds the spec: with a range,
# the first version resolved would stay cached under the same key after a newer one was released.
LLAMA_SPEC := llama-cpp-python==0.3.36
LLAMA_KEY := $(shell (echo '$(LLAMA_SPEC) $(CMAKE_ARGS) $(CFLAGS) $(CXXFLAGS)'; grep -m1 '^flags' /proc/cpuinfo 2>/dev/null) | sha256sum | cut -c1-16)
LLAMA_WHEELS := $(or $(RAG_CACHE_DIR),$(HOME)/.cache)/rag-briefing/wheels/llama-$(LLAMA_KEY)
export HF_HUB_OFFLINE := 1
export ANONYMIZED_TELEMETRY := False
export GRADIO_ANALYTICS_ENABLED := False

.PHONY: install chat test unit evals browser bench clean-store

$(VENV)/.installed: pyproject.toml constraints.txt Makefile
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --upgrade 'pip>=24' >/dev/null
	ls $(LLAMA_WHEELS)/llama_cpp_python-*.whl >/dev/null 2>&1 || \
	  $(PY) -m pip wheel --no-cache-dir --no-deps -c constraints.txt -w $(LLAMA_WHEELS) '$(LLAMA_SPEC)'
	$(PY) -m pip install --force-reinstall --no-deps $(LLAMA_WHEELS)/llama_cpp_python-*.whl
	$(PY) -m pip install -c constraints.txt --find-links $(LLAMA_WHEELS) -e '.[test]'
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
