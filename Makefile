# acd: two commands on a fresh machine: `make run` and `make test`.
PY      ?= python3
VENV    := .venv
BIN     := $(VENV)/bin
STAMP   := $(VENV)/.installed
SHARED  := ../shared
PYTEST  := $(BIN)/pytest

.PHONY: run test test-fast test-asterisk bench bench-asterisk bench-complete soak lint mypy format services install clean

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
# That tier (about 11 minutes, mostly waiting on calls and timers) runs in a pytest
# of its own beside the rest (about 10 minutes): the two overlap instead of adding
# up. Its report is printed after the other's; the target fails if either fails.
test: install services
	@log=$$(mktemp); \
	$(PYTEST) -q -p no:cacheprovider -m asterisk tests/asterisk $(PYTEST_ARGS) >$$log 2>&1 & \
	tier=$$!; \
	$(PYTEST) -q -p no:cacheprovider -m "not asterisk" $(PYTEST_ARGS); rest=$$?; \
	wait $$tier; real=$$?; \
	echo "==== the real-Asterisk tier (tests/asterisk, its own pytest) ===="; \
	cat $$log; rm -f $$log; \
	[ $$real -eq 5 ] && real=0; \
	echo "make test: rest exit $$rest, real-Asterisk tier exit $$real"; \
	[ $$rest -eq 0 ] && [ $$real -eq 0 ]

test-fast: install services
	$(PYTEST) -q -m "not asterisk" $(PYTEST_ARGS)

test-asterisk: install services
	ACD_REQUIRE_ASTERISK=1 $(PYTEST) -q -m asterisk tests/asterisk $(PYTEST_ARGS)

# The property tests at full length (`make test` runs fewer examples to stay in budget).
soak: export HYPOTHESIS_PROFILE = soak
soak: install services
	ACD_PROPERTY_EXAMPLES=100000 $(PYTEST) -q tests/routing -k property $(PYTEST_ARGS)
	ACD_PROP_EXAMPLES=20000 $(PYTEST) -q --timeout=0 tests/calls -k property $(PYTEST_ARGS)
	ACD_GAP_EXAMPLES=60 $(PYTEST) -q tests/e2e/test_gap_property.py $(PYTEST_ARGS)

bench: install services
	$(BIN)/python -m bench

bench-asterisk: install services
	$(BIN)/python -m bench.asterisk

# One complete run on an idle machine (~40 min; BENCH_ARGS=--quick checks the tool in a few).
bench-complete: install services
	$(BIN)/python -m bench.complete $(BENCH_ARGS)

lint: install
	$(BIN)/ruff check acd tests bench

mypy: install
	$(BIN)/mypy acd

format: install
	$(BIN)/ruff format acd tests bench

clean:
	rm -rf $(VENV) .mypy_cache .ruff_cache .pytest_cache .hypothesis var
