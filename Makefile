# agentgate: top-level build. Each component adds its own targets in mk/*.mk
# and appends them to TEST_TARGETS / DEMO_TARGETS / CONFORMANCE_TARGETS.
SHELL := /bin/bash
.DEFAULT_GOAL := help

ROOT := $(CURDIR)
CARGO ?= cargo
TEST_TARGETS :=
DEMO_TARGETS :=
CONFORMANCE_TARGETS :=
BENCH_TARGETS :=

include $(sort $(wildcard mk/*.mk))

.PHONY: help test demo conformance bench
help:
	@echo "make demo         evaluate the example policy in every language"
	@echo "make test         install what is missing and run every test suite"
	@echo "make conformance  replay tests/conformance in every language"
	@echo "make bench        run the benchmark harnesses"

test: $(TEST_TARGETS)
	@echo "all test suites passed"

demo: $(DEMO_TARGETS)

conformance: $(CONFORMANCE_TARGETS)

bench: $(BENCH_TARGETS)
