# acd: two commands on a fresh machine: `make run` and `make test`.
PY      ?= python3
VENV    := .venv
BIN     := $(VENV)/bin
STAMP   := $(VENV)/.installed
SHARED  := ../shared
PYTEST  := $(BIN)/pytest

.PHONY: run test test-fast test-asterisk bench bench-asterisk soak lint mypy format services install clean

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PY) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -e '.[dev]'
	touch $(STAMP)

install: $(STAMP)

services:
	@./config/setup-services.sh

run: install services
	$(BIN)/acd run

# Everything, including the real-Asterisk tier when the kit is here and we are root.
test: install services
	$(PYTEST) -q -p no:cacheprovider $(PYTEST_ARGS)

test-fast: install services
	$(PYTEST) -q -m "not asterisk" $(PYTEST_ARGS)

test-asterisk: install services
	ACD_REQUIRE_ASTERISK=1 $(PYTEST) -q -m asterisk tests/asterisk $(PYTEST_ARGS)

soak: install services
	ACD_PROPERTY_EXAMPLES=100000 $(PYTEST) -q tests/routing -k property $(PYTEST_ARGS)

bench: install services
	$(BIN)/python -m bench

bench-asterisk: install services
	$(BIN)/python -m bench.asterisk

lint: install
	$(BIN)/ruff check acd tests bench

mypy: install
	$(BIN)/mypy acd

format: install
	$(BIN)/ruff format acd tests bench

clean:
	rm -rf $(VENV) .mypy_cache .ruff_cache .pytest_cache .hypothesis var
