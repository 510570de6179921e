# portcullis: top-level build. Each component adds its own targets in mk/*.mk
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
	@echo "make package      write the installable packages to dist/ (docs/packaging.md)"

test: deps $(TEST_TARGETS)
	@echo "all test suites passed"

# Runs every language's demo on examples/demo-policy.json and checks that they all print the
# same decision rows (the lines that start with two spaces) as the first one. Each target says
# what it is doing first (the first run builds every binding, which takes minutes); build and
# package-manager chatter (npm engine warnings, compiler notes) goes to a log, shown only when
# the target fails, so the table stays clean.
demo:
	@ref=""; log=$$(mktemp); trap 'rm -f "$$log"' EXIT; for t in $(DEMO_TARGETS); do \
	  echo "-- $$t: building (first run only) and running ..." >&2; \
	  out=$$($(MAKE) -s --no-print-directory $$t 2>"$$log") || { cat "$$log" >&2; echo "$$t failed"; exit 1; }; \
	  echo "$$out" | grep -E '^(==|  )'; rows=$$(echo "$$out" | grep '^  '); \
	  if [ -z "$$ref" ]; then ref="$$rows"; \
	  elif [ "$$rows" != "$$ref" ]; then echo "$$t printed different decisions"; exit 1; fi; \
	done; echo "== every language gave the same decisions =="

conformance: $(CONFORMANCE_TARGETS)

bench: $(BENCH_TARGETS)
